"""Function tools: schemas from hints and docstrings, strict validation, failures as results."""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import threading
from typing import Literal, NotRequired, TypedDict

import pytest

from gptoss_agent.tools.base import ToolCall, ToolContext
from gptoss_agent.tools.errors import ToolRegistrationError
from gptoss_agent.tools.function import FunctionTool, function_tool
from gptoss_agent.tools.json_args import ArgumentsError, parse_arguments
from gptoss_agent.tools.registry import Resolution, ToolRegistry, Unresolved


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclasses.dataclass
class Point:
    x: float
    y: float = 0.0


@function_tool
def describe(point: Point, color: Color = Color.RED, tags: list[str] | None = None) -> str:
    """Describe a point.

    Args:
        point: Where it is.
        color: Its colour.
        tags: Labels to attach.
    """
    assert isinstance(point, Point) and isinstance(color, Color)
    return f"{color.value} point at ({point.x}, {point.y}) tags={tags}"


def test_schema_comes_from_hints_and_docstring() -> None:
    schema = describe.parameters
    assert describe.description == "Describe a point."
    assert schema["required"] == ["point"]
    assert schema["properties"]["point"] == {"$ref": "#/$defs/Point", "description": "Where it is."}
    assert schema["$defs"]["Point"]["properties"]["y"] == {"type": "number", "default": 0.0}
    assert schema["$defs"]["Color"] == {"enum": ["red", "blue"]}
    assert schema["properties"]["color"]["default"] == "red"
    assert schema["properties"]["tags"]["anyOf"] == [
        {"type": "array", "items": {"type": "string"}}, {"type": "null"}]


async def test_arguments_are_converted_to_annotated_types() -> None:
    result = await describe.invoke('{"point": {"x": 1, "y": 2}, "color": "blue", "tags": ["a"]}')
    assert not result.is_error
    assert result.text == "blue point at (1.0, 2.0) tags=['a']"


@pytest.mark.parametrize(
    ("arguments", "message", "kind"),
    [
        ('{"point": {"x": NaN}}', "NaN is not valid JSON", "invalid_json"),
        ('{"point": {"x": 1}, "point": {"x": 2}}', "duplicate key 'point'", "invalid_json"),
        ('[{"x": 1}]', "must be a JSON object, not an array", "invalid_json"),
        ('{"point": {"x": "one"}}', "arguments.point.x: 'one' is not of type 'number'",
         "schema_violation"),
        ('{"point": {"x": 1}, "color": "green"}', "'green' is not one of ['red', 'blue']",
         "schema_violation"),
        ('{"point": {"x": 1}, "extra": 1}', "Additional properties are not allowed",
         "schema_violation"),
        ('{"point": {"x": 1}', "stops before it is complete", "invalid_json"),
        ('{"point": {"x": 1,}}', "trailing comma before '}'", "invalid_json"),
        ("{'point': {'x': 1}}", "single quotes", "invalid_json"),
        ("{}", "'point' is a required property", "schema_violation"),
    ],
)
async def test_invalid_arguments_go_back_to_the_model(arguments: str, message: str,
                                                      kind: str) -> None:
    result = await describe.invoke(arguments)
    assert result.is_error and result.invalid_call
    assert message in result.text
    assert result.metadata["kind"] == kind
    assert "truncated" not in result.text or kind == "invalid_json"


async def test_formats_are_checked() -> None:
    tool = FunctionTool.from_schema(
        "when", "Schedule.",
        {"type": "object", "properties": {"at": {"type": "string", "format": "date-time"},
                                          "mail": {"type": "string", "format": "email"}}},
        lambda **kwargs: "ok",
    )
    assert (await tool.invoke('{"at": "2026-11-28T10:00:00Z", "mail": "a@b.org"}')).text == "ok"
    bad = await tool.invoke('{"at": "next tuesday"}')
    assert bad.is_error and "is not a 'date-time'" in bad.text
    bad_mail = await tool.invoke('{"mail": "not-an-address"}')
    assert bad_mail.is_error and "is not a 'email'" in bad_mail.text


async def test_async_functions_and_exceptions() -> None:
    @function_tool
    async def fetch(url: str) -> dict[str, str]:
        """Fetch a page."""
        if url == "bad":
            raise ValueError("no such page")
        await asyncio.sleep(0)
        return {"url": url}

    ok = await fetch.invoke('{"url": "a"}')
    assert ok.text == '{"url": "a"}'
    failed = await fetch.invoke('{"url": "bad"}')
    assert failed.is_error and failed.text == "Error: fetch raised ValueError: no such page"


async def test_sync_function_timeout_is_reported() -> None:
    release = threading.Event()

    @function_tool(timeout_s=0.2)
    def block() -> str:
        """Blocks until released."""
        release.wait(10)
        return "late"

    try:
        result = await block.invoke("{}")
    finally:
        release.set()
    assert result.is_error and result.metadata["kind"] == "timeout"
    assert "did not finish within 0.2 seconds" in result.text


async def test_async_function_timeout_is_reported() -> None:
    @function_tool(timeout_s=0.1)
    async def hang() -> str:
        """Never finishes."""
        await asyncio.Event().wait()
        return "never"

    result = await hang.invoke("")
    assert result.is_error and result.metadata["kind"] == "timeout"


def test_duplicate_names_are_rejected() -> None:
    def a(x: int) -> int:
        return x

    def b(y: int) -> int:
        return y

    registry = ToolRegistry([a])
    with pytest.raises(ToolRegistrationError, match="already registered"):
        registry.add(function_tool(name="a")(b))


def test_unannotated_and_var_args_are_rejected() -> None:
    def untyped(x):  # type: ignore[no-untyped-def]
        return x

    def star(*args: int) -> int:
        return 0

    with pytest.raises(ToolRegistrationError, match="needs a type annotation"):
        function_tool(untyped)
    with pytest.raises(ToolRegistrationError, match=r"\*args"):
        function_tool(star)


def test_invalid_raw_schema_is_rejected() -> None:
    with pytest.raises(ToolRegistrationError, match="invalid JSON schema"):
        FunctionTool.from_schema("f", "d", {"type": "object", "properties": 3}, lambda: 1)
    with pytest.raises(ToolRegistrationError, match="must be an identifier"):
        FunctionTool.from_schema("bad name", "d", {"type": "object"}, lambda: 1)


def test_registry_resolution_messages() -> None:
    def lookup(key: str) -> str:
        return key

    registry = ToolRegistry([lookup])
    found = registry.resolve("functions.lookup")
    assert isinstance(found, Resolution) and found.name == "lookup"
    missing = registry.resolve("functions.nope")
    assert isinstance(missing, Unresolved) and "functions.lookup" in missing.message
    builtin = registry.resolve("python")
    assert isinstance(builtin, Unresolved) and builtin.kind == "tool_not_enabled"
    bare = registry.resolve("lookup")
    assert isinstance(bare, Unresolved) and "did you mean functions.lookup" in bare.message


async def test_toolset_reports_unknown_function() -> None:
    registry = ToolRegistry([describe])
    result = await registry.functions.call(
        ToolCall("c1", "functions", "nope", "{}"), ToolContext("s")
    )
    assert result.is_error and "functions.describe" in result.text


def test_parse_arguments_edge_cases() -> None:
    assert parse_arguments("  ") == {}
    with pytest.raises(ArgumentsError, match="empty"):
        parse_arguments("", allow_empty=False)
    with pytest.raises(ArgumentsError, match="Infinity"):
        parse_arguments('{"x": Infinity}')
    with pytest.raises(ArgumentsError, match="not str|string"):
        parse_arguments('"just a string"')


def test_literal_and_tuple_schemas() -> None:
    @function_tool
    def pick(mode: Literal["a", "b"], pair: tuple[int, str]) -> str:
        """Pick."""
        return mode

    props = pick.parameters["properties"]
    assert props["mode"] == {"enum": ["a", "b"]}
    assert props["pair"]["prefixItems"] == [{"type": "integer"}, {"type": "string"}]


async def test_context_parameter_is_hidden_from_the_model_and_passed_in() -> None:
    from gptoss_agent.tools.base import ToolContext

    @function_tool
    def whoami(greeting: str, context: ToolContext) -> str:
        """Greets the session."""
        return f"{greeting} {context.session_id}"

    assert list(whoami.parameters["properties"]) == ["greeting"]
    result = await whoami.invoke('{"greeting": "hi"}', ToolContext("s-42"))
    assert result.text == "hi s-42"


class Options(TypedDict):
    name: str
    size: NotRequired[int]


class Shade(str, enum.Enum):
    DARK = "dark"


FirstItem = dataclasses.make_dataclass("Item", [("a", int)])
SecondItem = dataclasses.make_dataclass("Item", [("b", str)])
SecondItem.__module__ = "other.module"


ORIGIN = Point(1.0)


def paint(options: Options, x: FirstItem, y: SecondItem,  # type: ignore[valid-type]
          shade: Shade = Shade.DARK, origin: Point = ORIGIN) -> str:
    """Paint."""
    return "ok"


def test_schema_generation_edge_cases() -> None:
    tool = function_tool(paint)
    props = tool.parameters["properties"]
    assert tool.parameters["$defs"]["Options"]["required"] == ["name"]
    assert props["x"]["$ref"] != props["y"]["$ref"], "same-named classes stay apart"
    assert props["shade"]["default"] == "dark"
    assert props["origin"]["default"] == {"x": 1.0, "y": 0.0}

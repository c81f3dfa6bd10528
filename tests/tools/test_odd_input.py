"""Odd input from a model never crashes a call: overflowing numbers, deep nesting, deep schemas."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gptoss_agent.tools.errors import ToolRegistrationError
from gptoss_agent.tools.function import FunctionTool, function_tool
from gptoss_agent.tools.json_args import MAX_ARGUMENT_DEPTH, ArgumentsError, parse_arguments
from gptoss_agent.tools.mcp.listing import Listing, RemoteTool
from gptoss_agent.tools.schema_check import (
    MAX_SCHEMA_DEPTH,
    SchemaRefusedError,
    compile_validator,
    violations,
)

received: list[Any] = []


@function_tool
def scale(factor: float, times: int = 1) -> str:
    """Scale by a factor.

    Args:
        factor: The factor.
        times: How often.
    """
    received.append((factor, times))
    return f"{factor * times}"


def nested(depth: int, leaf: Any = 1) -> Any:
    value = leaf
    for _ in range(depth):
        value = {"a": value}
    return value


def deep_schema(levels: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object"}
    for _ in range(levels):
        schema = {"type": "object", "properties": {"a": schema}}
    return schema


@pytest.mark.parametrize("literal", ["1e999", "-1e999", "1E400", "2.5e308", "-9e9999"])
async def test_numbers_that_overflow_to_infinity_are_invalid_json(literal: str) -> None:
    received.clear()
    result = await scale.invoke(f'{{"factor": {literal}}}')
    assert result.invalid_call and result.metadata["kind"] == "invalid_json"
    assert literal in result.text and "finite" in result.text
    assert received == []


@pytest.mark.parametrize("digits", [310, 400, 4000])
async def test_a_huge_integer_for_a_float_parameter_is_a_schema_violation(digits: int) -> None:
    received.clear()
    result = await scale.invoke(json.dumps({"factor": 10 ** (digits - 1)}))
    assert result.invalid_call and result.metadata["kind"] == "schema_violation"
    assert f"{digits}-digit integer is too large" in result.text
    assert len(result.text) < 400  # the number itself is not echoed back
    assert received == []


async def test_a_huge_integer_for_an_integer_parameter_is_fine() -> None:
    received.clear()
    result = await scale.invoke(json.dumps({"factor": 0.5, "times": 10**30}))
    assert not result.is_error
    assert received == [(0.5, 10**30)]


async def test_small_and_tiny_floats_still_pass() -> None:
    received.clear()
    result = await scale.invoke('{"factor": 1e-999, "times": 2}')
    assert not result.is_error and received == [(0.0, 2)]


def test_a_raw_number_parameter_refuses_overflow_too() -> None:
    tool = FunctionTool.from_schema(
        "f", "d", {"type": "object", "properties": {"x": {"type": ["number", "null"]}}},
        lambda x: x)
    with pytest.raises(ArgumentsError, match="too large") as caught:
        tool.validate(json.dumps({"x": -(10**500)}))
    assert caught.value.kind == "schema_violation"
    assert tool.validate('{"x": 1.5}') == {"x": 1.5}


@pytest.mark.parametrize("depth", [MAX_ARGUMENT_DEPTH + 1, 500, 100_000])
def test_arguments_nested_too_deeply_are_invalid_not_a_recursion_error(depth: int) -> None:
    text = '{"a": ' * depth + "1" + "}" * depth
    with pytest.raises(ArgumentsError, match="nest") as caught:
        parse_arguments(text)
    assert caught.value.kind == "invalid_json"


def test_arguments_at_the_depth_limit_are_accepted() -> None:
    assert parse_arguments(json.dumps(nested(MAX_ARGUMENT_DEPTH - 1))) == \
        nested(MAX_ARGUMENT_DEPTH - 1)


@pytest.mark.parametrize("levels", [MAX_SCHEMA_DEPTH, 400, 5000])
def test_a_function_schema_nested_too_deeply_is_refused_at_registration(levels: int) -> None:
    with pytest.raises(ToolRegistrationError, match="levels deep"):
        FunctionTool.from_schema("f", "d", deep_schema(levels), lambda **_: 1)


def test_a_self_referring_schema_registers_and_validates_deep_values() -> None:
    schema = {
        "type": "object",
        "properties": {"root": {"$ref": "#/$defs/node"}},
        "$defs": {"node": {"type": "object", "additionalProperties": False,
                           "properties": {"next": {"$ref": "#/$defs/node"}}}},
    }
    tool = FunctionTool.from_schema("walk", "d", schema, lambda root: "ok")
    chain: Any = {"bad": 1}
    for _ in range(40):
        chain = {"next": chain}
    with pytest.raises(ArgumentsError, match="Additional properties") as caught:
        tool.validate(json.dumps({"root": chain}))
    assert "levels)" in str(caught.value)  # a deep location is shortened
    validator = compile_validator(schema)
    for _ in range(2000):
        chain = {"next": chain}
    assert violations(validator, {"root": chain}) == [
        "- arguments: the value nests too deeply for its schema to be checked"]


def test_compile_validator_names_an_invalid_schema() -> None:
    with pytest.raises(SchemaRefusedError, match="is not valid under any"):
        compile_validator({"type": "object", "properties": {"x": {"type": 7}}})


def test_an_mcp_tool_with_a_too_deep_schema_is_left_out_and_said_so() -> None:
    tools = [RemoteTool("fine", "ok", {"type": "object", "properties": {"x": {"type": "number"}}}),
             RemoteTool("deep", "bad", deep_schema(300))]
    listing = Listing.build("srv", "", tools, revision=1)
    assert list(listing.tools) == ["fine"]
    assert len(listing.refused) == 1 and "'deep' is left out" in listing.refused[0]
    with pytest.raises(ArgumentsError, match="too large"):
        listing.tools["fine"].parse(json.dumps({"x": 10**400}))
    with pytest.raises(ArgumentsError, match="finite"):
        listing.tools["fine"].parse('{"x": 1e999}')

"""Validating the body of a ``POST /v1/responses`` request (the OpenAI Responses API).

:func:`parse_response_request` turns the JSON body into a :class:`ResponseRequest`:
the input's items in order (:mod:`~gptoss_agent.agent.serve.items`), the instructions, the client's
function tools and the server-side tools asked for (``code_interpreter`` / ``python``,
``web_search`` / ``browser``), the reasoning effort, a JSON-schema output format,
``previous_response_id``, streaming and sampling settings. Anything invalid raises
:class:`~gptoss_agent.agent.backends.http.errors.HTTPError` 400 naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gptoss_agent.agent.serve.items import (
    FunctionCallItem,
    FunctionOutput,
    InputItem,
    InputMessage,
    bad_request,
    parse_input,
)

BUILTIN_TYPES = {
    "code_interpreter": "python", "python": "python",
    "web_search": "browser", "web_search_preview": "browser", "browser": "browser",
}
"""Tool types that run on the server, and the task-file tool each one enables."""

_EFFORTS = {"minimal": "low", "low": "low", "medium": "medium", "high": "high"}


@dataclass(frozen=True)
class FunctionToolSpec:
    """A client function tool: the model may call it, the client runs it."""

    name: str
    description: str
    parameters: Mapping[str, Any]
    strict: bool = False


@dataclass(frozen=True)
class OutputFormat:
    """A ``text.format`` of type ``json_schema`` (or ``json_object``)."""

    name: str
    schema: Mapping[str, Any]
    description: str | None = None


@dataclass(frozen=True)
class ResponseRequest:
    """One ``/v1/responses`` request, validated.

    Attributes:
        items: The input's items, in order (messages, calls, outputs, reasoning).
        instructions: The request's instructions (the developer message), if any.
        functions: The client's function tools.
        builtins: Server-side tools asked for (``python``, ``browser``).
        effort: The reasoning effort, if set.
        output_format: The structured output format, if any.
        previous_response_id: The response this one continues.
        stream: Answer with server-sent events.
        max_output_tokens: Most tokens sampled in this response.
        temperature: Sampling temperature, if set.
        top_p: Nucleus sampling, if set.
        tool_choice: ``auto``, ``required``, ``none`` or a function's name.
        echo: Request fields the response object repeats (``tools``, ``text``, ...).
    """

    items: tuple[InputItem, ...] = ()
    instructions: str | None = None
    functions: tuple[FunctionToolSpec, ...] = ()
    builtins: frozenset[str] = frozenset()
    effort: str | None = None
    output_format: OutputFormat | None = None
    previous_response_id: str | None = None
    stream: bool = False
    max_output_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    tool_choice: str = "auto"
    echo: Mapping[str, Any] = field(default_factory=dict)

    @property
    def given(self) -> frozenset[str]:
        """The conversation settings the body names.

        Among ``tools``, ``text``, ``reasoning``, ``tool_choice`` and ``instructions``.
        """
        names = {"tools", "text", "reasoning", "tool_choice"} & self.echo.keys()
        if self.instructions is not None:
            names.add("instructions")
        return frozenset(names)

    @property
    def messages(self) -> tuple[InputMessage, ...]:
        """The input's text messages, in order."""
        return tuple(item for item in self.items if isinstance(item, InputMessage))

    @property
    def outputs(self) -> tuple[FunctionOutput, ...]:
        """The input's function-call outputs, in order."""
        return tuple(item for item in self.items if isinstance(item, FunctionOutput))

    @property
    def last_user(self) -> int | None:
        """The index in :attr:`items` of the last user message, if any."""
        return next((index for index in range(len(self.items) - 1, -1, -1)
                     if isinstance(item := self.items[index], InputMessage)
                     and item.role == "user"), None)

    @property
    def answers(self) -> tuple[FunctionOutput, ...]:
        """The outputs after the last user message: they answer calls of this turn.

        Earlier ones are history a client resends.
        """
        start = self.last_user
        tail = self.items if start is None else self.items[start + 1:]
        return tuple(item for item in tail if isinstance(item, FunctionOutput))


def parse_response_request(body: Mapping[str, Any]) -> ResponseRequest:
    """Validate a Responses API body.

    Raises:
        HTTPError: 400 with the field at fault as ``param``.
    """
    items = parse_input(body.get("input"))
    _check_pairs(items)
    functions, builtins = _tools(body.get("tools") or [])
    instructions = body.get("instructions")
    if instructions is not None and not isinstance(instructions, str):
        raise bad_request("'instructions' must be a string", "instructions")
    previous = body.get("previous_response_id")
    if previous is not None and not isinstance(previous, str):
        raise bad_request("'previous_response_id' must be a string", "previous_response_id")
    return ResponseRequest(
        items=items,
        instructions=instructions or None,
        functions=functions, builtins=builtins, effort=_effort(body.get("reasoning")),
        output_format=_output_format(body.get("text")), previous_response_id=previous,
        stream=_flag(body, "stream"), max_output_tokens=_number(body, "max_output_tokens", int),
        temperature=_number(body, "temperature", float), top_p=_number(body, "top_p", float),
        tool_choice=_tool_choice(body.get("tool_choice"), functions),
        echo={key: body[key] for key in ("tools", "text", "reasoning", "metadata",
                                         "tool_choice", "parallel_tool_calls") if key in body},
    )


def _check_pairs(items: tuple[InputItem, ...]) -> None:
    """Every resent ``function_call`` must be answered by a later output in the input."""
    for index, item in enumerate(items):
        if isinstance(item, FunctionCallItem) and not any(
                isinstance(later, FunctionOutput) and later.call_id == item.call_id
                for later in items[index + 1:]):
            raise bad_request(f"No tool output found for function call {item.call_id}.",
                              "input")


def _flag(body: Mapping[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if not isinstance(value, bool) and value is not None:
        raise bad_request(f"'{name}' must be a boolean", name)
    return bool(value)


def _number(body: Mapping[str, Any], name: str, kind: type) -> Any:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise bad_request(f"'{name}' must be a number", name)
    if kind is int and (value != int(value) or value < 1):
        raise bad_request(f"'{name}' must be an integer >= 1", name)
    if kind is float and value < 0:
        raise bad_request(f"'{name}' must be >= 0", name)
    return kind(value)


def _tools(value: Any) -> tuple[tuple[FunctionToolSpec, ...], frozenset[str]]:
    if not isinstance(value, list):
        raise bad_request("'tools' must be a list", "tools")
    functions: list[FunctionToolSpec] = []
    builtins: set[str] = set()
    for index, tool in enumerate(value):
        where = f"tools[{index}]"
        kind = tool.get("type") if isinstance(tool, Mapping) else None
        if kind in BUILTIN_TYPES:
            builtins.add(BUILTIN_TYPES[kind])
        elif kind == "function":
            functions.append(_function(tool, where))
        else:
            raise bad_request(f"'{where}': tools of type {kind!r} are not supported "
                              "(function, code_interpreter, python, web_search, browser)",
                              f"{where}.type")
    names = [f.name for f in functions]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate is not None:
        raise bad_request(f"the function {duplicate!r} is listed twice", "tools")
    return tuple(functions), frozenset(builtins)


def _function(tool: Mapping[str, Any], where: str) -> FunctionToolSpec:
    name = tool.get("name")
    if not isinstance(name, str) or not name:
        raise bad_request(f"'{where}.name' must be a string", f"{where}.name")
    parameters = tool.get("parameters") or {"type": "object", "properties": {}}
    if not isinstance(parameters, Mapping):
        raise bad_request(f"'{where}.parameters' must be a JSON schema object",
                          f"{where}.parameters")
    return FunctionToolSpec(name, str(tool.get("description") or ""), dict(parameters),
                            bool(tool.get("strict")))


def _effort(reasoning: Any) -> str | None:
    if reasoning is None:
        return None
    effort = reasoning.get("effort") if isinstance(reasoning, Mapping) else "?"
    if effort is None:
        return None
    if effort not in _EFFORTS:
        raise bad_request("'reasoning.effort' must be minimal, low, medium or high",
                          "reasoning.effort")
    return _EFFORTS[effort]


def _output_format(text: Any) -> OutputFormat | None:
    if text is None:
        return None
    fmt = text.get("format") if isinstance(text, Mapping) else "?"
    if fmt is None:
        return None
    kind = fmt.get("type") if isinstance(fmt, Mapping) else None
    if kind == "text":
        return None
    if kind == "json_object":
        return OutputFormat("response", {"type": "object"})
    if kind != "json_schema":
        raise bad_request("'text.format.type' must be text, json_schema or json_object",
                          "text.format.type")
    assert isinstance(fmt, Mapping)
    schema = fmt.get("schema")
    if not isinstance(schema, Mapping):
        raise bad_request("'text.format.schema' must be a JSON schema object",
                          "text.format.schema")
    return OutputFormat(str(fmt.get("name") or "response"), dict(schema),
                        fmt.get("description"))


def _tool_choice(value: Any, functions: tuple[FunctionToolSpec, ...]) -> str:
    if value is None or value in ("auto", "required", "none"):
        return str(value or "auto")
    name = value.get("name") if isinstance(value, Mapping) else None
    if isinstance(name, str) and any(f.name == name for f in functions):
        return f"functions.{name}"
    raise bad_request("'tool_choice' must be auto, required, none or one of the request's "
                      "functions", "tool_choice")

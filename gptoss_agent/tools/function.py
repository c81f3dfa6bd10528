"""Developer function tools: registration, argument validation and the call itself.

Register a Python callable with :func:`function_tool` (the schema comes from its type
hints and Google-style docstring; sync and async functions both work), or pair a raw
JSON schema with a callable through :meth:`FunctionTool.from_schema`.

Calling one (:meth:`FunctionTool.invoke`) parses the model's JSON strictly, validates it
with ``jsonschema`` (formats checked), converts it to the annotated types, runs the
function with a deadline (sync functions run in a worker thread) and turns every failure
into a :class:`~gptoss_agent.tools.base.ToolResult` the model can read.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, overload

import docstring_parser

from gptoss_agent.tools.base import FunctionSpec, ToolContext, ToolResult
from gptoss_agent.tools.errors import ToolRegistrationError
from gptoss_agent.tools.json_args import ArgumentsError, parse_arguments
from gptoss_agent.tools.schema_check import (
    SchemaRefusedError,
    compile_validator,
    violation_text,
    violations,
)
from gptoss_agent.tools.type_schema import (
    SchemaBuilder,
    coerce,
    jsonable_default,
    object_schema,
)

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
DEFAULT_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class FunctionTool:
    """A developer function the model can call as ``functions.<name>``.

    Attributes:
        name: The name the model uses.
        description: What the function does (shown to the model).
        parameters: JSON schema of the arguments object.
        handler: The callable; receives keyword arguments, may be async.
        timeout_s: Deadline for one call, or ``None`` for none.
        strict: Calls must match the schema by construction (a backend that constrains
            decoding samples only valid arguments); the arguments are validated either way.
        annotations: Parameter name to type, for converting JSON to Python values
            (empty for raw-schema tools, which receive plain JSON values).
        context_param: The parameter that receives the :class:`ToolContext` (declared
            by annotating it ``ToolContext``; it is not shown to the model).
        idempotent: Calling it twice with the same arguments does no harm, so a call
            whose result was lost (the run stopped while it ran) is run again on resume
            instead of the model being told it may have taken effect.
    """

    name: str
    description: str
    parameters: Mapping[str, Any]
    handler: Callable[..., Any]
    timeout_s: float | None = DEFAULT_TIMEOUT_S
    strict: bool = False
    annotations: Mapping[str, Any] = field(default_factory=dict)
    context_param: str | None = None
    idempotent: bool = False
    _validator: Any = field(init=False, repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ToolRegistrationError(
                f"tool name {self.name!r} must be an identifier (letters, digits, _)"
            )
        if self.parameters.get("type", "object") != "object":
            raise ToolRegistrationError(
                f"tool {self.name!r}: the parameters schema must describe an object"
            )
        try:
            validator = compile_validator(self.parameters)
        except SchemaRefusedError as exc:
            raise ToolRegistrationError(
                f"tool {self.name!r} has an invalid JSON schema: {exc}") from None
        object.__setattr__(self, "_validator", validator)
        if self.timeout_s is not None and self.timeout_s <= 0:
            raise ToolRegistrationError(f"tool {self.name!r}: timeout_s must be positive")

    @classmethod
    def from_schema(
        cls,
        name: str,
        description: str,
        parameters: Mapping[str, Any],
        handler: Callable[..., Any],
        *,
        timeout_s: float | None = DEFAULT_TIMEOUT_S,
        strict: bool = False,
        idempotent: bool = False,
    ) -> FunctionTool:
        """A tool from an explicit JSON schema; the handler gets plain JSON values."""
        return cls(name, description, dict(parameters), handler, timeout_s, strict,
                   idempotent=idempotent)

    @property
    def spec(self) -> FunctionSpec:
        """How the tool is described to the model."""
        has_params = bool(self.parameters.get("properties")) or bool(
            self.parameters.get("$ref") or self.parameters.get("additionalProperties")
        )
        return FunctionSpec(self.name, self.description,
                            self.parameters if has_params else None, self.strict)

    def validate(self, arguments_text: str) -> dict[str, Any]:
        """Parse and validate the model's arguments.

        Raises:
            ArgumentsError: With a message for the model.
        """
        arguments = parse_arguments(arguments_text)
        problems = violations(self._validator, arguments)
        if problems:
            raise ArgumentsError(violation_text(
                f"the arguments for {self.name} do not match its schema:", problems),
                kind="schema_violation")
        return arguments

    async def invoke(self, arguments_text: str, context: ToolContext | None = None
                     ) -> ToolResult:
        """Validate, convert, run and report; never raises for the model's mistakes."""
        try:
            arguments = self.validate(arguments_text)
        except ArgumentsError as exc:
            return ToolResult.invalid(f"Error: {exc}", kind=exc.kind)
        try:
            kwargs = {
                key: coerce(value, self.annotations.get(key, Any))
                for key, value in arguments.items()
            }
        except (TypeError, ValueError, OverflowError) as exc:
            return ToolResult.invalid(f"Error: bad arguments for {self.name}: {exc}",
                                      kind="schema_violation")
        if self.context_param is not None:
            if context is None:
                return ToolResult.error(f"Error: {self.name} needs a session context",
                                        kind="exception")
            kwargs[self.context_param] = context
        try:
            value = await asyncio.wait_for(self._run(kwargs), timeout=self.timeout_s)
        except TimeoutError:
            return ToolResult.error(
                f"Error: {self.name} did not finish within {self.timeout_s:g} seconds and "
                "was abandoned",
                kind="timeout",
            )
        except Exception as exc:  # the user's function failed: tell the model
            return ToolResult.error(
                f"Error: {self.name} raised {type(exc).__name__}: {exc}", kind="exception"
            )
        if isinstance(value, ToolResult):
            return value
        return ToolResult(text=_result_text(value))

    async def _run(self, kwargs: dict[str, Any]) -> Any:
        if inspect.iscoroutinefunction(self.handler):
            return await self.handler(**kwargs)
        result = await asyncio.to_thread(self.handler, **kwargs)
        if inspect.isawaitable(result):
            return await result
        return result


def _result_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, ToolResult):
        return value.text
    try:
        return json.dumps(value, ensure_ascii=False, default=_fallback)
    except (TypeError, ValueError):
        return repr(value)


def _fallback(value: Any) -> Any:
    import dataclasses

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def _schema_from_signature(
    func: Callable[..., Any],
) -> tuple[dict[str, Any], dict[str, Any], str, str | None]:
    try:
        hints = typing.get_type_hints(func, include_extras=True)
    except (NameError, TypeError) as exc:
        raise ToolRegistrationError(
            f"cannot read the type hints of {func.__name__}: {exc}"
        ) from exc
    docs = docstring_parser.parse(inspect.getdoc(func) or "")
    param_docs = {param.arg_name: param.description for param in docs.params}
    builder = SchemaBuilder()
    properties: dict[str, Any] = {}
    required: list[str] = []
    annotations: dict[str, Any] = {}
    context_param: str | None = None
    for name, parameter in inspect.signature(func).parameters.items():
        if hints.get(name) is ToolContext:
            context_param = name
            continue
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            raise ToolRegistrationError(
                f"{func.__name__}: *args/**kwargs cannot be described to the model"
            )
        if parameter.kind is parameter.POSITIONAL_ONLY:
            raise ToolRegistrationError(
                f"{func.__name__}: positional-only parameter {name!r} cannot be passed by name"
            )
        if name not in hints:
            raise ToolRegistrationError(
                f"{func.__name__}: parameter {name!r} needs a type annotation"
            )
        annotations[name] = hints[name]
        try:
            prop = builder.schema(hints[name])
        except ToolRegistrationError as exc:
            raise ToolRegistrationError(f"{func.__name__}, parameter {name!r}: {exc}") from exc
        if param_docs.get(name):
            prop["description"] = " ".join(str(param_docs[name]).split())
        if parameter.default is inspect.Parameter.empty:
            required.append(name)
        else:
            default = jsonable_default(parameter.default)
            try:
                json.dumps(default)
            except (TypeError, ValueError):
                raise ToolRegistrationError(
                    f"{func.__name__}: default of {name!r} is not JSON-serialisable"
                ) from None
            prop["default"] = default
        properties[name] = prop
    schema = object_schema(properties, required)
    if builder.defs:
        schema["$defs"] = builder.defs
    description_parts = [docs.short_description or "", docs.long_description or ""]
    description = "\n".join(part for part in description_parts if part).strip()
    return schema, annotations, description, context_param


@overload
def function_tool(func: Callable[..., Any], /) -> FunctionTool: ...


@overload
def function_tool(
    *,
    name: str | None = None,
    description: str | None = None,
    timeout_s: float | None = DEFAULT_TIMEOUT_S,
    strict: bool = False,
    idempotent: bool = False,
) -> Callable[[Callable[..., Any]], FunctionTool]: ...


def function_tool(
    func: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout_s: float | None = DEFAULT_TIMEOUT_S,
    strict: bool = False,
    idempotent: bool = False,
) -> FunctionTool | Callable[[Callable[..., Any]], FunctionTool]:
    """Turn a typed Python function into a tool; use bare or with options.

    The schema comes from the type hints, the descriptions from the Google-style
    docstring: ``@function_tool`` on ``def get_weather(city: str, unit: Literal["c",
    "f"] = "c") -> str`` whose docstring documents ``city`` and ``unit`` under
    ``Args:`` gives ``functions.get_weather`` with both parameters described.

    Args:
        func: The function, when used bare (``@function_tool``).
        name: The name the model calls (default: the function's name).
        description: What the tool does (default: the docstring's summary).
        timeout_s: Deadline of one call in seconds, or ``None`` for none.
        strict: Constrain the model's arguments to the schema where the backend can
            (see ``Agent(strict=...)`` to make every call strict).
        idempotent: Calls are safe to repeat: one whose result was lost when a run
            stopped is run again on resume.

    Raises:
        ToolRegistrationError: A parameter has no annotation or no JSON equivalent.
    """

    def build(target: Callable[..., Any]) -> FunctionTool:
        schema, annotations, doc_description, context_param = _schema_from_signature(target)
        return FunctionTool(
            name=name or target.__name__,
            description=description if description is not None else doc_description,
            parameters=schema,
            handler=target,
            timeout_s=timeout_s,
            strict=strict,
            annotations=annotations,
            context_param=context_param,
            idempotent=idempotent,
        )

    if func is not None:
        return build(func)
    return build

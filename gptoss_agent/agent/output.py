"""Structured final output: the type an answer must have, its schema, and checking it.

``Agent(output_type=...)`` takes a pydantic model, a dataclass, a ``TypedDict`` (or any
annotation the function tools understand) or a raw JSON schema. :func:`output_spec` turns
it into an :class:`OutputSpec`: the schema rendered in the developer message's
``# Response Formats`` section, and :meth:`OutputSpec.check`, which parses a final answer,
validates it and returns the typed value, or says what is wrong in words the model can
act on.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from gptoss_agent.agent.errors import AgentError
from gptoss_agent.tools.json_args import ArgumentsError, load_strict
from gptoss_agent.tools.schema_check import (
    SchemaRefusedError,
    compile_validator,
    violation_text,
    violations,
)
from gptoss_agent.tools.type_schema import SchemaBuilder, coerce

_FENCE = re.compile(r"^```(?:json)?\s*\n(.*?)\n?```\s*$", re.DOTALL)


class OutputError(AgentError, ValueError):
    """A final answer does not match the output type; the message is for the model."""


@dataclass(frozen=True)
class OutputSpec:
    """What a final answer must be.

    Attributes:
        name: The response format's name (the type's name, or ``response``).
        schema: Its JSON schema.
        description: What the answer holds (the type's docstring), or ``None``.
        convert: Turns validated JSON into the typed value (a model instance, a
            dataclass, ...); the identity for a raw schema.
    """

    name: str
    schema: Mapping[str, Any]
    description: str | None = None
    convert: Callable[[Any], Any] = lambda value: value

    def check(self, text: str) -> Any:
        """The typed value of a final answer.

        Raises:
            OutputError: The answer is not JSON, breaks the schema, or does not convert.
        """
        value = parse_answer(text)
        try:
            problems = violations(compile_validator(self.schema), value, root="answer")
        except SchemaRefusedError as exc:  # output_spec checked it; a hand-made spec may not be
            raise OutputError(f"the {self.name} format is an invalid schema: {exc}") from exc
        if problems:
            raise OutputError(violation_text(
                f"the answer does not match the {self.name} format:", problems))
        try:
            return self.convert(value)
        except (TypeError, ValueError) as exc:  # pydantic's ValidationError is a ValueError
            raise OutputError(f"the answer does not match the {self.name} format: "
                              f"{exc}") from exc


def parse_answer(text: str) -> Any:
    """The JSON a final answer holds (inside a code fence or not).

    Raises:
        OutputError: The answer is empty or not JSON.
    """
    stripped = text.strip()
    fenced = _FENCE.match(stripped)
    if fenced:
        stripped = fenced.group(1).strip()
    if not stripped:
        raise OutputError("the answer is empty; answer with the JSON the format asks for")
    try:
        return load_strict(stripped)
    except ArgumentsError as exc:
        raise OutputError(f"the answer must be JSON: {exc}") from None


def output_spec(output_type: Any, name: str | None = None) -> OutputSpec:
    """The :class:`OutputSpec` of a pydantic model, a type or a raw JSON schema.

    Raises:
        TypeError: The type has no JSON schema.
    """
    if isinstance(output_type, Mapping):
        schema = dict(output_type)
        try:
            compile_validator(schema)
        except SchemaRefusedError as exc:
            raise TypeError(f"the output schema is invalid: {exc}") from exc
        return OutputSpec(name or str(schema.get("title") or "response"), schema,
                          schema.get("description"))
    title = name or getattr(output_type, "__name__", None) or "response"
    description = _summary(getattr(output_type, "__doc__", None), output_type)
    if hasattr(output_type, "model_json_schema") and hasattr(output_type, "model_validate"):
        return OutputSpec(title, output_type.model_json_schema(), description,
                          output_type.model_validate)
    try:
        builder = SchemaBuilder()
        schema = _rooted(builder.schema(output_type), builder.defs)
    except Exception as exc:
        raise TypeError(f"{title} has no JSON schema: {exc}") from exc
    return OutputSpec(title, schema, description, lambda value: coerce(value, output_type))


def _rooted(schema: dict[str, Any], defs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A schema whose root is the referenced definition, the other definitions kept."""
    ref = schema.get("$ref", "")
    if not ref.startswith("#/$defs/"):
        return {**schema, "$defs": defs} if defs else schema
    root = dict(defs[ref.removeprefix("#/$defs/")])
    others = {key: value for key, value in defs.items() if value is not defs.get(ref[8:])}
    return {**root, "$defs": others} if others else root


def _summary(doc: str | None, output_type: Any) -> str | None:
    """The first paragraph of a type's own docstring (not a generated one)."""
    if not doc or (dataclasses.is_dataclass(output_type) and doc.startswith(
            f"{getattr(output_type, '__name__', '')}(")):
        return None
    return " ".join(doc.strip().split("\n\n")[0].split())

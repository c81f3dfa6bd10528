"""One listing of an MCP server's tools, as the model sees them and as calls are checked.

A :class:`Listing` is immutable: a refresh (the server said its tools changed, or it was
restarted) builds a new one. Each tool keeps its MCP name, its safe name (see
:mod:`.names`), its :class:`~gptoss_agent.tools.base.FunctionSpec` (the input schema
passed through unchanged, ``$defs``, ``anyOf`` and all) and a validator for its arguments,
compiled on first use for the JSON Schema dialect the schema names (2020-12 when it names
none, as MCP specifies).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import jsonschema
from referencing import Registry
from referencing.exceptions import Unresolvable

from gptoss_agent.tools.base import FunctionSpec, NamespaceSpec
from gptoss_agent.tools.json_args import ArgumentsError, parse_arguments
from gptoss_agent.tools.mcp.names import map_names
from gptoss_agent.tools.schema_check import (
    MAX_SCHEMA_DEPTH,
    compile_validator,
    fits_float,
    nesting_depth,
    violation_text,
    violations,
)

_COMBINERS = ("properties", "$ref", "additionalProperties", "anyOf", "oneOf", "allOf")


@dataclass(frozen=True)
class RemoteTool:
    """A tool as the server listed it, free of SDK types.

    Attributes:
        name: Its MCP name (what ``tools/call`` is sent with).
        description: Its description (or title), possibly empty.
        input_schema: The JSON schema of its arguments object.
        annotations: Its MCP annotations, camelCase as on the wire (``readOnlyHint``,
            ``destructiveHint``, ``idempotentHint``, ``openWorldHint``, ``title``).
    """

    name: str
    description: str
    input_schema: Mapping[str, Any]
    annotations: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


_TOP_KEYS = frozenset({"type", "properties", "required", "additionalProperties", "title",
                       "description", "$schema"})
_ANNOTATIONS = frozenset({"type", "title", "description", "default", "examples", "$comment",
                          "deprecated", "readOnly", "writeOnly"})
_PYTHON_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str, "array": list, "object": dict, "null": type(None), "boolean": bool}


def _fits(kind: str, value: Any) -> bool:
    if kind in ("integer", "number"):
        if isinstance(value, bool):
            return False
        return isinstance(value, int) if kind == "integer" else fits_float(value)
    return isinstance(value, _PYTHON_TYPES[kind])


def quick_check(schema: Mapping[str, Any]) -> Callable[[dict[str, Any]], bool] | None:
    """A fast test for a schema that only names its properties' types, else ``None``.

    Most tools' schemas are that simple. The test answers ``True`` only for arguments
    the full validator accepts too; ``False`` means "run the full validator" (which
    also writes the messages).
    """
    if set(schema) - _TOP_KEYS or schema.get("type") != "object" \
            or "draft-03" in str(schema.get("$schema", "")):
        return None
    properties, required = schema.get("properties", {}), schema.get("required", [])
    extra = schema.get("additionalProperties", True)
    if not isinstance(properties, dict) or not isinstance(required, list) \
            or not isinstance(extra, bool):
        return None
    kinds: dict[str, str] = {}
    for name, sub in properties.items():
        kind = sub.get("type") if isinstance(sub, dict) else None
        if not isinstance(kind, str) or set(sub) - _ANNOTATIONS \
                or kind not in (*_PYTHON_TYPES, "integer", "number"):
            return None
        kinds[name] = kind

    def check(arguments: dict[str, Any]) -> bool:
        if not all(key in arguments for key in required):
            return False
        for key, value in arguments.items():
            kind = kinds.get(key)
            if (kind is None and not extra) or (kind is not None and not _fits(kind, value)):
                return False
        return True

    return check


@dataclass(frozen=True)
class ListedTool:
    """One tool of a listing.

    Attributes:
        safe_name: The name the model writes (an identifier).
        remote: The tool as the server listed it.
    """

    safe_name: str
    remote: RemoteTool

    @functools.cached_property
    def spec(self) -> FunctionSpec:
        """How the tool is described to the model (its schema unchanged)."""
        schema = self.remote.input_schema
        takes_arguments = any(schema.get(key) for key in _COMBINERS)
        return FunctionSpec(self.safe_name, self.remote.description,
                            dict(schema) if takes_arguments else None)

    @functools.cached_property
    def _quick(self) -> Callable[[dict[str, Any]], bool] | None:
        return quick_check(self.remote.input_schema)

    @functools.cached_property
    def _validator(self) -> Any:
        """A compiled validator, or ``None`` when the schema cannot be compiled.

        A schema we cannot read is the server's business: the call goes through and the
        server checks the arguments itself.
        """
        try:
            return compile_validator(self.remote.input_schema, registry=Registry())
        except (TypeError, ValueError):  # SchemaRefusedError, or a schema that is no document
            return None

    def parse(self, text: str) -> dict[str, Any]:
        """The model's arguments as a JSON object that fits the tool's schema.

        Raises:
            ArgumentsError: Not one JSON object (``invalid_json``) or not matching the
                schema (``schema_violation``); the message is for the model.
        """
        arguments = parse_arguments(text)
        quick = self._quick
        if quick is not None and quick(arguments):
            return arguments
        validator = self._validator
        if validator is None:
            return arguments
        try:
            problems = violations(validator, arguments)
        except (Unresolvable, jsonschema.SchemaError):
            return arguments  # a $ref we cannot follow: leave the check to the server
        if not problems:
            return arguments
        raise ArgumentsError(violation_text(
            f"the arguments for {self.safe_name} do not match its schema:", problems),
            kind="schema_violation")


@dataclass(frozen=True)
class Listing:
    """Every tool of one server at one moment.

    Attributes:
        spec: The namespace as the model is told about it (named after the server).
        tools: Each tool by its safe name, in the server's order.
        renamed: Safe name -> MCP name, for the tools whose names had to change.
        collisions: One sentence per name clash that needed a suffix.
        revision: 1 for the first listing, one more for each one after it.
        refused: One sentence per tool left out because its input schema nests too
            deeply to be shown to the model or checked.
    """

    spec: NamespaceSpec
    tools: Mapping[str, ListedTool]
    renamed: Mapping[str, str]
    collisions: tuple[str, ...]
    revision: int
    refused: tuple[str, ...] = ()

    @classmethod
    def build(cls, server: str, description: str, remote: Iterable[RemoteTool],
              revision: int) -> Listing:
        """The listing of ``server`` (its name) from the tools the server listed."""
        by_name: dict[str, RemoteTool] = {}
        refused: list[str] = []
        for tool in remote:
            depth = nesting_depth(tool.input_schema)
            if depth > MAX_SCHEMA_DEPTH:
                refused.append(f"MCP server {server!r}: tool {tool.name!r} is left out: its "
                               f"input schema nests {depth} levels deep (the most is "
                               f"{MAX_SCHEMA_DEPTH})")
                continue
            by_name.setdefault(tool.name, tool)  # a name listed twice: the first one wins
        names = map_names(by_name, server)
        tools = {safe: ListedTool(safe, by_name[name]) for safe, name in names.by_safe.items()}
        spec = NamespaceSpec(server, description,
                             tuple(tool.spec for tool in tools.values()), builtin=False)
        return cls(spec, MappingProxyType(tools), MappingProxyType(names.renamed),
                   names.collisions, revision, tuple(refused))

    def addresses(self, prefixed: bool) -> str:
        """The recipients the model may write for these tools, comma-separated."""
        server = self.spec.name
        shown = [f"functions.{server}_{name}" if prefixed else f"{server}.{name}"
                 for name in self.tools]
        return ", ".join(shown) or "none"

"""JSON Schema to the TypeScript-like signatures gpt-oss reads in its tool definitions.

openai-harmony's own renderer turns ``$ref``, ``anyOf``/``Optional`` and
``additionalProperties`` into ``any`` or ``{}``, which are exactly the shapes that schemas
derived from Python type hints produce. This module renders them faithfully while
matching harmony's layout for the flat schemas it does handle (a ``// description`` line
above each property, ``name?: type, // default: x`` for optional ones), so a simple tool
reads to the model exactly as it did in training.

Supported: primitive types and type lists, ``enum``/``const`` literals, nested objects,
arrays and tuples (``prefixItems``), ``anyOf``/``oneOf`` unions, ``allOf`` intersections,
``$ref`` into ``$defs``/``definitions`` (recursive references become named types declared
beside the function), ``additionalProperties`` as index signatures, descriptions,
defaults and the common constraints (shown as trailing comments).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gptoss_agent.agent.harmony.errors import HarmonyError

_INDENT = "    "
_PRIMITIVES = {
    "string": "string",
    "number": "number",
    "integer": "number",
    "boolean": "boolean",
    "null": "null",
    "array": "any[]",
    "object": "object",
}
_CONSTRAINT_KEYS = (
    "format",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "uniqueItems",
)


class SchemaRenderError(HarmonyError, ValueError):
    """The schema cannot be rendered (an unresolvable ``$ref``)."""


@dataclass
class _RenderState:
    root: Mapping[str, Any]
    ref_stack: list[str] = field(default_factory=list)
    named: dict[str, str] = field(default_factory=dict)
    pending: list[str] = field(default_factory=list)


def _literal(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _default_text(value: Any) -> str:
    # harmony prints string defaults bare and everything else as JSON; a string that
    # would end the comment line (a newline) is quoted instead.
    if isinstance(value, str) and "\n" not in value and "\r" not in value:
        return value
    return json.dumps(value, ensure_ascii=False)


def _comment_lines(text: str, indent: str) -> list[str]:
    return [f"{indent}// {line}".rstrip() for line in text.splitlines() or [""]]


def _trailing_comment(schema: Mapping[str, Any]) -> str:
    parts: list[str] = []
    if "default" in schema:
        parts.append(f"default: {_default_text(schema['default'])}")
    for key in _CONSTRAINT_KEYS:
        if key in schema:
            parts.append(f"{key}: {_default_text(schema[key])}")
    return f" // {', '.join(parts)}" if parts else ""


def _ref_name(ref: str) -> str:
    """A TypeScript identifier for a ``$ref`` target (``#/$defs/my-type`` -> ``my_type``)."""
    name = "".join(c if c.isalnum() or c == "_" else "_" for c in ref.rsplit("/", 1)[-1])
    return name if name and not name[0].isdigit() else f"T_{name}"


def _resolve_ref(ref: str, state: _RenderState) -> Mapping[str, Any]:
    if not ref.startswith("#"):
        raise SchemaRenderError(f"only local $ref is supported, got {ref!r}")
    node: Any = state.root
    for part in ref.lstrip("#").strip("/").split("/"):
        if not part:
            continue
        key = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, Mapping) or key not in node:
            raise SchemaRenderError(f"$ref {ref!r} does not resolve")
        node = node[key]
    if not isinstance(node, Mapping):
        raise SchemaRenderError(f"$ref {ref!r} does not point to a schema")
    return node


def _union(parts: list[str]) -> str:
    unique: list[str] = []
    for part in parts:
        if part not in unique:
            unique.append(part)
    return " | ".join(unique) if unique else "never"


def _wrap_for_array(type_text: str) -> str:
    return f"({type_text})" if (" | " in type_text or " & " in type_text) else type_text


def _render_object(schema: Mapping[str, Any], state: _RenderState, indent: str) -> str:
    properties: Mapping[str, Any] = schema.get("properties") or {}
    required = set(schema.get("required") or ())
    extra = schema.get("additionalProperties", None)
    if not properties:
        if isinstance(extra, Mapping) and extra:
            return f"{{ [key: string]: {render_type(extra, state, indent)} }}"
        if extra is False:
            return "{}"
        return "{ [key: string]: any }"
    inner = indent + _INDENT
    lines = ["{"]
    lines.extend(_render_properties(properties, required, state, inner))
    if isinstance(extra, Mapping) and extra:
        lines.append(f"{inner}[key: string]: {render_type(extra, state, inner)},")
    elif extra is True:
        lines.append(f"{inner}[key: string]: any,")
    lines.append(f"{indent}}}")
    return "\n".join(lines)


def _render_properties(
    properties: Mapping[str, Any], required: set[str], state: _RenderState, indent: str
) -> list[str]:
    lines: list[str] = []
    for name, prop in properties.items():
        prop = prop if isinstance(prop, Mapping) else {}
        description = prop.get("description")
        if description is None and "$ref" in prop:
            description = _resolve_ref(prop["$ref"], state).get("description")
        if description:
            lines.extend(_comment_lines(str(description), indent))
        marker = "" if name in required else "?"
        key = name if name.isidentifier() else _literal(name)
        type_text = render_type(prop, state, indent)
        lines.append(f"{indent}{key}{marker}: {type_text},{_trailing_comment(prop)}")
    return lines


def render_type(schema: Mapping[str, Any] | bool, state: _RenderState, indent: str = "") -> str:
    """The TypeScript-like type of one schema node."""
    if schema is True or schema == {}:
        return "any"
    if schema is False:
        return "never"
    assert isinstance(schema, Mapping)
    for keyword, render in _KEYWORD_RENDERERS:
        if keyword in schema:
            return render(schema[keyword], state, indent)
    return _render_by_type(schema, state, indent)


def _render_ref(ref: str, state: _RenderState, indent: str) -> str:
    """A ``$ref``: inlined, or by name when it refers to itself (declared beside the function)."""
    name = _ref_name(ref)
    if ref in state.ref_stack:
        state.named.setdefault(ref, name)
        return name
    if ref in state.named:
        return state.named[ref]
    target = _resolve_ref(ref, state)
    state.ref_stack.append(ref)
    try:
        rendered = render_type(target, state, indent)
    finally:
        state.ref_stack.pop()
    if ref in state.named:  # it referred to itself: declare it by name
        body = render_type(target, _sub(state), "")
        comment = target.get("description")
        prefix = "\n".join(_comment_lines(str(comment), "")) + "\n" if comment else ""
        state.pending.append(f"{prefix}type {name} = {body};")
        return name
    return rendered


def _render_const(value: Any, state: _RenderState, indent: str) -> str:
    return _literal(value)


def _render_enum(values: Any, state: _RenderState, indent: str) -> str:
    return _union([_literal(value) for value in values])


def _render_union(options: Any, state: _RenderState, indent: str) -> str:
    """``anyOf`` and ``oneOf``: the options joined with ``|``."""
    return _union([render_type(option, state, indent) for option in options])


def _render_intersection(options: Any, state: _RenderState, indent: str) -> str:
    """``allOf``: the parts joined with ``&`` (a single part stands alone)."""
    parts = [render_type(option, state, indent) for option in options]
    return parts[0] if len(parts) == 1 else " & ".join(parts)


_KeywordRenderer = Callable[[Any, _RenderState, str], str]

# The first keyword present decides, in this order; without any, ``type`` does.
_KEYWORD_RENDERERS: tuple[tuple[str, _KeywordRenderer], ...] = (
    ("$ref", _render_ref),
    ("const", _render_const),
    ("enum", _render_enum),
    ("anyOf", _render_union),
    ("oneOf", _render_union),
    ("allOf", _render_intersection),
)


def _render_by_type(schema: Mapping[str, Any], state: _RenderState, indent: str) -> str:
    """A node without a combining keyword, rendered by its ``type``."""
    schema_type = schema.get("type")
    if isinstance(schema_type, list):
        options = [render_type({**schema, "type": item}, state, indent) for item in schema_type]
        return _union(options)
    if schema_type == "object" or (schema_type is None and "properties" in schema):
        return _render_object(schema, state, indent)
    if schema_type == "array":
        return _render_array(schema, state, indent)
    if isinstance(schema_type, str):
        return _PRIMITIVES.get(schema_type, "any")
    return "any"


def _render_array(schema: Mapping[str, Any], state: _RenderState, indent: str) -> str:
    """An array: a tuple for ``prefixItems``, else ``items[]`` (``any[]`` without items)."""
    if "prefixItems" in schema:
        items = [render_type(item, state, indent) for item in schema["prefixItems"]]
        return f"[{', '.join(items)}]"
    items_schema = schema.get("items")
    if items_schema is None:
        return "any[]"
    return f"{_wrap_for_array(render_type(items_schema, state, indent))}[]"


def _sub(state: _RenderState) -> _RenderState:
    """A state for rendering a named declaration's body (self references stay by name)."""
    sub = _RenderState(root=state.root, named=state.named, pending=state.pending)
    sub.ref_stack = list(state.named)
    return sub


@dataclass(frozen=True)
class RenderedSignature:
    """A function signature and the named types it needs declared before it."""

    declarations: tuple[str, ...]
    signature: str


def render_function(name: str, parameters: Mapping[str, Any] | None) -> RenderedSignature:
    """Render ``type name = (_: {...}) => any;`` for a function's parameter schema.

    Raises:
        SchemaRenderError: A ``$ref`` does not resolve.
    """
    if parameters is None:
        return RenderedSignature((), f"type {name} = () => any;")
    state = _RenderState(root=parameters)
    if "$ref" in parameters:
        parameters = _resolve_ref(parameters["$ref"], state)
    properties: Mapping[str, Any] = parameters.get("properties") or {}
    required = set(parameters.get("required") or ())
    lines = [f"type {name} = (_: {{"]
    lines.extend(_render_properties(properties, required, state, ""))
    extra = parameters.get("additionalProperties", None)
    if isinstance(extra, Mapping) and extra:
        lines.append(f"[key: string]: {render_type(extra, state, '')},")
    elif extra is True:
        lines.append("[key: string]: any,")
    lines.append("}) => any;")
    return RenderedSignature(tuple(state.pending), "\n".join(lines))

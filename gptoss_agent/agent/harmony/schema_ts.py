"""JSON Schema to the TypeScript-like signatures gpt-oss reads in its tool definitions.

For every schema feature openai-harmony renders meaningfully, the text here is
harmony's, token for token: primitive types and lists of them, string enums, arrays,
nested objects (inner lines indented, the closing brace with them), an object's own
description above its brace, ``oneOf`` blocks with per-variant comments, ``nullable``,
and the property frame of :mod:`~.schema_props` (titles, descriptions, examples,
required markers, defaults). A generated test renders random schemas of these features
through both and compares the tokens.

Where harmony degrades to ``any`` or drops information we render more: ``$ref`` into
``$defs``/``definitions`` (recursive references become named types declared beside the
function), ``anyOf`` unions, ``allOf`` intersections, ``const``, enums that are not plain
strings, ``additionalProperties`` as index signatures, tuples (``prefixItems``), a
parenthesised union inside an array, and the common constraints as trailing comments.
``docs/harmony_rendering.md`` lists each difference with an example.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gptoss_agent.agent.harmony.errors import HarmonyError
from gptoss_agent.agent.harmony.schema_props import (
    INDENT,
    is_one_of,
    one_of_block,
    render_properties,
)
from gptoss_agent.agent.harmony.schema_text import (
    comment_lines,
    json_text,
    ref_name,
    string_literal,
    with_null,
)

_SCALARS = {"string": "string", "number": "number", "integer": "number", "boolean": "boolean"}
_LIST_SCALARS = frozenset({"string", "number", "integer", "boolean", "null"})


class SchemaRenderError(HarmonyError, ValueError):
    """The schema cannot be rendered (an unresolvable ``$ref``)."""


@dataclass
class _RenderState:
    """The schema being rendered and the named types it needs (a :class:`NodeRenderer`)."""

    root: Mapping[str, Any]
    ref_stack: list[str] = field(default_factory=list)
    named: dict[str, str] = field(default_factory=dict)
    pending: list[str] = field(default_factory=list)

    def type_of(self, schema: Any, indent: str) -> str:
        """The type text of one node."""
        return render_type(schema, self, indent)

    def resolve(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        """The target of the node's ``$ref``, or the node itself."""
        ref = schema.get("$ref")
        return _resolve_ref(ref, self) if isinstance(ref, str) else schema


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


def _is_compound(type_text: str) -> bool:
    """Whether ``|`` or ``&`` joins the text outside brackets, strings and comments.

    Such a type needs parentheses before ``[]``.
    """
    depth, index, size = 0, 0, len(type_text)
    while index < size:
        char = type_text[index]
        if char == '"':
            index += 1
            while index < size and type_text[index] != '"':
                index += 2 if type_text[index] == "\\" else 1
        elif type_text.startswith("//", index):
            end = type_text.find("\n", index)
            index = size if end < 0 else end
        elif char in "{[(":
            depth += 1
        elif char in "}])":
            depth -= 1
        elif depth == 0 and type_text.startswith((" | ", " & "), index):
            return True
        index += 1
    return False


def _inline(schema: Any, state: _RenderState, indent: str) -> str:
    """A node's type where more text follows on its line (a ``oneOf`` block is closed)."""
    text = render_type(schema, state, indent)
    return f"({text}\n{indent})" if is_one_of(schema) else text


def render_type(schema: Any, state: _RenderState, indent: str = "") -> str:
    """The TypeScript-like type of one schema node; inner lines start with ``indent``."""
    if schema is True or (isinstance(schema, Mapping) and not schema):
        return "any"
    if schema is False:
        return "never"
    if not isinstance(schema, Mapping):
        return "any"
    if is_one_of(schema):
        return one_of_block(schema, state, indent)
    for keyword, render in _KEYWORD_RENDERERS:
        if keyword in schema:
            return with_null(render(schema[keyword], state, indent), schema)
    return with_null(_render_by_type(schema, state, indent), schema)


def _render_ref(ref: Any, state: _RenderState, indent: str) -> str:
    """A ``$ref``: inlined, or by name when it refers to itself (declared beside the function)."""
    if not isinstance(ref, str):
        raise SchemaRenderError(f"$ref must be a string, got {ref!r}")
    name = ref_name(ref)
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
        body = {key: value for key, value in target.items() if key != "description"}
        comment = target.get("description")
        prefix = "\n".join(comment_lines(comment, "")) + "\n" if isinstance(comment, str) else ""
        state.pending.append(f"{prefix}type {name} = {render_type(body, _sub(state), '')};")
        return name
    return rendered


def _literal(value: Any) -> str:
    return string_literal(value) if isinstance(value, str) else json_text(value)


def _render_const(value: Any, state: _RenderState, indent: str) -> str:
    return _literal(value)


def _render_enum(values: Any, state: _RenderState, indent: str) -> str:
    """``"a" | "b"``, as harmony writes a string enum (no de-duplication)."""
    if not isinstance(values, list) or not values:
        return "never"
    return " | ".join(_literal(value) for value in values)


def _render_union(options: Any, state: _RenderState, indent: str) -> str:
    """``anyOf``: the options joined with ``|``."""
    return _union([_inline(option, state, indent) for option in options])


def _render_intersection(options: Any, state: _RenderState, indent: str) -> str:
    """``allOf``: the parts joined with ``&`` (a single part stands alone)."""
    parts = [_inline(option, state, indent) for option in options]
    if len(parts) == 1:
        return parts[0]
    return " & ".join(f"({part})" if _is_compound(part) else part for part in parts)


_KeywordRenderer = Callable[[Any, _RenderState, str], str]

# After ``oneOf`` (harmony's first check), the first keyword present decides, in this
# order; without any, ``type`` does.
_KEYWORD_RENDERERS: tuple[tuple[str, _KeywordRenderer], ...] = (
    ("$ref", _render_ref),
    ("const", _render_const),
    ("enum", _render_enum),
    ("anyOf", _render_union),
    ("allOf", _render_intersection),
)


def _render_type_list(schema: Mapping[str, Any], state: _RenderState, indent: str) -> str:
    """``"type": [...]``: harmony's ``string | null`` for scalars, each rendered otherwise."""
    names = [item for item in schema["type"] if isinstance(item, str)]
    if not names:
        return "any"
    if all(item in _LIST_SCALARS for item in names):
        return " | ".join("number" if item == "integer" else item for item in names)
    options = [_inline({**schema, "type": item}, state, indent) for item in names]
    return _union(options)


def _render_by_type(schema: Mapping[str, Any], state: _RenderState, indent: str) -> str:
    """A node without a combining keyword, rendered by its ``type``."""
    schema_type = schema.get("type")
    if isinstance(schema_type, list):
        return _render_type_list(schema, state, indent)
    if schema_type == "object" or (schema_type is None and "properties" in schema):
        return _render_object(schema, state, indent)
    if schema_type == "array":
        return _render_array(schema, state, indent)
    if schema_type == "null":
        return "null"
    return _SCALARS.get(schema_type, "any") if isinstance(schema_type, str) else "any"


def _object_prefix(schema: Mapping[str, Any], indent: str) -> str:
    """An object's own description, as comment lines before its brace (as harmony)."""
    description = schema.get("description")
    if not isinstance(description, str):
        return ""
    return "\n".join(comment_lines(description, indent)) + "\n"


def _render_object(schema: Mapping[str, Any], state: _RenderState, indent: str) -> str:
    """``{`` + the properties (at ``indent``) + ``}`` (at ``indent``), or an index signature."""
    raw_properties = schema.get("properties")
    properties: Mapping[str, Any] = raw_properties if isinstance(raw_properties, Mapping) else {}
    extra = schema.get("additionalProperties", None)
    prefix = _object_prefix(schema, indent)
    if not properties:
        # Our one-line index signatures carry no description: a property's own is
        # already above it (harmony would print it a second time here).
        if isinstance(extra, Mapping) and extra:
            return f"{{ [key: string]: {_inline(extra, state, indent)} }}"
        if extra is False:
            return f"{prefix}{{\n{indent}}}"
        return "{ [key: string]: any }"
    raw_required = schema.get("required")
    required = {str(name) for name in raw_required} if isinstance(raw_required, list) else set()
    lines = ["{", *render_properties(properties, required, state, indent)]
    if isinstance(extra, Mapping) and extra:
        lines.append(f"{indent}[key: string]: {_inline(extra, state, indent + INDENT)},")
    elif extra is True:
        lines.append(f"{indent}[key: string]: any,")
    lines.append(f"{indent}}}")
    return prefix + "\n".join(lines)


def _render_array(schema: Mapping[str, Any], state: _RenderState, indent: str) -> str:
    """An array: a tuple for ``prefixItems``, else ``items[]`` (harmony's ``Array<any>``)."""
    prefix_items = schema.get("prefixItems")
    items_schema = schema.get("items")
    if isinstance(prefix_items, list) or isinstance(items_schema, list):
        items = prefix_items if isinstance(prefix_items, list) else items_schema
        assert isinstance(items, list)
        return f"[{', '.join(_inline(item, state, indent) for item in items)}]"
    if items_schema is None:
        return "Array<any>"
    item_text = _inline(items_schema, state, indent)
    return f"({item_text})[]" if _is_compound(item_text) else f"{item_text}[]"


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


def _is_bare_object(schema: Mapping[str, Any]) -> bool:
    """An object schema with no properties and no index signature."""
    extra = schema.get("additionalProperties")
    return (
        schema.get("type") == "object"
        and not schema.get("properties")
        and not (isinstance(extra, Mapping) and extra)
        and extra is not True
    )


def render_function(name: str, parameters: Mapping[str, Any] | None) -> RenderedSignature:
    """Render ``type name = (_: {...}) => any;`` for a function's parameter schema.

    Without parameters it is ``() => any``; an object without properties is harmony's
    empty ``{`` ``}``.

    Raises:
        SchemaRenderError: A ``$ref`` does not resolve.
    """
    if parameters is None:
        return RenderedSignature((), f"type {name} = () => any;")
    state = _RenderState(root=parameters)
    if _is_bare_object(parameters):
        text = f"{_object_prefix(parameters, '')}{{\n}}"
    else:
        text = render_type(parameters, state, "")
    if is_one_of(parameters) and "//" in text.rsplit("\n", 1)[-1]:
        text += "\n"  # harmony would let the last variant's comment swallow ") => any;"
    return RenderedSignature(tuple(state.pending), f"type {name} = (_: {text}) => any;")

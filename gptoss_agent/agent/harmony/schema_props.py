"""The properties of a rendered object and the ``oneOf`` blocks, laid out as harmony does.

One property is a frame of comment lines around a ``name?: type,`` line. The frame is
openai-harmony's, line for line: ``// title`` and a bare ``//``, then ``// description``,
then ``// Examples:`` with ``// - "example"`` lines, then the property line with the
default as a trailing comment. A property whose schema is a ``oneOf`` becomes a block
with one `` | variant // comment`` line per variant. The type texts themselves come from
:mod:`~.schema_ts` through the :class:`NodeRenderer` seam (which also keeps this module
free of an import cycle).

Our deliberate differences (see ``docs/harmony_rendering.md``): every line of a
multi-line text is commented, a description equal to the first variant's is shown once
rather than dropped, non-string examples are shown, and a ``nullable`` ``oneOf`` gets a
`` | null`` line.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from gptoss_agent.agent.harmony.schema_text import (
    comment_lines,
    default_text,
    has_null_member,
    is_enum,
    json_text,
    property_key,
    string_literal,
    text_lines,
    trailing_comment,
)

INDENT = "    "
VARIANT_INDENT = "   "  # harmony indents a variant's inner lines by three more spaces


class NodeRenderer(Protocol):
    """What the property layout needs from the type renderer."""

    def type_of(self, schema: Any, indent: str) -> str:
        """The type text of one schema node; inner lines start with ``indent``."""
        ...

    def resolve(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        """The node a ``$ref`` points to (``schema`` itself without one)."""
        ...


def is_one_of(schema: Any) -> bool:
    """Whether the node is a ``oneOf`` with a list of variants (rendered as a block)."""
    return isinstance(schema, Mapping) and isinstance(schema.get("oneOf"), list)


def _title_lines(prop: Mapping[str, Any], indent: str) -> list[str]:
    title = prop.get("title")
    if not isinstance(title, str):
        return []
    return [*comment_lines(title, indent), f"{indent}//"]


def _example_lines(prop: Mapping[str, Any], indent: str) -> list[str]:
    examples = prop.get("examples")
    if not isinstance(examples, list) or not examples:
        return []
    lines = [f"{indent}// Examples:"]
    for example in examples:
        text = string_literal(example) if isinstance(example, str) else json_text(example)
        lines.append(f"{indent}// - {text}")
    return lines


def _description(prop: Mapping[str, Any], renderer: NodeRenderer) -> str | None:
    """The property's description; a ``$ref``'d non-object lends its own."""
    description = prop.get("description")
    if description is None and "$ref" in prop:
        target = renderer.resolve(prop)
        renders_as_object = target.get("type") == "object" or "properties" in target
        description = None if renders_as_object else target.get("description")
    return description if isinstance(description, str) else None


def render_properties(
    properties: Mapping[str, Any], required: set[str], renderer: NodeRenderer, indent: str
) -> list[str]:
    """The lines of an object's properties, each in harmony's frame."""
    lines: list[str] = []
    for name, raw in properties.items():
        prop: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
        key = property_key(str(name)) + ("" if name in required else "?")
        lines.extend(_title_lines(prop, indent))
        if is_one_of(prop):
            lines.extend(_example_lines(prop, indent))
            lines.extend(_one_of_property(key, prop, renderer, indent))
            continue
        description = _description(prop, renderer)
        if description is not None:
            lines.extend(comment_lines(description, indent))
        lines.extend(_example_lines(prop, indent))
        type_text = renderer.type_of(raw, indent + INDENT)
        enum = is_enum(renderer.resolve(prop))
        lines.append(f"{indent}{key}: {type_text},{trailing_comment(prop, enum)}")
    return lines


def _variant_line(
    variant: Any, comments: list[str], renderer: NodeRenderer, indent: str
) -> tuple[str, str]:
    """`` | type // comments`` for one variant, and its type text."""
    type_text = renderer.type_of(variant, indent + VARIANT_INDENT)
    if isinstance(variant, Mapping) and "default" in variant:
        comments = [*comments, f"default: {default_text(variant['default'], is_enum(variant))}"]
    comment = f" // {' '.join(comments)}" if comments else ""
    return f"{indent} | {type_text}{comment}", type_text


def _variant_description(variant: Any) -> str | None:
    description = variant.get("description") if isinstance(variant, Mapping) else None
    return " ".join(text_lines(description)) if isinstance(description, str) else None


def _one_of_property(
    key: str, prop: Mapping[str, Any], renderer: NodeRenderer, indent: str
) -> list[str]:
    """A ``oneOf`` property: its comments, ``key:``, one line per variant, then ``,``."""
    lines: list[str] = []
    description = prop.get("description")
    described_above = isinstance(description, str)
    if isinstance(description, str):
        lines.extend(comment_lines(description, indent))
    if "default" in prop:
        lines.append(f"{indent}// default: {default_text(prop['default'], is_enum(prop))}")
    lines.append(f"{indent}{key}:")
    types: list[str] = []
    for index, variant in enumerate(prop["oneOf"]):
        own = _variant_description(variant)
        shown = own is not None and not (index == 0 and described_above) and own != description
        comments = [own] if shown and own is not None else []
        line, type_text = _variant_line(variant, comments, renderer, indent)
        lines.append(line)
        types.append(type_text)
    if prop.get("nullable") is True and not any(has_null_member(t) for t in types):
        lines.append(f"{indent} | null")
    lines.append(f"{indent},")
    return lines


def one_of_block(schema: Mapping[str, Any], renderer: NodeRenderer, indent: str) -> str:
    """A ``oneOf`` that is not a property's own: a new line `` | variant // comment`` each."""
    parts: list[str] = []
    types: list[str] = []
    for variant in schema["oneOf"]:
        own = _variant_description(variant)
        line, type_text = _variant_line(variant, [own] if own is not None else [], renderer, indent)
        parts.append(f"\n{line}")
        types.append(type_text)
    if schema.get("nullable") is True and not any(has_null_member(t) for t in types):
        parts.append(f"\n{indent} | null")
    return "".join(parts)

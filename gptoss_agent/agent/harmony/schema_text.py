"""The small texts of a rendered tool schema: literals, comments, keys and defaults.

Everything here is a pure function of one value. The spelling follows what
openai-harmony writes (its JSON is serde_json's compact form, its numbers are Rust's
shortest round-trip form, a string default is quoted unless the property is an enum),
so that a schema harmony handles reads to the model exactly as it did in training.
Where harmony's spelling would corrupt the line (a quote or a newline inside a string,
a key with spaces), the value is JSON-escaped instead; ``docs/harmony_rendering.md``
lists these cases.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

# The keys harmony prints bare and we keep bare; anything else is quoted as JSON.
_BARE_KEY = re.compile(r"[^\s\"'`:?,;/\\{}\[\]()<>|=]+")
# Constraints harmony drops; we show them after the default, in this order.
CONSTRAINT_KEYS = (
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


def json_number(value: float) -> str:
    """A float as serde_json prints it (Rust's shortest form: ``1e20``, ``0.00001``)."""
    if not math.isfinite(value):
        return "null"
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    mantissa, _, exponent = repr(abs(value)).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    point = len(whole) + int(exponent or 0)
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    if not digits:
        return f"{sign}0.0"
    length = len(digits)
    if length <= point <= 16:
        return f"{sign}{digits}{'0' * (point - length)}.0"
    if 0 < point <= 16:
        return f"{sign}{digits[:point]}.{digits[point:]}"
    if -5 < point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    rest = f".{digits[1:]}" if length > 1 else ""
    return f"{sign}{digits[0]}{rest}e{point - 1}"


def json_text(value: Any) -> str:
    """A JSON value in serde_json's compact spelling (``{"a":[1,2.0,null]}``)."""
    if value is None or isinstance(value, (bool, str)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return json_number(value)
    if isinstance(value, Mapping):
        items = (f"{json_text(str(key))}:{json_text(item)}" for key, item in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(json_text(item) for item in value) + "]"
    return json_text(str(value))


def string_literal(text: str) -> str:
    """A string in double quotes; equal to harmony's ``"text"`` for ordinary strings."""
    return json.dumps(text, ensure_ascii=False)


def is_enum(schema: Mapping[str, Any]) -> bool:
    """Whether the node has a non-empty ``enum`` (harmony then prints its default bare)."""
    values = schema.get("enum")
    return isinstance(values, list) and bool(values)


def default_text(value: Any, enum: bool) -> str:
    """A default as harmony prints it: strings quoted, an enum's string default bare."""
    if isinstance(value, str):
        bare_ok = enum and "\n" not in value and "\r" not in value
        return value if bare_ok else string_literal(value)
    return json_text(value)


def text_lines(text: str) -> list[str]:
    """The lines of ``text`` as Rust's ``str::lines`` (harmony's) splits them."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def comment_lines(text: str, indent: str) -> list[str]:
    """``// text`` lines, one per line of ``text`` (harmony writes only the first ``//``)."""
    return [f"{indent}// {line}" for line in text_lines(text) or [""]]


def property_key(name: str) -> str:
    """A property name as written before the colon: bare like harmony, quoted if unsafe."""
    return name if _BARE_KEY.fullmatch(name) else string_literal(name)


def constraint_text(schema: Mapping[str, Any]) -> list[str]:
    """The constraints harmony drops, as ``key: value`` parts of the trailing comment."""
    return [f"{key}: {default_text(schema[key], False)}" for key in CONSTRAINT_KEYS
            if key in schema]


def trailing_comment(schema: Mapping[str, Any], enum: bool) -> str:
    """`` // default: x`` (and the constraints), or nothing."""
    parts = [f"default: {default_text(schema['default'], enum)}"] if "default" in schema else []
    parts.extend(constraint_text(schema))
    return f" // {', '.join(parts)}" if parts else ""


def has_null_member(type_text: str) -> bool:
    """Whether ``null`` is already one of the union's members."""
    return "null" in (part.strip() for part in type_text.split(" | "))


def with_null(type_text: str, schema: Mapping[str, Any]) -> str:
    """``T | null`` for a node marked ``nullable: true`` (OpenAPI), unless already null."""
    if schema.get("nullable") is True and not has_null_member(type_text):
        return f"{type_text} | null"
    return type_text


def ref_name(ref: str) -> str:
    """A TypeScript identifier for a ``$ref`` target (``#/$defs/my-type`` -> ``my_type``)."""
    name = "".join(c if c.isalnum() or c == "_" else "_" for c in ref.rsplit("/", 1)[-1])
    return name if name and not name[0].isdigit() else f"T_{name}"

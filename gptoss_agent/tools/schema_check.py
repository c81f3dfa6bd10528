"""Checking JSON values against JSON schemas, safely, with messages the model can act on.

Function tools, MCP tools and structured answers all validate what a model wrote against a
schema somebody else wrote. This module is the one place that does it:

* :func:`compile_validator` refuses a schema that nests too deeply to be checked (or
  rendered) without running out of stack, and compiles the rest with formats checked and
  with ``number`` meaning a number a float can hold (a 400-digit integer for a ``number``
  parameter would turn into ``inf`` or ``OverflowError`` in the tool);
* :func:`violations` lists what is wrong with a value, one line each, and never raises
  ``RecursionError`` (a value that recurses deeper than the schema checker can follow is
  one violation);
* :func:`violation_text` joins the first few lines into one message.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

import jsonschema
from jsonschema.validators import extend, validator_for

from gptoss_agent.tools.errors import ToolError

MAX_SCHEMA_DEPTH = 96
"""The deepest nesting of objects and arrays a schema may have."""

MAX_ERRORS_SHOWN = 5

_LARGEST_FLOAT = sys.float_info.max
_PATH_SHOWN = 4  # a location deeper than twice this shows its first and last parts


class SchemaRefusedError(ToolError, ValueError):
    """A JSON schema that is invalid, or nests too deeply to be checked safely."""


def fits_float(value: Any) -> bool:
    """Whether ``value`` is a JSON number a float holds (not a bool, not beyond ±1.8e308)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if isinstance(value, float):
        return value == value and abs(value) <= _LARGEST_FLOAT
    return abs(value) <= _LARGEST_FLOAT


def nesting_depth(value: Any) -> int:
    """How deeply objects and arrays nest in ``value`` (a scalar is 0), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        deepest = max(deepest, depth + 1)
        stack.extend((child, depth + 1) for child in children)
    return deepest


def _is_number(checker: Any, instance: Any) -> bool:
    return fits_float(instance)


def compile_validator(schema: Mapping[str, Any], *, default: Any = None,
                      registry: Any = None) -> Any:
    """A validator for ``schema`` (its own ``$schema`` draft, else ``default``, else 2020-12).

    Raises:
        SchemaRefusedError: The schema is not valid for its draft, or nests deeper than
            :data:`MAX_SCHEMA_DEPTH`.
    """
    depth = nesting_depth(schema)
    if depth > MAX_SCHEMA_DEPTH:
        raise SchemaRefusedError(
            f"it nests {depth} levels deep; the most checked is {MAX_SCHEMA_DEPTH}")
    document = dict(schema)
    base = validator_for(document, default=default or jsonschema.Draft202012Validator)
    try:
        base.check_schema(document)
    except jsonschema.SchemaError as exc:
        raise SchemaRefusedError(exc.message) from None
    except RecursionError:
        raise SchemaRefusedError("it refers to itself too deeply to be checked") from None
    checker = base.TYPE_CHECKER.redefine("number", _is_number)
    cls = extend(base, type_checker=checker)
    options: dict[str, Any] = {"format_checker": base.FORMAT_CHECKER}
    if registry is not None:
        options["registry"] = registry
    return cls(document, **options)


def violations(validator: Any, value: Any, root: str = "arguments") -> list[str]:
    """What is wrong with ``value``, one ``- where: what`` line per problem (empty if valid).

    Raises:
        jsonschema.exceptions.Unresolvable: A ``$ref`` cannot be followed (callers decide
            whether that is their problem or the schema author's).
    """
    try:
        errors = sorted(validator.iter_errors(value), key=lambda e: list(map(str, e.path)))
    except RecursionError:
        return [f"- {root}: the value nests too deeply for its schema to be checked"]
    return [f"- {_where(root, error)}: {_message(error)}" for error in errors]


def violation_text(headline: str, lines: list[str]) -> str:
    """``headline`` and the first :data:`MAX_ERRORS_SHOWN` lines, with how many were left out."""
    shown = lines[:MAX_ERRORS_SHOWN]
    if len(lines) > MAX_ERRORS_SHOWN:
        shown.append(f"- ... and {len(lines) - MAX_ERRORS_SHOWN} more")
    return headline + "\n" + "\n".join(shown)


def _where(root: str, error: jsonschema.ValidationError) -> str:
    parts = [f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.path]
    if len(parts) > _PATH_SHOWN * 2:
        hidden = len(parts) - _PATH_SHOWN * 2
        parts = [*parts[:_PATH_SHOWN], f"…({hidden} levels)…", *parts[-_PATH_SHOWN:]]
    return root + "".join(parts)


def _message(error: jsonschema.ValidationError) -> str:
    instance = error.instance
    if error.validator == "type" and isinstance(instance, int) and not isinstance(
            instance, bool) and abs(instance) > _LARGEST_FLOAT:
        digits = len(str(abs(instance)))
        return (f"a {digits}-digit integer is too large for a number "
                "(the most is about 1.8e308)")
    return error.message

"""Strict parsing of the JSON arguments a model writes for a tool call.

Python's ``json`` module accepts things a tool should never receive: ``NaN`` and
``Infinity``, numbers that overflow to infinity (``1e999``), duplicate keys (the last one
silently wins), values nested hundreds of levels deep, and top-level values that are not
objects. Each of these is an :class:`ArgumentsError` with a message the model can act on,
including where a truncated document stopped. :func:`load_strict` is the decoding for
any JSON a model writes (arguments and structured answers alike).
"""

from __future__ import annotations

import json
from typing import Any

from gptoss_agent.tools.errors import ToolError
from gptoss_agent.tools.schema_check import fits_float, nesting_depth

MAX_ARGUMENT_DEPTH = 64
"""The deepest nesting of objects and arrays accepted in what a model writes."""


class ArgumentsError(ToolError, ValueError):
    """The arguments text is not one acceptable JSON object; the message is for the model.

    Attributes:
        kind: ``invalid_json`` (not JSON, or not an object) or ``schema_violation`` (JSON
            that breaks the tool's schema); the run counts incidents by it.
    """

    def __init__(self, message: str, kind: str = "invalid_json") -> None:
        super().__init__(message)
        self.kind = kind


def _reject_constant(name: str) -> Any:
    raise ArgumentsError(f"{name} is not valid JSON; use a finite number or null")


def _finite_float(literal: str) -> float:
    value = float(literal)
    if not fits_float(value):
        raise ArgumentsError(f"the number {literal} is too large to be a number (JSON "
                             "numbers must be finite; the most is about 1.8e308)")
    return value


def load_strict(text: str) -> Any:
    """Decode ``text`` as JSON the way a tool or an answer check must read it.

    NaN, infinities, overflowing numbers, duplicate keys and nesting deeper than
    :data:`MAX_ARGUMENT_DEPTH` are refused.

    Raises:
        ArgumentsError: With a message for the model (``json.JSONDecodeError`` is
            turned into one by :func:`diagnose`).
    """
    try:
        value = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float,
                           object_pairs_hook=_no_duplicates)
    except ArgumentsError:
        raise
    except json.JSONDecodeError as exc:
        raise ArgumentsError(diagnose(text, exc)) from None
    except RecursionError:
        raise ArgumentsError("the JSON is nested too deeply") from None
    except ValueError as exc:  # e.g. an integer with thousands of digits
        raise ArgumentsError(f"the JSON cannot be read: {exc}") from None
    depth = nesting_depth(value)
    if depth > MAX_ARGUMENT_DEPTH:
        raise ArgumentsError(f"the JSON nests {depth} levels deep; the most accepted is "
                             f"{MAX_ARGUMENT_DEPTH}")
    return value


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ArgumentsError(f"duplicate key {key!r} in the arguments object")
        result[key] = value
    return result


def parse_arguments(text: str, *, allow_empty: bool = True) -> dict[str, Any]:
    """Parse ``text`` as one JSON object.

    Args:
        text: What the model wrote as the message body.
        allow_empty: Treat an empty body as ``{}`` (for functions without arguments).

    Raises:
        ArgumentsError: Invalid, truncated, non-object or too deeply nested JSON,
            NaN/Infinity/overflowing numbers or duplicate keys.
    """
    stripped = text.strip()
    if not stripped:
        if allow_empty:
            return {}
        raise ArgumentsError("the arguments are empty; send a JSON object")
    value = load_strict(stripped)
    if not isinstance(value, dict):
        raise ArgumentsError(f"the arguments must be a JSON object, not {_json_type(value)}")
    return value


def diagnose(text: str, error: json.JSONDecodeError) -> str:
    """What is wrong with ``text``, named so the model can fix it.

    A trailing comma and single quotes are said to be what they are; only text that
    stops while a string, array or object is still open is called truncated.
    """
    where = f"line {error.lineno} column {error.colno}"
    problem = f"{error.msg} {where}" if error.msg.endswith(" at") else f"{error.msg} at {where}"
    at = text[error.pos] if error.pos < len(text) else ""
    before = text[: error.pos].rstrip()
    if at in "]}" and at and before.endswith(","):
        return f"the JSON has a trailing comma before {at!r} at {where}; remove the comma"
    if at == "'" or (error.msg.startswith("Expecting property name") and "'" in at):
        return (f"the JSON uses single quotes at {where}; JSON strings and keys take "
                "double quotes")
    if error.pos >= len(text) or error.msg.startswith("Unterminated string"):
        return (f"the JSON stops before it is complete ({problem}): close every string, "
                "array and object")
    return f"this is not valid JSON: {problem}"


def _json_type(value: Any) -> str:
    """The JSON kind of a non-object value, with its article."""
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "null" if value is None else "a value"

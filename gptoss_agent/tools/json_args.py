"""Strict parsing of the JSON arguments a model writes for a tool call.

Python's ``json`` module accepts things a tool should never receive: ``NaN`` and
``Infinity``, duplicate keys (the last one silently wins), and top-level values that are
not objects. Each of these is an :class:`ArgumentsError` with a message the model can act
on, including where a truncated document stopped.
"""

from __future__ import annotations

import json
from typing import Any

from gptoss_agent.tools.errors import ToolError


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
        ArgumentsError: Invalid, truncated, non-object JSON, NaN/Infinity or duplicate keys.
    """
    stripped = text.strip()
    if not stripped:
        if allow_empty:
            return {}
        raise ArgumentsError("the arguments are empty; send a JSON object")
    try:
        value = json.loads(
            stripped, parse_constant=_reject_constant, object_pairs_hook=_no_duplicates
        )
    except ArgumentsError:
        raise
    except json.JSONDecodeError as exc:
        raise ArgumentsError(diagnose(stripped, exc)) from None
    except RecursionError:
        raise ArgumentsError("the arguments are nested too deeply") from None
    except ValueError as exc:  # e.g. an integer with thousands of digits
        raise ArgumentsError(f"the arguments cannot be read: {exc}") from None
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

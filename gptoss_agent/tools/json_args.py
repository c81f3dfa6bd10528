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
    """The arguments text is not one acceptable JSON object; the message is for the model."""


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
        if exc.pos >= len(stripped) - 1:
            raise ArgumentsError(
                f"the JSON arguments end early (truncated at character {exc.pos}): {exc.msg}"
            ) from None
        raise ArgumentsError(
            f"the arguments are not valid JSON: {exc.msg} at line {exc.lineno} "
            f"column {exc.colno}"
        ) from None
    except RecursionError:
        raise ArgumentsError("the arguments are nested too deeply") from None
    except ValueError as exc:  # e.g. an integer with thousands of digits
        raise ArgumentsError(f"the arguments cannot be read: {exc}") from None
    if not isinstance(value, dict):
        raise ArgumentsError(
            f"the arguments must be a JSON object, not {type(value).__name__}"
            f" ({_json_type(value)})"
        )
    return value


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "null" if value is None else "value"

"""The model's arguments to ``browser.*``: lenient parsing and typed fields.

:func:`parse_arguments` accepts what gpt-oss writes in practice (an empty message, JSON in
a code fence, trailing text after the object, a bare string); :func:`integer`,
:func:`boolean` and :func:`link_target` read one field each. Anything that cannot be
read raises :class:`~.errors.BadArgumentsError` with a message that shows the expected
shape: the call itself was malformed.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from gptoss_agent.tools.browser.errors import BadArgumentsError

FUNCTIONS = ("search", "open", "find")
"""The functions of the ``browser`` namespace."""

_EXAMPLES = {"search": '{"query": "..."}', "open": '{"id": 3}', "find": '{"pattern": "..."}'}
_BARE_STRING_KEY = {"search": "query", "open": "id", "find": "pattern"}
_WHOLE_RE = re.compile(r"-?[0-9]+")


def parse_arguments(raw: str, function: str) -> dict[str, Any]:
    """Parse the model's arguments leniently into a dict.

    Accepts an empty message (no arguments), JSON wrapped in a code fence, and trailing
    text after the JSON object. A bare JSON string is taken as the ``query`` of a
    search, the ``id`` of an open and the ``pattern`` of a find.

    Args:
        raw: The message body as the model wrote it.
        function: ``search``, ``open`` or ``find``.

    Raises:
        BadArgumentsError: With a message that shows the expected shape.
    """
    text = raw.strip()
    if text.startswith("```"):
        text = text.strip("`")
        text = text[4:] if text.lower().startswith("json") else text
        text = text.strip()
    if not text:
        return {}
    try:
        value, _ = json.JSONDecoder().raw_decode(text)
    except ValueError as exc:
        raise BadArgumentsError(
            f"The arguments of browser.{function} are not valid JSON ({exc}); send an object "
            f"such as {_EXAMPLES[function]}."
        ) from exc
    if isinstance(value, str):
        return {_BARE_STRING_KEY[function]: value}
    if not isinstance(value, dict):
        raise BadArgumentsError(
            f"The arguments of browser.{function} must be a JSON object, not "
            f"{type(value).__name__}."
        )
    return value


def _whole(value: Any) -> int | None:
    """``value`` as an int when it is one (or a float or digit string that is whole)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value == int(value):
        return int(value)
    if isinstance(value, str) and _WHOLE_RE.fullmatch(value.strip()):
        return int(value.strip())
    return None


def integer(args: Mapping[str, Any], key: str, default: int) -> int:
    """The whole number under ``key`` (``default`` when absent or null).

    Raises:
        BadArgumentsError: The value is not a whole number.
    """
    value = args.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool):
        raise BadArgumentsError(f"`{key}` must be a number, not {value!r}.")
    number = _whole(value)
    if number is None:
        raise BadArgumentsError(f"`{key}` must be a whole number, not {value!r}.")
    return number


def boolean(args: Mapping[str, Any], key: str) -> bool:
    """The flag under ``key`` (``false`` when absent; ``0``/``1`` and strings accepted).

    Raises:
        BadArgumentsError: The value is not true or false.
    """
    value = args.get(key, False)
    if isinstance(value, bool):
        return value
    if value in (None, 0, 1, "true", "false", "True", "False"):
        return value in (1, "true", "True")
    raise BadArgumentsError(f"`{key}` must be true or false, not {value!r}.")


def link_target(value: Any) -> int | str:
    """``id`` as a link number (``-1``: none), or a URL string.

    Raises:
        BadArgumentsError: The value is neither a number nor a non-empty string.
    """
    if value is None:
        return -1
    number = _whole(value)
    if number is not None:
        return number
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise BadArgumentsError(f"`id` must be a link number or a URL, not {value!r}.")


def text_field(args: Mapping[str, Any], key: str, function: str) -> str:
    """The required, non-empty string under ``key``, stripped.

    Raises:
        BadArgumentsError: It is missing, empty or not a string.
    """
    value = args.get(key)
    if not isinstance(value, str) or not value.strip():
        raise BadArgumentsError(f'browser.{function} needs a non-empty "{key}" string.')
    return value.strip()

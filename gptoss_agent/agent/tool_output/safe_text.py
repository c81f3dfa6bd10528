r"""Text that UTF-8 cannot carry (lone surrogates) made safe before the codec and transcript.

A tool can hand back a ``str`` holding lone surrogates: a file name decoded with
``surrogateescape``, a JSON string with an unpaired ``\ud800`` escape, a broken C
extension. UTF-8 cannot encode them, so the transcript (and any UTF-8 writer) would fail.
Each such character is written as its escape (``\udc80``) and the result says so.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from gptoss_agent.tools.base import ToolResult

_SURROGATE = re.compile("[\ud800-\udfff]")


def safe_text(text: str) -> tuple[str, int]:
    r"""``text`` with each lone surrogate escaped (``\udc80``), and how many there were."""
    if _SURROGATE.search(text) is None:
        return text, 0
    return _SURROGATE.subn(lambda match: f"\\u{ord(match.group()):04x}", text)


def _safe_value(value: Any) -> tuple[Any, int]:
    """A JSON-like value with every string (keys too) made safe; how many were escaped."""
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, Mapping):
        total, items = 0, {}
        for key, item in value.items():
            safe_key, n = _safe_value(key)
            safe_item, m = _safe_value(item)
            items[safe_key] = safe_item
            total += n + m
        return items, total
    if isinstance(value, list | tuple):
        pairs = [_safe_value(item) for item in value]
        return type(value)(item for item, _ in pairs), sum(n for _, n in pairs)
    return value, 0


def note(count: int) -> str:
    """The line that tells the model its result held text that was escaped."""
    plural = "s" if count != 1 else ""
    return (f"[note: {count} character{plural} that cannot be encoded (lone surrogate"
            f"{plural}) shown escaped as \\udXXX]")


def safe_result(result: ToolResult) -> ToolResult:
    """``result`` with its text and metadata encodable; escapes noted in both.

    The result is returned unchanged (the same object) when there was nothing to escape.
    """
    text, in_text = safe_text(result.text)
    metadata, in_metadata = _safe_value(result.metadata)
    if not in_text and not in_metadata:
        return result
    if in_text:
        text = f"{text}\n{note(in_text)}" if text else note(in_text)
    metadata["unencodable_escaped"] = in_text + in_metadata
    return dataclasses.replace(result, text=text, metadata=MappingProxyType(metadata))

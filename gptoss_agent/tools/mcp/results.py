"""What an MCP tool's result becomes: the text of one tool message.

Text blocks are kept as they are; structured content is written as compact JSON (once: a
text block that only repeats it, as the spec asks servers to send, is not shown twice);
images, audio, resource links and binary resources become one line the model can act
on (kind, MIME type, size, URI); an embedded resource of a text type is shown with its
text under such a line. A result the server marks ``isError`` becomes an error result,
and a result longer than the cap is cut at a character boundary with a note saying how
much there was.
"""

from __future__ import annotations

import base64
import binascii
import json
from types import MappingProxyType
from typing import Any

import mcp_types as types

from gptoss_agent.tools.base import ToolResult

_TEXT_TYPES = frozenset({"application/json", "application/xml", "application/yaml",
                         "application/x-yaml", "application/javascript"})


def human_size(count: int) -> str:
    """``512 bytes``, ``12.3 KiB``, ``4.0 MiB``."""
    if count < 1024:
        return f"{count} bytes"
    if count < 1024 * 1024:
        return f"{count / 1024:.1f} KiB"
    return f"{count / (1024 * 1024):.1f} MiB"


def _base64_size(data: str) -> int:
    """The decoded size of base64 ``data``, without decoding it."""
    length = len(data.rstrip("="))
    return length * 3 // 4


def _text_of(blob: str, mime: str | None) -> str | None:
    """The text of a base64 blob whose MIME type says it is text, else ``None``."""
    if not mime or not (mime.startswith("text/") or mime in _TEXT_TYPES):
        return None
    try:
        return base64.b64decode(blob, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _mirrors(text: str, structured: Any, compact: str) -> bool:
    """Whether ``text`` is only the JSON of ``structured`` (or of its ``result`` wrapper)."""
    if text == compact:
        return True
    if isinstance(structured, dict) and structured.keys() == {"result"}:
        inner = structured["result"]
        if text == inner or text == _compact(inner):
            return True
    if not text.lstrip().startswith(("{", "[")):
        return False
    try:
        parsed = json.loads(text)
    except ValueError:
        return False
    return bool(parsed == structured or structured == {"result": parsed})


def _resource_line(kind: str, uri: str, mime: str | None, size: int | None) -> str:
    facts = [fact for fact in (mime, human_size(size) if size is not None else None) if fact]
    return f"[{kind} {uri}" + (f" ({', '.join(facts)})" if facts else "") + "]"


def describe(block: Any) -> str:
    """One content block as text: its text, or a line saying what it is."""
    if isinstance(block, types.TextContent):
        return block.text
    if isinstance(block, types.ImageContent | types.AudioContent):
        kind = "image" if isinstance(block, types.ImageContent) else "audio"
        return (f"[{kind}: {block.mime_type}, {human_size(_base64_size(block.data))}; "
                f"its data is not shown]")
    if isinstance(block, types.ResourceLink):
        line = _resource_line("resource link", block.uri, block.mime_type, block.size)
        named = f" {block.name}" if block.name and block.name != block.uri else ""
        about = f": {block.description}" if block.description else ""
        return f"{line}{named}{about}"
    if isinstance(block, types.EmbeddedResource):
        resource = block.resource
        if isinstance(resource, types.TextResourceContents):
            return _resource_line("resource", resource.uri, resource.mime_type, None) + \
                f"\n{resource.text}"
        blob = resource.blob if isinstance(resource, types.BlobResourceContents) else ""
        text = _text_of(blob, resource.mime_type)
        if text is not None:
            return _resource_line("resource", resource.uri, resource.mime_type, None) + \
                f"\n{text}"
        line = _resource_line("binary resource", resource.uri, resource.mime_type,
                              _base64_size(blob))
        return f"{line}; its data is not shown"
    return f"[{getattr(block, 'type', 'unknown')} content; not shown]"


def result_text(result: types.CallToolResult) -> str:
    """Every block of ``result`` as text, then its structured content as compact JSON."""
    structured = result.structured_content
    compact = _compact(structured) if structured is not None else None
    parts: list[str] = []
    for block in result.content:
        if (compact is not None and isinstance(block, types.TextContent)
                and _mirrors(block.text, structured, compact)):
            parts.append(min(block.text, compact, key=len))
            compact = None
            continue
        parts.append(describe(block))
    if compact is not None:
        parts.append(compact)
    return "\n".join(parts)


def cap(text: str, limit: int) -> tuple[str, int]:
    """``text`` cut to ``limit`` UTF-8 bytes with a note, and how many bytes were cut."""
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text, 0
    kept = encoded[:limit].decode("utf-8", errors="ignore")
    cut = len(encoded) - len(kept.encode("utf-8"))
    note = (f"\n[... cut: the result was {human_size(len(encoded))}; only its first "
            f"{human_size(limit)} are shown. Ask for less (a narrower query, a range, a "
            "page) to see the rest.]")
    return kept + note, cut


def to_tool_result(result: types.CallToolResult, *, server: str, tool: str,
                   limit: int) -> ToolResult:
    """The tool message for ``result`` of ``tool`` (its MCP name) on ``server``."""
    text, cut = cap(result_text(result), limit)
    metadata: dict[str, Any] = {"mcp_server": server, "mcp_tool": tool}
    if cut:
        metadata["truncated_bytes"] = cut
    if result.is_error:
        reason = text or f"{tool} reported an error without saying why"
        shown = reason if reason.lower().startswith("error") else f"Error: {reason}"
        return ToolResult.error(shown, kind="tool_error", **metadata)
    return ToolResult(text=text, metadata=MappingProxyType(metadata))

"""Reading a server-sent-events stream of OpenAI-style JSON chunks.

An OpenAI-compatible ``/v1/completions`` call with ``"stream": true`` answers
``text/event-stream``: events separated by blank lines, each with ``data:`` lines holding
one JSON chunk, the stream closed by ``data: [DONE]``. Comment lines (``:``) and other
fields (``event:``, ``id:``, ``retry:``) are ignored.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

from gptoss_agent.agent.backends.errors import ServerProtocolError

DONE = "[DONE]"


async def iter_sse_data(lines: AsyncIterable[str]) -> AsyncIterator[str]:
    """Yield the ``data`` payload of each event (multi-line data joined with newlines)."""
    buffer: list[str] = []
    async for raw in lines:
        line = raw.rstrip("\r\n")
        if not line:
            if buffer:
                yield "\n".join(buffer)
                buffer = []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        if field == "data":
            buffer.append(value[1:] if value.startswith(" ") else value)
    if buffer:
        yield "\n".join(buffer)


async def iter_json_chunks(lines: AsyncIterable[str]) -> AsyncIterator[dict[str, Any]]:
    """Yield each JSON chunk of the stream, stopping at ``[DONE]``.

    Raises:
        ServerProtocolError: A payload is not a JSON object.
    """
    async for data in iter_sse_data(lines):
        if data.strip() == DONE:
            return
        try:
            chunk = json.loads(data)
        except json.JSONDecodeError as error:
            raise ServerProtocolError(f"stream chunk is not JSON: {data[:200]!r}") from error
        if not isinstance(chunk, dict):
            raise ServerProtocolError(f"stream chunk is not a JSON object: {data[:200]!r}")
        yield chunk

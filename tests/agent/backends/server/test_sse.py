"""Parsing server-sent events into JSON chunks."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from gptoss_agent.agent.backends.errors import ServerProtocolError
from gptoss_agent.agent.backends.server.sse import iter_json_chunks, iter_sse_data


async def _lines(*lines: str) -> AsyncIterator[str]:
    for line in lines:
        yield line


async def test_events_comments_and_multiline_data() -> None:
    lines = _lines(": keep-alive", "event: message", "data: a", "data: b", "", "data:c", "")
    assert [d async for d in iter_sse_data(lines)] == ["a\nb", "c"]


async def test_json_chunks_stop_at_done() -> None:
    lines = _lines('data: {"x": 1}', "", "data: [DONE]", "", 'data: {"x": 2}', "")
    assert [c async for c in iter_json_chunks(lines)] == [{"x": 1}]


async def test_last_event_without_blank_line_is_kept() -> None:
    assert [c async for c in iter_json_chunks(_lines('data: {"y": 2}'))] == [{"y": 2}]


async def test_garbage_is_a_protocol_error() -> None:
    with pytest.raises(ServerProtocolError):
        [c async for c in iter_json_chunks(_lines("data: not json", ""))]
    with pytest.raises(ServerProtocolError):
        [c async for c in iter_json_chunks(_lines("data: [1, 2]", ""))]

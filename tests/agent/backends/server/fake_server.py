"""A small, scriptable, misbehaving OpenAI-style server on 127.0.0.1 for client tests.

Each request takes the next *behaviour* from a script: answer with a status code, stream
SSE chunks (optionally hanging up midway), or stall without answering. Every request's
JSON body and headers are recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Status:
    """Answer ``code`` with ``body`` (JSON) and extra headers."""

    code: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Stream:
    """Stream ``chunks`` as SSE; with ``hang_up_after``, hang up after that many chunks."""

    chunks: list[dict[str, Any]]
    hang_up_after: int | None = None


@dataclass
class Stall:
    """Accept the request and never answer (until the server closes)."""


@dataclass
class Gate:
    """Wait until ``count`` requests are inside a gate, then stream ``then``."""

    count: int
    then: Callable[[dict[str, Any]], Stream]


def text_chunks(
    pieces: list[str], finish: str | None, stop_reason: Any = None
) -> list[dict[str, Any]]:
    """Completion chunks carrying ``pieces`` of text, then a finish reason."""
    chunks = [{"choices": [{"index": 0, "text": piece, "finish_reason": None}]} for piece in pieces]
    if finish is not None:
        chunks.append(
            {
                "choices": [
                    {"index": 0, "text": "", "finish_reason": finish, "stop_reason": stop_reason}
                ]
            }
        )
    return chunks


class FakeServer:
    """Serve ``script`` behaviours in order (the last one repeats)."""

    def __init__(self, script: list[Any]) -> None:
        self.script = list(script)
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._server: asyncio.Server | None = None
        self._closing = asyncio.Event()
        self._inside_gate = 0
        self._gate_open = asyncio.Event()
        self.url = ""

    async def __aenter__(self) -> FakeServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/v1"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._closing.set()
        assert self._server is not None
        self._server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 5)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._serve_one(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request_line = await reader.readline()
        if not request_line:
            return
        headers: dict[str, str] = {}
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        payload = json.loads(body or b"{}")
        self.requests.append(payload)
        self.headers.append(headers)
        behaviour = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(behaviour, Gate):
            self._inside_gate += 1
            if self._inside_gate >= behaviour.count:
                self._gate_open.set()
            await self._gate_open.wait()
            behaviour = behaviour.then(payload)
        if isinstance(behaviour, Status):
            data = json.dumps(behaviour.body).encode() if behaviour.body is not None else b""
            extra = "".join(f"{k}: {v}\r\n" for k, v in behaviour.headers.items())
            writer.write(
                f"HTTP/1.1 {behaviour.code} X\r\nContent-Type: application/json\r\n{extra}"
                f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode()
                + data
            )
            await writer.drain()
        elif isinstance(behaviour, Stall):
            await self._closing.wait()
        elif isinstance(behaviour, Stream):
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
            )
            for index, chunk in enumerate(behaviour.chunks):
                if behaviour.hang_up_after is not None and index >= behaviour.hang_up_after:
                    await writer.drain()
                    return  # the connection closes without [DONE] or a finish reason
                writer.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
                await writer.drain()
            writer.write(b"data: [DONE]\n\n")
            await writer.drain()

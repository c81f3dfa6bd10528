"""Serving an SDK ``Server`` over stdin/stdout, stoppable by a signal at any time.

The SDK's stdio transport reads stdin in a worker thread that a cancellation has to wait
for, so a server blocked on an idle client could not stop on SIGTERM. Here stdin is read
by a daemon thread that hands lines to the event loop (:class:`StdinLines`); the server
can be cancelled while it waits, and the thread never holds up the process's exit. The
wire descriptor is duplicated and fd 0 pointed at the null device, so nothing else in
the process (or a child) can read the client's bytes. Writing stays the SDK's: it points
fd 1 at stderr while serving, so stray output cannot corrupt the wire.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from typing import Any, BinaryIO, cast

import anyio
from mcp.server import Server
from mcp.server.stdio import stdio_server


class StdinLines:
    """The lines of a binary stream, read by a daemon thread, as an async iterator."""

    def __init__(self, stream: BinaryIO) -> None:
        """Start reading ``stream``; call from inside the running event loop."""
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._thread = threading.Thread(
            target=self._read, args=(stream,), name="mcp-stdin", daemon=True
        )
        self._thread.start()

    def _read(self, stream: BinaryIO) -> None:
        try:
            for raw in stream:
                self._put(raw.decode("utf-8", errors="replace"))
        except (OSError, ValueError):
            pass
        finally:
            self._put(None)

    def _put(self, item: str | None) -> None:
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody is reading
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)

    def __aiter__(self) -> StdinLines:
        return self

    async def __anext__(self) -> str:
        line = await self._queue.get()
        if line is None:
            raise StopAsyncIteration
        return line


@contextlib.contextmanager
def claim_stdin() -> Iterator[BinaryIO]:
    """The client's stdin as a private binary stream, with fd 0 on the null device."""
    try:
        wire = os.dup(0)
    except OSError:  # no usable fd 0 (a test harness): read what sys.stdin has
        yield sys.stdin.buffer
        return
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    try:
        yield os.fdopen(wire, "rb", closefd=False)
    finally:
        os.dup2(wire, 0)
        # ``wire`` stays open: the daemon reader may still be blocked on it.


async def serve_stdio(server: Server[Any]) -> None:
    """Serve one client over stdin/stdout until it disconnects (or the task is cancelled)."""
    with claim_stdin() as stream:
        lines = StdinLines(stream)
        # The SDK only iterates its ``stdin`` argument line by line.
        async with stdio_server(stdin=cast("anyio.AsyncFile[str]", lines)) as (read, write):
            await server.run(read, write, server.create_initialization_options())

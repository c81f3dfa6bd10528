"""The event loop, on its own thread, where MCP connections live when no caller loop will do.

An MCP connection is a task group holding a child process (or an HTTP client) open, and
the SDK ties it to the event loop that opened it. The agent, though, builds its prompt
(reading each tool's ``spec``) from synchronous code, and may run each turn in a fresh
loop (``Agent.run_sync`` calls ``asyncio.run``). A connection first needed from plain
code, or whose loop has closed, lives on this one long-lived loop instead (see
:mod:`.home`): callers in any loop await it through :meth:`LoopThread.run`, synchronous
code blocks on :meth:`LoopThread.wait`, and at interpreter exit every connection still
open here is closed, so no server process outlives us.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import itertools
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
_EXIT_GRACE_S = 10.0


class LoopThread:
    """An asyncio loop running forever on a daemon thread."""

    def __init__(self, name: str = "gptoss-agent-mcp") -> None:
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._closers: dict[int, Callable[[], Coroutine[Any, Any, None]]] = {}
        self._ids = itertools.count(1)
        self._thread.start()
        self._ready.wait()

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._ready.set)
        self.loop.run_forever()

    @property
    def alive(self) -> bool:
        """Whether the loop still runs."""
        return self._thread.is_alive() and not self.loop.is_closed()

    def in_loop_thread(self) -> bool:
        """Whether the caller runs on this loop's thread."""
        return threading.get_ident() == self._thread.ident

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Start ``coro`` on the loop; its future can be waited on from any thread."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the loop and await its result from the caller's loop.

        Cancelling the caller cancels ``coro`` too.
        """
        return await asyncio.wrap_future(self.submit(coro))

    def wait(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the loop and block the calling thread until it is done.

        Raises:
            RuntimeError: Called from the loop's own thread (it would wait forever).
            TimeoutError: ``timeout`` seconds passed first (``coro`` is cancelled).
        """
        if self.in_loop_thread():
            coro.close()
            raise RuntimeError("LoopThread.wait called from its own loop")
        future = self.submit(coro)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"no answer within {timeout} seconds") from None

    def keep_closed(self, closer: Callable[[], Coroutine[Any, Any, None]]) -> int:
        """Register ``closer`` to be run at interpreter exit; returns a key for :meth:`forget`."""
        key = next(self._ids)
        self._closers[key] = closer
        return key

    def forget(self, key: int) -> None:
        """Do not run the closer registered under ``key`` at exit (it ran already)."""
        self._closers.pop(key, None)

    def close_all(self, timeout: float = _EXIT_GRACE_S) -> None:
        """Run every registered closer (at interpreter exit), waiting up to ``timeout``."""
        closers = list(self._closers.values())
        self._closers.clear()
        if not closers or not self.alive or self.in_loop_thread():
            return

        async def everything() -> None:
            await asyncio.gather(*(closer() for closer in closers), return_exceptions=True)

        try:
            self.wait(everything(), timeout)
        except (TimeoutError, RuntimeError):
            return


_shared: LoopThread | None = None
_lock = threading.Lock()


def shared_loop() -> LoopThread:
    """The process's MCP loop, started on first use."""
    global _shared
    with _lock:
        if _shared is None or not _shared.alive:
            _shared = LoopThread()
        return _shared


@atexit.register
def _close_at_exit() -> None:
    if _shared is not None:
        _shared.close_all()

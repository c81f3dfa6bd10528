"""Where one server's connection lives: the caller's event loop, or the MCP loop thread.

The SDK ties a connection to the loop that opened it. Two homes serve two ways of use:

- **The caller's loop**, when the first use is ``await server.start()`` (or a call) in a
  running loop: calls then go straight to the SDK, with no thread hop (the hop costs
  more than the rest of our layer together: see ``bench/mcp_overhead.py``).
- **The MCP loop thread** (:mod:`.runner`), when the first use is synchronous (the agent
  reads ``spec`` while it is built, from plain code), or when the loop the connection
  lived on has closed (``Agent.run_sync`` runs each turn in a fresh loop): the
  connection then outlives every caller loop, and calls from any loop hop to it.

A loop that closes with a connection still open cancels its tasks, and the connection's
holder task stops the server process as it ends. A later call moves the server to the
MCP loop thread, where it is started again with its listing's revision carried on.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from gptoss_agent.tools.mcp.config import MCPServerConfig
from gptoss_agent.tools.mcp.errors import MCPServerError
from gptoss_agent.tools.mcp.listing import Listing
from gptoss_agent.tools.mcp.runner import LoopThread, shared_loop
from gptoss_agent.tools.mcp.supervisor import Supervisor

T = TypeVar("T")
Job = Callable[[Supervisor], Coroutine[Any, Any, T]]


@dataclass(frozen=True)
class Home:
    """A supervisor and the loop it runs on.

    Attributes:
        loop: The event loop the connection lives on.
        supervisor: The server's state there.
        thread: The MCP loop thread, when the home is there.
        exit_key: Its closer's key in the thread's exit hook.
    """

    loop: asyncio.AbstractEventLoop
    supervisor: Supervisor
    thread: LoopThread | None = None
    exit_key: int | None = None

    def serves(self, running: asyncio.AbstractEventLoop | None) -> bool:
        """Whether calls from ``running`` (``None``: synchronous code) can be served here."""
        if self.loop.is_closed():
            return False
        return self.loop is running or self.loop.is_running()


class Homes:
    """The home of one server: chosen on first use, moved when its loop is gone.

    Args:
        config: The server.
        thread: The MCP loop thread to use (the process's shared one by default).
    """

    def __init__(self, config: MCPServerConfig, thread: LoopThread | None = None) -> None:
        self._config, self._thread = config, thread
        self._home: Home | None = None
        self._lock = threading.Lock()
        self.closed = False
        self.kept: Listing | None = None  # the last listing, still shown once closed

    @property
    def supervisor(self) -> Supervisor | None:
        """The current home's supervisor, if there is one."""
        home = self._home
        return home.supervisor if home is not None else None

    def _choose(self, running: asyncio.AbstractEventLoop | None) -> Home:
        with self._lock:
            if self.closed:
                raise MCPServerError(f"MCP server {self._config.name!r} is closed")
            home = self._home
            if home is not None and home.serves(running):
                return home
            if home is None and running is not None:
                self._home = Home(running, Supervisor(self._config))
            else:
                self._home = self._on_thread(home)
            return self._home

    def _on_thread(self, old: Home | None) -> Home:
        thread = self._thread = self._thread if self._thread is not None else shared_loop()
        supervisor = Supervisor(self._config)
        if old is not None:
            supervisor.carry(old.supervisor)
            self._retire(old)
        key = thread.keep_closed(supervisor.close)
        return Home(thread.loop, supervisor, thread, key)

    @staticmethod
    def _retire(home: Home) -> None:
        """Close a home being left (its loop may still run, on another thread)."""
        if home.thread is not None and home.exit_key is not None:
            home.thread.forget(home.exit_key)
        if not home.loop.is_closed():
            with contextlib.suppress(RuntimeError):
                asyncio.run_coroutine_threadsafe(home.supervisor.close(), home.loop)

    async def run(self, job: Job[T]) -> T:
        """Run ``job`` on the home's supervisor, from the caller's loop."""
        running = asyncio.get_running_loop()
        home = self._choose(running)
        if home.loop is running:
            return await job(home.supervisor)
        future = asyncio.run_coroutine_threadsafe(job(home.supervisor), home.loop)
        return await asyncio.wrap_future(future)

    def wait(self, job: Job[T]) -> T:
        """Run ``job`` and block until it is done (synchronous code).

        Raises:
            MCPServerError: The home is this thread's own running loop (waiting would
                never end): ``await server.start()`` first.
        """
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        home = self._choose(None)
        if home.loop is running:
            raise MCPServerError(f"MCP server {self._config.name!r} is starting on this "
                                 "event loop: await its start() before reading its spec")
        if home.thread is not None:
            return home.thread.wait(job(home.supervisor))
        return asyncio.run_coroutine_threadsafe(job(home.supervisor), home.loop).result()

    def close_soon(self) -> None:
        """Start closing from any thread, without waiting (a server dropped unclosed)."""
        home = self._home
        if home is not None and not home.loop.is_closed():
            with contextlib.suppress(RuntimeError):
                asyncio.run_coroutine_threadsafe(self.close(), home.loop)

    async def close(self) -> None:
        """Close the server wherever it lives; nothing can use it afterwards."""
        with self._lock:
            self.closed = True
            home, self._home = self._home, None
        if home is None:
            return
        self.kept = home.supervisor.listing
        if home.thread is not None and home.exit_key is not None:
            home.thread.forget(home.exit_key)
        if home.loop.is_closed():
            return  # its loop closed: its tasks ended, and stopped the process with them
        if home.loop is asyncio.get_running_loop():
            await home.supervisor.close()
        elif home.loop.is_running():
            future = asyncio.run_coroutine_threadsafe(home.supervisor.close(), home.loop)
            await asyncio.wrap_future(future)

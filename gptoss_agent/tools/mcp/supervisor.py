"""Keeping one MCP server usable: starting it, restarting it once, and its tool listing.

Everything here runs on the event loop the server lives on (see :mod:`.home`). The rules:

- The first start gets two attempts; if both fail the server is unavailable
  (:class:`~.errors.MCPServerError`, which ends the run: the model cannot fix it).
- When the connection is lost (the process exited, mid-call or while idle; the endpoint
  vanished; the server hung), the old process is stopped and the server is restarted
  once, right away (a call made meanwhile waits for it). A restart that fails, or a
  restarted server that is lost again before it answered one call, makes the server
  unavailable.
- A call that times out leaves the connection in doubt: the server is asked for its tool
  list (a cheap request) before the next call; a server that cannot answer that is hung,
  and is stopped and restarted like a crashed one.
- When the server says its tools changed, the list is fetched again (one fetch at a
  time, and once more if it changed again meanwhile) and a new :class:`~.listing.Listing`
  replaces the old one.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import mcp_types as types
from mcp.shared.exceptions import MCPError

from gptoss_agent.tools.base import ToolResult
from gptoss_agent.tools.mcp.config import MCPServerConfig
from gptoss_agent.tools.mcp.connection import Connection
from gptoss_agent.tools.mcp.errors import MCPServerError
from gptoss_agent.tools.mcp.listing import ListedTool, Listing, RemoteTool

logger = logging.getLogger(__name__)
_PROBE_S = 5.0
_DESCRIPTION_CHARS = 2000


class Supervisor:
    """The state of one server: its connection, its listing, its restart budget."""

    def __init__(self, config: MCPServerConfig) -> None:
        self.config = config
        self.listing: Listing | None = None
        self._conn: Connection | None = None
        self._pending: asyncio.Task[None] | None = None
        self._probe: asyncio.Task[None] | None = None
        self._refresh: asyncio.Task[None] | None = None
        self._refresh_again = False
        self._retiring: set[asyncio.Task[None]] = set()
        self._failure: MCPServerError | None = None
        self._unproven = False
        self._closed = False
        self._changed = asyncio.Event()

    @property
    def failure(self) -> MCPServerError | None:
        """Why the server cannot be used, once that is final."""
        return self._failure

    def carry(self, old: Supervisor) -> None:
        """Start from ``old``'s listing (a server moved to another loop)."""
        self.listing = old.listing

    async def start(self) -> Listing:
        """Connect (if not connected) and return the listing.

        Raises:
            MCPServerError: The server cannot be used.
        """
        await self.ensure()
        assert self.listing is not None
        return self.listing

    async def ensure(self) -> Connection:
        """A live connection, waiting for a start, restart or health check in progress."""
        while True:
            if self._closed:
                raise MCPServerError(f"MCP server {self.config.name!r} is closed")
            if self._failure is not None:
                raise self._failure
            if self._probe is not None:
                await asyncio.wait({self._probe})
                continue
            conn = self._conn
            if conn is not None and conn.alive:
                return conn
            if self._pending is None:
                self._pending = asyncio.create_task(self._connect(attempts=2))
            await asyncio.wait({self._pending})

    async def _connect(self, attempts: int, after: asyncio.Task[None] | None = None) -> None:
        try:
            if after is not None:
                await asyncio.wait({after})  # the old process is gone before a new one starts
            failure: MCPServerError | None = None
            for _ in range(attempts):
                conn = Connection(self.config, self.tools_changed, self._lost)
                try:
                    tools = await conn.open()
                except MCPServerError as exc:
                    failure = exc
                    continue
                self._conn = conn
                self._absorb(tools, conn.instructions)
                return
            tried = "its restart after it stopped" if after is not None else "tried twice"
            self._failure = MCPServerError(f"{failure}\n({tried})")
        finally:
            self._pending = None

    def _lost(self, conn: Connection, why: str = "stopped") -> None:
        """``conn`` ended (or hung): stop it and restart once, or give up."""
        if conn is not self._conn or self._closed:
            return
        self._conn = None
        retired = self._retire(conn)
        if self._unproven:
            stderr = conn.stderr_tail()
            self._failure = MCPServerError(
                f"MCP server {self.config.name!r} ({self.config.where}) {why} again after "
                "its restart, before it answered a call"
                + (f"; it wrote to stderr:\n{stderr}" if stderr else ""))
            return
        self._unproven = True
        logger.warning("MCP server %s %s; restarting it", self.config.name, why)
        self._pending = asyncio.create_task(self._connect(attempts=1, after=retired))

    def _retire(self, conn: Connection) -> asyncio.Task[None]:
        task = asyncio.create_task(conn.close())
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)
        return task

    async def call(self, tool: ListedTool, arguments: dict[str, Any], timeout_s: float,
                   shown: str) -> types.CallToolResult | ToolResult:
        """Call ``tool``; failures come back as error results (or raise when unavailable).

        Args:
            tool: The tool to call.
            arguments: Its (validated) arguments.
            timeout_s: The deadline of the request.
            shown: What the model called it (``functions.git_status``), for messages.

        Raises:
            MCPServerError: The server cannot be used any more.
        """
        conn = await self.ensure()
        mark = conn.stderr_size()
        try:
            result = await conn.call_tool(tool.remote.name, arguments, timeout_s)
        except MCPError as exc:
            if exc.code == types.CONNECTION_CLOSED:
                return self._crashed(conn, shown, mark)
            return self._refused(conn, exc, timeout_s, shown)
        except asyncio.CancelledError:
            self._check_health(conn)  # the caller's deadline: the server may be hung
            raise
        except Exception as exc:  # a result the SDK could not read or check
            if conn.ended.is_set():
                return self._crashed(conn, shown, mark)
            return ToolResult.error(f"Error: {shown} failed on the MCP server: "
                                    f"{type(exc).__name__}: {exc}", kind="mcp_error")
        self._unproven = False
        return result

    def _refused(self, conn: Connection, exc: MCPError, timeout_s: float,
                 shown: str) -> ToolResult:
        if exc.code == types.REQUEST_TIMEOUT:
            self._check_health(conn)
            return ToolResult.error(
                f"Error: {shown} did not answer within {timeout_s:g} seconds; the request "
                "was cancelled", kind="timeout")
        if exc.code == types.INVALID_PARAMS:
            self.tools_changed()  # an unknown tool or a changed schema: look again
            return ToolResult.invalid(
                f"Error: the MCP server refused the call to {shown}: {exc.error.message}",
                kind="schema_violation")
        return ToolResult.error(
            f"Error: {shown} failed on the MCP server: {exc.error.message} "
            f"(code {exc.code})", kind="mcp_error")

    def _crashed(self, conn: Connection, shown: str, mark: int) -> ToolResult:
        self._lost(conn)
        if self._failure is not None:
            raise self._failure
        if self._closed:
            raise MCPServerError(f"MCP server {self.config.name!r} was closed during the call")
        stderr = conn.stderr_tail(since=mark)
        said = f" It wrote to stderr:\n{stderr}\n" if stderr else " "
        return ToolResult.error(
            f"Error: the MCP server {self.config.name!r} stopped while answering {shown}."
            f"{said}It is being restarted; call again if repeating the call is safe.",
            kind="server_exited")

    def _check_health(self, conn: Connection) -> None:
        if self._probe is None and conn is self._conn and conn.alive:
            self._probe = asyncio.create_task(self._probe_health(conn))

    async def _probe_health(self, conn: Connection) -> None:
        try:
            limit = min(_PROBE_S, self.config.timeout_s, self.config.startup_timeout_s)
            if not await conn.answers(limit):
                self._lost(conn, why="stopped answering")
        finally:
            self._probe = None

    def tools_changed(self) -> None:
        """The server said its tools changed: fetch the list again."""
        if self._closed:
            return
        if self._refresh is not None:
            self._refresh_again = True
            return
        self._refresh = asyncio.create_task(self._refetch())

    async def _refetch(self) -> None:
        try:
            while True:
                self._refresh_again = False
                conn = self._conn
                if conn is None or not conn.alive:
                    return
                try:
                    async with asyncio.timeout(self.config.timeout_s):
                        tools = await conn.list_tools()
                except Exception as exc:
                    logger.warning("MCP server %s: listing its tools failed: %r",
                                   self.config.name, exc)
                    return
                self._absorb(tools, conn.instructions)
                if not self._refresh_again:
                    return
        finally:
            self._refresh = None

    async def settled(self) -> Listing | None:
        """The listing once any fetch in progress is done."""
        if self._refresh is not None:
            await asyncio.wait({self._refresh})
        return self.listing

    def _absorb(self, tools: list[RemoteTool], instructions: str) -> None:
        revision = self.listing.revision + 1 if self.listing is not None else 1
        listing = Listing.build(self.config.name, instructions[:_DESCRIPTION_CHARS], tools,
                                revision)
        known = () if self.listing is None else self.listing.collisions + self.listing.refused
        for note in listing.collisions + listing.refused:
            if note not in known:
                logger.warning("%s", note)
        self.listing = listing
        self._changed.set()
        self._changed = asyncio.Event()

    async def listing_after(self, revision: int) -> Listing:
        """The first listing newer than ``revision`` (waits for it).

        Raises:
            MCPServerError: The server became unusable or was closed meanwhile.
        """
        while self.listing is None or self.listing.revision <= revision:
            if self._closed or self._failure is not None:
                raise self._failure or MCPServerError(
                    f"MCP server {self.config.name!r} is closed")
            await self._changed.wait()
        return self.listing

    async def close(self) -> None:
        """Stop everything: the tasks, the connection, the process (idempotent)."""
        self._closed = True
        self._changed.set()
        for task in (self._pending, self._probe, self._refresh):
            if task is not None:
                task.cancel()
        waiting = [task for task in (self._pending, self._probe, self._refresh) if task]
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()
        if waiting or self._retiring:
            await asyncio.wait({*waiting, *self._retiring})

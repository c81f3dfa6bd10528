"""The MCP side of our servers: a low-level SDK ``Server`` over a toolset, per MCP session.

A *toolset* (:class:`ServedToolset`) is one of our tools seen from MCP: its tool list,
and calls made on behalf of a session id. :class:`SessionRouter` gives each MCP session
its own session id, runs that session's calls one at a time, and closes the session's
resources (a container, a browser context) when the MCP session ends:

- over stdio the process serves one client, so there is one session, ``mcp-stdio``,
  closed when the client disconnects or the server stops;
- over Streamable HTTP a session is what the SDK names with ``Mcp-Session-Id`` (the
  initialize handshake opens it; a ``DELETE``, the idle timeout or the server's stop ends
  it). The session id is ``mcp-<that id>``; the close is registered on the SDK's
  per-connection exit stack, which runs however the session ends.

The 2026-07-28 protocol has no sessions on HTTP, so :func:`build_server` answers
``server/discover`` over HTTP with the handshake-era versions only: a client in the SDK's
``auto`` mode then opens the handshake and gets a session (stateful Go SDK servers
advertise themselves the same way). A request without a session is refused with a
protocol error that says so.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextlib import AsyncExitStack
from typing import Any, Protocol

import anyio
import mcp_types as types
from mcp.server import Server, ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

from gptoss_agent import __version__

log = logging.getLogger(__name__)

STDIO_SESSION = "mcp-stdio"
"""The session id of the one client a stdio server has."""

SESSION_HEADER = "mcp-session-id"
NO_SESSION = (
    "This server keeps state per MCP session and this request belongs to none: connect "
    "with the initialize handshake (protocol 2025-11-25 or earlier; the SDK's Client does "
    "so against this server in its default 'auto' mode) and send its Mcp-Session-Id."
)


class ServedToolset(Protocol):
    """One of our tools as an MCP server sees it: tools, and calls per session id."""

    @property
    def name(self) -> str:
        """The server's name in ``serverInfo`` (``gptoss-python``)."""
        ...

    @property
    def instructions(self) -> str:
        """What a client is told about the server as a whole."""
        ...

    def tools(self) -> list[types.Tool]:
        """The MCP tools offered, with their input schemas."""
        ...

    async def start(self) -> None:
        """Check (and warm up) the machinery; raises ``ToolUnavailableError`` if missing."""
        ...

    async def call(
        self, session_id: str, name: str, arguments: Mapping[str, Any]
    ) -> types.CallToolResult:
        """Run tool ``name`` for ``session_id``; failures come back as ``is_error``."""
        ...

    async def close_session(self, session_id: str) -> None:
        """Free what ``session_id`` holds. Idempotent."""
        ...

    async def aclose(self) -> None:
        """Free everything. Idempotent."""
        ...


class SessionRouter:
    """Gives each MCP session its own tool session and closes it when the MCP session ends."""

    def __init__(self, toolset: ServedToolset, *, http: bool) -> None:
        """Route calls to ``toolset``; ``http`` selects how sessions are told apart."""
        self.toolset = toolset
        self._http = http
        self._names = frozenset(tool.name for tool in toolset.tools())
        self._locks: dict[str, anyio.Lock] = {}
        self._warned = False

    @property
    def http(self) -> bool:
        """Whether sessions are HTTP sessions (else the one stdio client)."""
        return self._http

    @property
    def open_sessions(self) -> tuple[str, ...]:
        """The session ids that have made a call and not ended yet."""
        return tuple(self._locks)

    async def call_tool(
        self, ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        """Run one ``tools/call`` in the caller's session, after its earlier calls.

        Raises:
            MCPError: The tool is unknown, or the request belongs to no session.
        """
        if params.name not in self._names:
            raise MCPError(code=types.INVALID_PARAMS, message=f"Unknown tool: {params.name}")
        session_id = self._session_of(ctx)
        lock = self._locks[session_id]
        async with lock:
            if self._locks.get(session_id) is not lock:  # the session ended while this waited
                raise MCPError(code=types.INVALID_REQUEST, message="The session has ended.")
            return await self.toolset.call(session_id, params.name, params.arguments or {})

    def _session_of(self, ctx: ServerRequestContext[Any, Any]) -> str:
        if not self._http:
            session_id = STDIO_SESSION
        else:
            headers = getattr(ctx.request, "headers", None)
            header = headers.get(SESSION_HEADER) if headers is not None else None
            if not header:
                raise MCPError(code=types.INVALID_REQUEST, message=NO_SESSION)
            session_id = f"mcp-{header}"
        if session_id not in self._locks:
            self._locks[session_id] = anyio.Lock()
            if self._http:
                self._close_with_connection(ctx, session_id)
        return session_id

    def _close_with_connection(self, ctx: ServerRequestContext[Any, Any], session_id: str) -> None:
        """Register the session's close on the SDK connection's exit stack.

        The SDK unwinds that stack however an HTTP session ends (DELETE, idle timeout,
        server stop). ``mcp`` 2.3 reaches the connection only through the request's
        session proxy; should that change, sessions are still closed when the server stops.
        """
        connection = getattr(ctx.session, "_connection", None)
        exit_stack = getattr(connection, "exit_stack", None)
        if isinstance(exit_stack, AsyncExitStack):
            exit_stack.push_async_callback(self.close, session_id)
        elif not self._warned:
            self._warned = True
            log.warning("mcp serve: sessions will be closed only when the server stops")

    async def close(self, session_id: str) -> None:
        """End one session: forget it and free its resources. Idempotent."""
        if self._locks.pop(session_id, None) is not None:
            try:
                await self.toolset.close_session(session_id)
            except Exception:
                log.exception("mcp serve: closing session %s failed", session_id)

    async def aclose(self) -> None:
        """End every session, then close the toolset."""
        for session_id in list(self._locks):
            await self.close(session_id)
        await self.toolset.aclose()


def build_server(router: SessionRouter) -> Server[Any]:
    """The SDK server answering ``tools/list`` and ``tools/call`` through ``router``."""
    toolset = router.toolset

    async def list_tools(
        ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=toolset.tools())

    server: Server[Any] = Server(
        toolset.name,
        version=__version__,
        instructions=toolset.instructions,
        on_list_tools=list_tools,
        on_call_tool=router.call_tool,
    )
    if router.http:

        async def discover(
            ctx: ServerRequestContext[Any, Any], params: types.RequestParams
        ) -> types.DiscoverResult:
            return types.DiscoverResult(
                supported_versions=list(HANDSHAKE_PROTOCOL_VERSIONS),
                capabilities=server.get_capabilities(),
                instructions=toolset.instructions,
            )

        server.add_request_handler("server/discover", types.RequestParams, discover)
    return server

"""``MCPServer``: one MCP server's tools as a tool group the agent can call.

It connects lazily, on first use: ``await server.start()`` in async code (the connection
then lives on that event loop, and calls go straight to the SDK), or the first read of
:attr:`MCPServer.spec` from synchronous code (the agent reads it when it is built; the
connection then lives on the process's MCP loop thread, and calls from any loop reach
it there). :mod:`.home` keeps that choice, and moves the server to the MCP loop thread
when the loop it lived on has closed (``Agent.run_sync`` runs each turn in a new loop).

One connection serves every agent session: the servers people use (git, filesystems,
time, issue trackers) keep no per-client state an agent session would need apart, a
process per session would cost a start (about a second) each, and a 2026-07-28 MCP
connection has no session to keep apart anyway. :meth:`MCPServer.close_session` holds
nothing to free.

A call is parsed and checked against the tool's input schema here, before anything is
sent (``invalid_json`` / ``schema_violation`` results), sent with a deadline of
``min(config.timeout_s, the loop's deadline)`` (a little under the loop's own, so the
model reads this tool's message), and its result mapped by :mod:`.results`. Failures of
the server itself are handled by :mod:`.supervisor`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import weakref
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from gptoss_agent.tools.base import NamespaceSpec, ToolCall, ToolContext, ToolResult
from gptoss_agent.tools.json_args import ArgumentsError
from gptoss_agent.tools.mcp.config import MCPServerConfig
from gptoss_agent.tools.mcp.home import Homes
from gptoss_agent.tools.mcp.listing import ListedTool, Listing
from gptoss_agent.tools.mcp.results import to_tool_result
from gptoss_agent.tools.mcp.runner import LoopThread
from gptoss_agent.tools.mcp.supervisor import Supervisor

_MARGIN_S = 0.25


class MCPServer:
    """The tools of one MCP server, shown as the group :attr:`name`.

    Implements the ``Tool``, ``ToolGroup`` and ``SessionScopedTool`` protocols of
    :mod:`gptoss_agent.tools.base`.

    Args:
        config: Where the server is and how its tools are shown.
        loop: The MCP loop thread to use when the connection lives on one (the
            process's shared one by default); see :mod:`.home`.

    Attributes:
        config: The server's settings.
        prefixed: Show the tools inside ``functions`` as ``<name>_<tool>`` (from
            ``config.prefixed``).
    """

    def __init__(self, config: MCPServerConfig, *, loop: LoopThread | None = None) -> None:
        self.config = config
        self.prefixed = config.prefixed
        self._homes = Homes(config, loop)
        self._finalizer = weakref.finalize(self, self._homes.close_soon)
        self._finalizer.atexit = False  # the loop thread's own exit hook waits for the close

    @property
    def name(self) -> str:
        """The group's name: the prefix or namespace of its tools."""
        return self.config.name

    def __repr__(self) -> str:
        return f"MCPServer({self.config.name!r}, {self.config.where!r})"

    async def start(self) -> None:
        """Start the server and list its tools, without blocking the caller's loop.

        The connection then lives on this loop (calls from it are the fastest); if the
        loop closes, the next use starts the server again on the MCP loop thread.

        Raises:
            MCPServerError: (a ``ToolUnavailableError``) It could not be started.
        """
        await self._homes.run(Supervisor.start)

    def _listing(self) -> Listing:
        if self._homes.kept is not None:
            return self._homes.kept  # closed: the last listing is still shown
        supervisor = self._homes.supervisor
        if supervisor is not None:
            if supervisor.listing is not None:
                return supervisor.listing
            if supervisor.failure is not None:
                raise supervisor.failure
        return self._homes.wait(Supervisor.start)

    @property
    def spec(self) -> NamespaceSpec:
        """The tools as the model is told about them; the first read starts the server.

        Read first from synchronous code, it connects on the MCP loop thread and blocks
        until the tools are listed.

        Raises:
            MCPServerError: The server could not be started.
        """
        return self._listing().spec

    @property
    def renamed(self) -> Mapping[str, str]:
        """Tool names that had to change to be identifiers: shown name -> MCP name."""
        return self._listing().renamed

    @property
    def collisions(self) -> tuple[str, ...]:
        """One sentence per clash of safe names (settled with a numbered suffix)."""
        return self._listing().collisions

    def annotations(self, name: str) -> Mapping[str, Any]:
        """The MCP annotations of the tool shown as ``name`` (``{}`` if unknown).

        Keys are as on the wire: ``readOnlyHint``, ``destructiveHint``,
        ``idempotentHint``, ``openWorldHint``, ``title``; approval rules may use them.
        """
        tool = self._listing().tools.get(name)
        return tool.remote.annotations if tool is not None else {}

    def is_idempotent(self, name: str | None) -> bool:
        """Whether the server marked tool ``name`` idempotent or read-only."""
        annotations = self.annotations(name or "")
        return annotations.get("idempotentHint") is True or \
            annotations.get("readOnlyHint") is True

    @property
    def tools_revision(self) -> int:
        """1 after the first listing, one more for every listing since."""
        return self._listing().revision

    async def wait_for_tools(self, after: int, timeout_s: float = 30.0) -> int:
        """Wait until the tools were listed again after revision ``after``; the new revision.

        Raises:
            TimeoutError: No new listing within ``timeout_s``.
            MCPServerError: The server became unusable meanwhile.
        """
        async with asyncio.timeout(timeout_s):
            listing = await self._homes.run(lambda s: s.listing_after(after))
        return listing.revision

    def _shown(self, name: str) -> str:
        return f"functions.{self.name}_{name}" if self.prefixed else f"{self.name}.{name}"

    async def _tool(self, name: str) -> ListedTool | None:
        supervisor = self._homes.supervisor
        listing = supervisor.listing if supervisor is not None else None
        if listing is None:
            listing = await self._homes.run(Supervisor.start)
        tool = listing.tools.get(name)
        if tool is None:  # the list may be changing right now
            listing = await self._homes.run(Supervisor.settled)
            tool = listing.tools.get(name) if listing is not None else None
        return tool

    def _deadline(self, context: ToolContext) -> float:
        timeout = self.config.timeout_s
        if context.timeout_s is not None:
            ahead = min(_MARGIN_S, context.timeout_s * 0.05)
            timeout = min(timeout, max(0.001, context.timeout_s - ahead))
        return timeout

    async def call(self, call: ToolCall, context: ToolContext) -> ToolResult:
        """Check the arguments, call the tool with a deadline, map its result.

        Raises:
            MCPServerError: The server cannot be used (it failed to start, or failed
                again after its one restart, or it was closed).
        """
        tool = await self._tool(call.name or "")
        shown = self._shown(call.name or "")
        if tool is None:
            supervisor = self._homes.supervisor
            listing = supervisor.listing if supervisor is not None else None
            available = listing.addresses(self.prefixed) if listing is not None else "none"
            return ToolResult.error(f"Error: there is no tool {shown} on the MCP server "
                                    f"{self.name!r}. Available: {available}",
                                    kind="unknown_tool")
        try:
            arguments = tool.parse(call.arguments)
        except ArgumentsError as exc:
            return self._tagged(ToolResult.invalid(f"Error: {exc}", kind=exc.kind), tool)
        deadline = self._deadline(context)
        outcome = await self._homes.run(lambda s: s.call(tool, arguments, deadline, shown))
        if isinstance(outcome, ToolResult):
            return self._tagged(outcome, tool)
        return to_tool_result(outcome, server=self.name, tool=tool.remote.name,
                              limit=self.config.max_result_bytes)

    def _tagged(self, result: ToolResult, tool: ListedTool) -> ToolResult:
        """``result`` with the server and the tool's MCP name in its metadata."""
        metadata = {**result.metadata, "mcp_server": self.name, "mcp_tool": tool.remote.name}
        return dataclasses.replace(result, metadata=MappingProxyType(metadata))

    async def close_session(self, session_id: str) -> None:
        """Nothing to free: one connection serves every session."""

    async def aclose(self) -> None:
        """Close the session and stop the server process (idempotent)."""
        self._finalizer.detach()
        await self._homes.close()

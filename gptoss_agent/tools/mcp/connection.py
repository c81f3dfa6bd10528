"""One live connection to an MCP server, held open by one task of the loop it lives on.

The SDK's ``Client`` is an async context manager whose task groups must be entered and
left by the same task, so a :class:`Connection` runs a *holder* task that enters the
client, lists the tools, listens for tools/list_changed (over a ``subscriptions/listen``
stream on a 2026-07-28 connection; older servers send the notification unasked), and
waits to be told to close. Calls are made from other tasks of the same loop.

The connection reports its own end (the server exited, the HTTP endpoint vanished) as
soon as it is seen: the read stream is watched for its end. A stdio server's stderr goes
to a temporary file whose last lines explain a failure. Leaving the client runs the SDK's
shutdown (close stdin, wait, terminate, kill the process group), so no process is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, TextIO, cast

import anyio
import httpx2
import mcp_types as types
from mcp.client.client import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from gptoss_agent import __version__
from gptoss_agent.tools.mcp.config import MCPServerConfig
from gptoss_agent.tools.mcp.errors import MCPServerError
from gptoss_agent.tools.mcp.listing import RemoteTool

logger = logging.getLogger(__name__)
_PAGE_CAP = 100
_STDERR_TAIL = 800


class _WatchedStream:
    """A read stream that says once when it has ended."""

    def __init__(self, inner: Any, on_end: Callable[[], None]) -> None:
        self._inner, self._on_end = inner, on_end

    @property
    def last_context(self) -> Any:
        return getattr(self._inner, "last_context", None)

    async def receive(self) -> Any:
        try:
            return await self._inner.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
            self._on_end()
            raise

    def __aiter__(self) -> _WatchedStream:
        return self

    async def __anext__(self) -> Any:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def __aenter__(self) -> _WatchedStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


@asynccontextmanager
async def _watched(transport: Any, on_end: Callable[[], None]) -> AsyncIterator[Any]:
    async with transport as (read_stream, write_stream):
        yield _WatchedStream(read_stream, on_end), write_stream


def _leaf(exc: BaseException) -> BaseException:
    """The first real error inside nested exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _annotations(tool: Any) -> dict[str, Any]:
    annotations = getattr(tool, "annotations", None)
    if annotations is None:
        return {}
    return dict(annotations.model_dump(by_alias=True, exclude_none=True, mode="json"))


class Connection:
    """One session with one server process (or HTTP endpoint).

    Args:
        config: The server.
        on_tools_changed: Called (on its loop) when the server says its tools changed.
        on_lost: Called once (on its loop) when the connection ends without
            :meth:`close` having been asked for.
    """

    def __init__(self, config: MCPServerConfig, on_tools_changed: Callable[[], None],
                 on_lost: Callable[[Connection], None]) -> None:
        self.config = config
        self._on_tools_changed, self._on_lost = on_tools_changed, on_lost
        self.ended = asyncio.Event()
        self._stop = asyncio.Event()
        self._client: Client | None = None
        self._task: asyncio.Task[None] | None = None
        self._errlog: TextIO | None = None
        self._stderr_kept: tuple[int, bytes] = (0, b"")
        self._closing = False
        self._lost_reported = False
        self.instructions = ""

    @property
    def alive(self) -> bool:
        """Whether calls can be sent (opened, not ended, not closing)."""
        return self._client is not None and not self.ended.is_set() and not self._closing

    async def open(self) -> list[RemoteTool]:
        """Start the server, shake hands and list its tools.

        Raises:
            MCPServerError: It could not be started, did not answer within the startup
                timeout, or failed the handshake or the listing.
        """
        ready: asyncio.Future[list[RemoteTool]] = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._hold(ready), name=f"mcp:{self.config.name}")
        try:
            done, _ = await asyncio.wait({ready}, timeout=self.config.startup_timeout_s)
        except asyncio.CancelledError:
            self._task.cancel()  # closed while starting: the holder stops the process
            await asyncio.wait({self._task})
            raise
        if not done:
            self._task.cancel()
            await asyncio.wait({self._task})
            raise MCPServerError(self._why(
                f"did not start and list its tools within {self.config.startup_timeout_s:g} "
                "seconds"))
        return ready.result()

    async def _hold(self, ready: asyncio.Future[list[RemoteTool]]) -> None:
        if self.config.command is not None:  # closed by _keep_stderr, once the process is gone
            self._errlog = cast(TextIO, tempfile.TemporaryFile(  # noqa: SIM115
                "w+", encoding="utf-8", errors="replace"))
        try:
            async with AsyncExitStack() as stack:
                client = await self._enter(stack)
                tools = await self.list_tools(client)
                self.instructions = client.instructions or ""
                async with anyio.create_task_group() as group:
                    if self._listens(client):
                        group.start_soon(self._listen, client)
                    self._client = client
                    ready.set_result(tools)
                    await self._stop.wait()
                    group.cancel_scope.cancel()
        except Exception as exc:
            if not ready.done():
                ready.set_exception(MCPServerError(self._why(self._reason(exc))))
            else:
                logger.debug("MCP server %s: the connection ended: %r", self.config.name, exc)
        finally:
            self._client = None
            self._keep_stderr()
            self.ended.set()
            self._report_lost()

    async def _enter(self, stack: AsyncExitStack) -> Client:
        config = self.config
        if config.command is not None:
            params = StdioServerParameters(command=config.command, args=list(config.args),
                                           env=dict(config.env) or None,
                                           cwd=os.fspath(config.cwd) if config.cwd else None)
            transport: Any = stdio_client(params, errlog=self._errlog or sys.stderr)
        else:
            http = await stack.enter_async_context(httpx2.AsyncClient(
                headers=dict(config.headers), timeout=httpx2.Timeout(30.0, read=300.0)))
            transport = streamable_http_client(str(config.url), http_client=http)
        client = Client(_watched(transport, self._report_lost), cache=None,
                        message_handler=self._on_message,
                        client_info=types.Implementation(name="gptoss-agent",
                                                         version=__version__))
        return await stack.enter_async_context(client)

    @staticmethod
    def _listens(client: Client) -> bool:
        tools = client.server_capabilities.tools
        return bool(tools and tools.list_changed
                    and client.protocol_version in MODERN_PROTOCOL_VERSIONS)

    async def _listen(self, client: Client) -> None:
        """Keep a listen stream open; its events reach :meth:`_on_message` as well."""
        try:
            async with client.listen(tools_list_changed=True) as subscription:
                async for _ in subscription:
                    pass
        except Exception as exc:  # the stream is a nicety: the connection stays
            logger.debug("MCP server %s: no tools/list_changed stream: %r",
                         self.config.name, exc)

    async def _on_message(self, message: Any) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            self._on_tools_changed()
        elif isinstance(message, Exception):
            logger.debug("MCP server %s: transport error: %r", self.config.name, message)

    async def list_tools(self, client: Client | None = None) -> list[RemoteTool]:
        """Every tool the server lists, following pages."""
        client = client or self._require()
        tools: list[Any] = []
        cursor: str | None = None
        for _ in range(_PAGE_CAP):
            page = await client.list_tools(cursor=cursor)
            tools.extend(page.tools)
            cursor = page.next_cursor
            if cursor is None:
                break
        return [RemoteTool(tool.name, tool.description or tool.title or "",
                           dict(tool.input_schema), _annotations(tool)) for tool in tools]

    async def call_tool(self, name: str, arguments: dict[str, Any],
                        timeout_s: float) -> types.CallToolResult:
        """``tools/call``; a late answer is an ``MCPError`` with code ``REQUEST_TIMEOUT``."""
        return await self._require().call_tool(name, arguments, read_timeout_seconds=timeout_s)

    async def answers(self, timeout_s: float) -> bool:
        """Whether the server answers a ``tools/list`` within ``timeout_s`` (after a timeout)."""
        try:
            async with asyncio.timeout(timeout_s):
                await self.list_tools()
        except (TimeoutError, MCPError, MCPServerError, OSError, httpx2.HTTPError):
            return False
        return True

    def _require(self) -> Client:
        if self._client is None or self._closing:
            raise MCPError(code=types.CONNECTION_CLOSED, message="Connection closed")
        return self._client

    async def close(self) -> None:
        """End the session and stop the server process (idempotent)."""
        self._closing = True
        self._stop.set()
        if self._task is not None:
            if self._client is None:
                self._task.cancel()  # still starting
            await asyncio.wait({self._task})

    def _report_lost(self) -> None:
        if self._closing or self._lost_reported or self._task is None:
            return
        if self._task.cancelling():
            return  # told to stop (its loop is closing): an end, not a loss
        if self._client is None and not self.ended.is_set():
            return  # still starting: open() reports the failure
        self._lost_reported = True
        self._on_lost(self)

    def _keep_stderr(self) -> None:
        """Keep the end of stderr and close its file (the process is gone)."""
        self._stderr_kept = self._read_stderr()
        if self._errlog is not None:
            with contextlib.suppress(OSError):
                self._errlog.close()
            self._errlog = None

    def _read_stderr(self) -> tuple[int, bytes]:
        """The offset and bytes of the end of the server's stderr."""
        if self._errlog is None or self._errlog.closed:
            return self._stderr_kept
        try:
            fd = self._errlog.fileno()
            size = os.fstat(fd).st_size
            start = max(0, size - _STDERR_TAIL * 4)
            return start, os.pread(fd, size - start, start)
        except OSError:
            return self._stderr_kept

    def stderr_size(self) -> int:
        """How many bytes the server has written to stderr so far."""
        if self._errlog is None or self._errlog.closed:
            start, data = self._stderr_kept
            return start + len(data)
        try:
            return os.fstat(self._errlog.fileno()).st_size
        except OSError:
            return 0

    def stderr_tail(self, since: int = 0) -> str:
        """The end of what the server wrote to stderr (after byte ``since``), stripped."""
        start, data = self._read_stderr()
        if since > start:
            data = data[since - start:]
        return data.decode("utf-8", errors="replace").strip()[-_STDERR_TAIL:]

    def _why(self, reason: str) -> str:
        stderr = self.stderr_tail()
        said = f"; it wrote to stderr:\n{stderr}" if stderr else ""
        return f"MCP server {self.config.name!r} ({self.config.where}) {reason}{said}"

    def _reason(self, exc: BaseException) -> str:
        exc = _leaf(exc)
        if isinstance(exc, FileNotFoundError | PermissionError):
            return f"could not be started: {exc.strerror or exc} ({self.config.command})"
        if isinstance(exc, MCPError) and exc.code == types.CONNECTION_CLOSED:
            return "exited before it finished the MCP handshake"
        if isinstance(exc, httpx2.HTTPError):
            return f"could not be reached: {type(exc).__name__}: {exc}"
        return f"failed to start: {type(exc).__name__}: {exc}"

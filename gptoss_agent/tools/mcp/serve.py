"""Our python sandbox and browser as MCP servers, for other agents (``gptoss-agent mcp serve``).

:func:`serve` runs one toolset -- :class:`~.serve_python.PythonToolset` (the tool
``python``) or :class:`~.serve_browser.BrowserToolset` (``search``, ``open``, ``find``)
-- as an MCP server over stdio (the default) or Streamable HTTP
(:class:`~.serve_http.HttpSettings`). Each MCP session gets its own tool session (a
sandbox container with its notebook, or a browser context with its page stack), closed
when the MCP session ends (:mod:`.serve_app`). The server stops when a stdio client
disconnects or on SIGINT/SIGTERM; either way every session's container or browser
context, and Chromium, are closed before :func:`serve` returns.

Modules: :mod:`.serve_app` (the SDK server, sessions), :mod:`.serve_stdio`,
:mod:`.serve_http` (transports), :mod:`.serve_python`, :mod:`.serve_browser` (the
toolsets).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Callable

import anyio

from gptoss_agent.tools.mcp.serve_app import ServedToolset, SessionRouter, build_server
from gptoss_agent.tools.mcp.serve_http import HttpSettings, is_loopback, serve_http
from gptoss_agent.tools.mcp.serve_stdio import serve_stdio

__all__ = ["HttpSettings", "ServedToolset", "is_loopback", "serve", "serve_async"]

log = logging.getLogger(__name__)

CLOSE_TIMEOUT_S = 30.0
"""The longest the final clean-up (containers, Chromium) may take after a stop."""

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


async def serve_async(
    toolset: ServedToolset,
    http: HttpSettings | None = None,
    *,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Start ``toolset`` and serve it until the stdio client leaves or a stop signal.

    SIGINT and SIGTERM are caught from start to finish: the first stops the server
    (gracefully over HTTP, at once over stdio), later ones are ignored so that the
    clean-up (containers, Chromium) always completes.

    Args:
        toolset: What to serve.
        http: Serve Streamable HTTP with these settings; ``None`` serves stdio.
        on_ready: Called once the toolset has started and the server is about to
            serve, with ``"stdio"`` or the HTTP endpoint's URL (its socket listening).

    Raises:
        ToolUnavailableError: The toolset's machinery (Docker, Chromium) is missing, or
            the HTTP address cannot be bound.
    """
    router = SessionRouter(toolset, http=http is not None)
    stop = anyio.Event()
    with anyio.open_signal_receiver(*STOP_SIGNALS) as signals:
        try:
            async with _single_errors(), anyio.create_task_group() as tasks:
                # Over HTTP a signal sets ``stop`` (a graceful shutdown); over stdio it
                # cancels the server.
                scope = None if http else tasks.cancel_scope
                tasks.start_soon(_stop_on_signal, signals, stop, scope)
                await toolset.start()
                server = build_server(router)
                if http is None:
                    if on_ready is not None:
                        on_ready("stdio")
                    await serve_stdio(server)
                else:
                    await serve_http(server, http, stop, on_ready)
                tasks.cancel_scope.cancel()
        finally:
            with anyio.move_on_after(CLOSE_TIMEOUT_S, shield=True) as cleanup:
                await router.aclose()
            if cleanup.cancelled_caught:
                log.warning("mcp serve: clean-up did not finish within %gs", CLOSE_TIMEOUT_S)


@contextlib.asynccontextmanager
async def _single_errors() -> AsyncIterator[None]:
    """Re-raise a task group's lone error as itself (``ToolUnavailableError``, not a group)."""
    try:
        yield
    except BaseExceptionGroup as group:
        error: BaseException = group
        while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
            error = error.exceptions[0]
        if error is group:
            raise
        raise error from None


async def _stop_on_signal(
    signals: AsyncIterator[int], stop: anyio.Event, scope: anyio.CancelScope | None
) -> None:
    """On the first signal, set ``stop`` and cancel ``scope`` (if given)."""
    async for received in signals:
        log.info("mcp serve: %s, stopping", signal.Signals(received).name)
        stop.set()
        if scope is not None:
            scope.cancel()
        return


def serve(
    toolset: ServedToolset,
    http: HttpSettings | None = None,
    *,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Run :func:`serve_async` in a new event loop; returns once everything is closed."""
    asyncio.run(serve_async(toolset, http, on_ready=on_ready))

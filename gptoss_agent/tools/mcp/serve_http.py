"""Serving an SDK ``Server`` over Streamable HTTP on uvicorn, behind an optional bearer key.

:class:`HttpSettings` says where to listen and with which key; an endpoint off loopback
must have one (:class:`~gptoss_agent.tools.errors.ToolConfigError` otherwise). The key is
checked on every request (``Authorization: Bearer KEY``, compared in constant time;
``401`` without it) before the SDK sees the request. The socket is bound before serving,
so a busy port is an error at start and ``--port 0`` gets a free port whose URL is
reported. Signals are the caller's: uvicorn's own handlers are not installed, and
:func:`serve_http` stops gracefully once its ``stop`` event is set.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import anyio
import uvicorn
from mcp.server import Server
from starlette.types import ASGIApp, Receive, Scope, Send

from gptoss_agent.tools.errors import ToolConfigError, ToolUnavailableError
from gptoss_agent.tools.loopback import is_loopback

GRACEFUL_SHUTDOWN_S = 5.0
"""How long open requests (a client's event stream) may run on after a stop."""


@dataclass(frozen=True)
class HttpSettings:
    """Where and how the Streamable HTTP endpoint listens.

    Attributes:
        host: The address to bind; off loopback an ``api_key`` is required.
        port: The port; ``0`` picks a free one.
        api_key: The bearer token every request must carry, or ``None`` (loopback only).
        path: The endpoint's path.
        max_sessions: Most MCP sessions open at once (one sandbox or browser context
            each); beyond it a new session is answered ``503``.
        idle_timeout_s: A session with no request in flight for this long is ended.

    Raises:
        ToolConfigError: A setting is out of range, or a non-loopback host has no key.
    """

    host: str = "127.0.0.1"
    port: int = 8765
    api_key: str | None = None
    path: str = "/mcp"
    max_sessions: int = 16
    idle_timeout_s: float = 1800.0

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ToolConfigError(f"port must be between 0 and 65535, got {self.port}")
        if not self.path.startswith("/"):
            raise ToolConfigError(f"the endpoint path must start with '/', got {self.path!r}")
        if self.max_sessions < 1 or not self.idle_timeout_s > 0:
            raise ToolConfigError("max_sessions and idle_timeout_s must be positive")
        if self.api_key is not None and not self.api_key.strip():
            raise ToolConfigError("the API key is empty")
        if self.api_key is None and not is_loopback(self.host):
            raise ToolConfigError(
                f"an HTTP endpoint on {self.host} (off loopback) needs an API key "
                "(--api-key-env NAME, the variable holding it)"
            )

    def url(self, port: int | None = None) -> str:
        """The endpoint's URL (on ``port`` once bound)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port if port is None else port}{self.path}"


class BearerKey:
    """ASGI middleware: every HTTP request must carry ``Authorization: Bearer <key>``."""

    def __init__(self, app: ASGIApp, key: str) -> None:
        """Guard ``app`` with ``key``."""
        self._app = app
        self._expected = f"Bearer {key}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass an authorised request (and non-HTTP scopes) on; answer others ``401``."""
        if scope["type"] != "http" or self._authorized(scope):
            await self._app(scope, receive, send)
            return
        body = json.dumps({
            "error": "invalid_token",
            "error_description": "this endpoint needs Authorization: Bearer <API key>",
        }).encode()
        await send({
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"www-authenticate", b'Bearer error="invalid_token"'),
            ],
        })
        await send({"type": "http.response.body", "body": body})

    def _authorized(self, scope: Scope) -> bool:
        given = [value for name, value in scope["headers"] if name == b"authorization"]
        return len(given) == 1 and hmac.compare_digest(given[0], self._expected)


def http_app(server: Server[Any], settings: HttpSettings) -> ASGIApp:
    """The Starlette app of ``server``'s endpoint, behind the key when one is set."""
    app: ASGIApp = server.streamable_http_app(
        streamable_http_path=settings.path,
        host=settings.host,
        max_sessions=settings.max_sessions,
        session_idle_timeout=settings.idle_timeout_s,
    )
    return app if settings.api_key is None else BearerKey(app, settings.api_key)


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port``.

    Raises:
        ToolUnavailableError: The address cannot be bound (in use, not ours).
    """
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
        family, _, _, _, address = infos[0]
        return socket.create_server(address[:2], family=family)
    except OSError as exc:
        raise ToolUnavailableError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}"
        ) from exc


class _Uvicorn(uvicorn.Server):
    """uvicorn without its signal handlers: the caller decides when to stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve_http(
    server: Server[Any],
    settings: HttpSettings,
    stop: anyio.Event,
    on_listening: Callable[[str], None] | None = None,
) -> None:
    """Serve ``server`` until ``stop`` is set, then shut down gracefully.

    Raises:
        ToolUnavailableError: The address cannot be bound.
    """
    sock = bind(settings.host, settings.port)
    config = uvicorn.Config(
        http_app(server, settings),
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=int(GRACEFUL_SHUTDOWN_S),
    )
    web = _Uvicorn(config)

    async def stop_on_event() -> None:
        await stop.wait()
        web.should_exit = True

    try:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(stop_on_event)
            if on_listening is not None:
                on_listening(settings.url(sock.getsockname()[1]))
            await web.serve(sockets=[sock])
            tasks.cancel_scope.cancel()
    finally:
        sock.close()

"""Running an ASGI app on uvicorn until SIGINT or SIGTERM, then stopping gracefully.

:func:`serve_until_signalled` binds the socket first (a busy port is an ``OSError`` at
start, and port ``0`` gets a free port whose URL is reported), installs its own signal
handlers instead of uvicorn's, reports the URL as soon as the socket listens (clients
that connect before uvicorn accepts wait in the backlog), and returns once a signal has
stopped the server and open requests have finished (or :data:`GRACEFUL_SHUTDOWN_S` has
passed). uvicorn is imported here only.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from collections.abc import Callable, Iterator

import uvicorn
from starlette.types import ASGIApp

GRACEFUL_SHUTDOWN_S = 10
"""How long open requests (a client's event stream) may run on after a signal."""


class _Uvicorn(uvicorn.Server):
    """uvicorn without its own signal handlers: :func:`serve_until_signalled` has them."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (``0``: any free port).

    Raises:
        OSError: The address cannot be bound.
    """
    infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
    family, _, _, _, address = infos[0]
    return socket.create_server(address[:2], family=family)


def api_url(host: str, port: int) -> str:
    """The API root URL of a server on ``host:port``."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/v1"


async def serve_until_signalled(app: ASGIApp, host: str, port: int,
                                on_listening: Callable[[str], None]) -> None:
    """Serve ``app``, call ``on_listening`` with the API root URL, stop on SIGINT/SIGTERM.

    Raises:
        OSError: The address cannot be bound.
    """
    sock = bind(host, port)
    web = _Uvicorn(uvicorn.Config(app, log_level="warning", access_log=False,
                                  lifespan="off", timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S))
    loop = asyncio.get_running_loop()

    def stop() -> None:
        web.should_exit = True

    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop)
        # The socket listens already: a client connecting now waits in its backlog.
        on_listening(api_url(host, sock.getsockname()[1]))
        await web.serve(sockets=[sock])
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        sock.close()

"""A plain socket in front of an attach stream that is not one (TLS, ssh).

asyncio can drive a plain unix or tcp socket, but an engine reached over TLS
(``DOCKER_TLS_VERIFY``) hands back an ``ssl.SSLSocket`` and one reached over ``ssh://`` a
channel object. :func:`bridge` pairs such a stream with one end of a local socket pair and
copies bytes both ways in two daemon threads, so the session talks to the other end as if
it were the engine's socket. Closing either side ends both.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Any

_CHUNK = 65536


def is_plain(sock: object) -> bool:
    """Whether asyncio can use ``sock`` directly (a plain unix or tcp socket)."""
    return type(sock) is socket.socket


def bridge(stream: Any) -> socket.socket:
    """A plain socket whose peer copies bytes to and from ``stream``.

    Args:
        stream: Anything with ``recv``, ``sendall`` and ``close`` (an ``SSLSocket``, a
            paramiko channel, docker-py's ssh socket).

    Returns:
        The caller's end; closing it closes ``stream`` too.
    """
    ours, theirs = socket.socketpair()
    with contextlib.suppress(AttributeError, OSError, ValueError):
        stream.settimeout(None)

    def close_all() -> None:
        for end in (theirs, stream):
            # shutdown first: it wakes the other pump's blocked recv and sends the EOF.
            with contextlib.suppress(Exception):
                end.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(Exception):
                end.close()

    def pump(source: Any, target: Any) -> None:
        try:
            while True:
                data = source.recv(_CHUNK)
                if not data:
                    break
                target.sendall(data)
        except Exception:  # either side went away: that ends the stream
            pass
        finally:
            close_all()  # buffered bytes stay readable on our end, then it reads EOF

    for source, target, name in ((stream, theirs, "in"), (theirs, stream, "out")):
        threading.Thread(
            target=pump, args=(source, target), daemon=True, name=f"attach-bridge-{name}"
        ).start()
    return ours

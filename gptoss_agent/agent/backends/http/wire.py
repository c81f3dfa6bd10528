"""The little HTTP/1.1 that ``gptoss-agent serve`` speaks, on asyncio streams.

:func:`read_request` reads one request (request line, headers, a ``Content-Length``
body); :func:`send_json` writes a JSON answer; :func:`error_body` is the OpenAI-style
error object. A request the server cannot read raises :class:`HTTPError` with the status
to answer.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from gptoss_agent.agent.backends.errors import BackendError

MAX_BODY = 64 * 1024 * 1024
"""Largest request body accepted (bytes)."""

_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
    500: "Internal Server Error",
}


class HTTPError(BackendError):
    """A request the server answers with an error status.

    Attributes:
        status: The HTTP status to answer with.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


Request = tuple[str, str, dict[str, str], bytes]
"""One request: method, path, headers (lower-case names) and body."""


async def read_request(reader: asyncio.StreamReader) -> Request | None:
    """Read one request, or ``None`` when the client closed the connection.

    Raises:
        HTTPError: A malformed request line (400) or a body over :data:`MAX_BODY` (413).
        asyncio.IncompleteReadError: The connection closed inside the body.
    """
    line = await reader.readline()
    if not line:
        return None
    try:
        method, path, _ = line.decode("latin-1").split(" ", 2)
    except ValueError as error:
        raise HTTPError(400, "malformed request line") from error
    headers: dict[str, str] = {}
    while True:
        raw = await reader.readline()
        if raw in (b"\r\n", b"\n", b""):
            break
        name, _, value = raw.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or 0)
    if length > MAX_BODY:
        raise HTTPError(413, "body too large")
    body = await reader.readexactly(length) if length else b""
    return method, path, headers, body


async def send_json(writer: asyncio.StreamWriter, status: int, payload: Any) -> None:
    """Write a complete JSON answer with ``status``."""
    data = json.dumps(payload).encode()
    head = (
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
    )
    writer.write(head.encode() + data)
    await writer.drain()


def error_body(message: str, status: int) -> dict[str, Any]:
    """The OpenAI-style error object for ``message`` answered with ``status``."""
    kind = "invalid_request_error" if status < 500 else "server_error"
    return {"error": {"message": message, "type": kind, "code": status}}

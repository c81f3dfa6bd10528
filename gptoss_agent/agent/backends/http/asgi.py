"""The ASGI pieces every served app shares: body limits, bearer keys, JSON errors.

:class:`BodyLimit` answers ``413`` before a handler reads more than the limit;
:class:`BearerKey` answers ``401`` unless a request carries ``Authorization: Bearer KEY``
(compared in constant time; ``/health`` stays open); :func:`error_handlers` turns
Starlette's own 404/405, any :class:`~.errors.HTTPError` and a crash (500) into
OpenAI-shaped JSON.
Starlette is imported here and in the other modules of this folder only.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gptoss_agent.agent.backends.http.errors import HTTPError, error_body

MAX_BODY = 64 * 1024 * 1024
"""Default largest request body accepted (bytes)."""

OPEN_PATHS = ("/health", "/v1/health")
"""Paths answered without a key (a load balancer's health check)."""


def json_error(error: HTTPError) -> JSONResponse:
    """The JSON answer of ``error``."""
    headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
    return JSONResponse(error.body(), status_code=error.status, headers=headers)


async def _send_error(send: Send, error: HTTPError) -> None:
    data = json.dumps(error.body()).encode()
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(data)).encode()), (b"connection", b"close")]
    if error.status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


class BodyLimit:
    """ASGI middleware: a request body over ``limit`` bytes is answered ``413``.

    A declared ``Content-Length`` over the limit is refused before reading; a chunked
    body is read (up to the limit) before the app sees it, then handed on unchanged.
    """

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY) -> None:
        """Guard ``app``; ``limit`` is in bytes."""
        self._app = app
        self._limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse a body over the limit, else pass the request on."""
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit():
            if int(declared) > self._limit:
                await _send_error(send, self._error())
                return
            await self._app(scope, receive, send)  # the server stops at the length
            return
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            size += len(message.get("body", b""))
            if size > self._limit:
                await _send_error(send, self._error())
                return
            if message["type"] != "http.request" or not message.get("more_body"):
                break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self._app(scope, replay, send)

    def _error(self) -> HTTPError:
        return HTTPError(413, f"the request body is larger than {self._limit} bytes",
                         code="request_too_large")


class BearerKey:
    """ASGI middleware: every request but a health check needs ``Bearer <key>``."""

    def __init__(self, app: ASGIApp, key: str) -> None:
        """Guard ``app`` with ``key``."""
        self._app = app
        self._expected = f"Bearer {key}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass an authorised request on; answer others ``401``."""
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS or self._authorized(scope):
            await self._app(scope, receive, send)
            return
        await _send_error(send, HTTPError(
            401, "Incorrect or missing API key: send the header 'Authorization: Bearer "
            "<key>' with the key the server was started with.", code="invalid_api_key"))

    def _authorized(self, scope: Scope) -> bool:
        given = [value for name, value in scope["headers"] if name == b"authorization"]
        return len(given) == 1 and hmac.compare_digest(given[0], self._expected)


async def _http_exception(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 500)
    if status == 404:
        message = f"no route {request.url.path.rstrip('/') or '/'}"
    elif status == 405:
        message = f"use {_allowed(exc) or 'another method'}"
    else:
        message = str(getattr(exc, "detail", exc))
    return JSONResponse(error_body(message, status), status_code=status)


def _allowed(exc: Exception) -> str:
    headers: Mapping[str, str] = getattr(exc, "headers", None) or {}
    return headers.get("Allow", "").replace(", ", " or ")


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPError)
    return json_error(exc)


async def _server_error(request: Request, exc: Exception) -> Response:
    return JSONResponse(error_body(f"{type(exc).__name__}: {exc}", 500), status_code=500)


def error_handlers() -> dict[Any, Any]:
    """Starlette ``exception_handlers``: JSON bodies for 404, 405, :class:`HTTPError`, 500."""
    return {HTTPException: _http_exception, HTTPError: _http_error, Exception: _server_error}

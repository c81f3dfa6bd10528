"""The HTTP half of ``gptoss-agent serve``: an OpenAI-compatible completions server.

:class:`CompletionServer` serves a :class:`~gptoss_agent.agent.backends.base.ModelBackend`
(the transformers backend) at ``POST /v1/completions`` (token-id or text prompts, SSE
streaming or one JSON answer), ``GET /v1/models`` and ``GET /health``, with the small
HTTP/1.1 of :mod:`~gptoss_agent.agent.backends.http.wire` on asyncio. Each request is
keyed to a session (:mod:`~gptoss_agent.agent.backends.http.params`), so a client that
sends a session id keeps its KV cache across turns: the ``X-Session-Id`` header, else the
body's ``user`` field, else one shared session (whose cache still reuses the prefix of the
previous request).

Answers follow vLLM's shape: ``text`` with special tokens spelled out, plus the exact
``token_ids`` sampled; ``finish_reason`` ``"stop"`` (with ``stop_reason``, the stop token
id) or ``"length"``; ``usage.prompt_tokens_details.cached_tokens`` reports reuse.

:func:`serve_until_signalled` listens, reports the URL and serves until SIGINT or SIGTERM,
then closes the server and the backend. The command line (``gptoss-agent serve``, exit
codes) is the CLI's: :mod:`gptoss_agent.agent.cli.serve`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from gptoss_agent.agent.backends.base import GenerationRequest, ModelBackend
from gptoss_agent.agent.backends.http.params import CompletionParams, parse_completion_request
from gptoss_agent.agent.backends.http.wire import HTTPError, error_body, read_request, send_json
from gptoss_agent.agent.harmony.codec import HarmonyCodec, load_codec


class CompletionServer:
    """Serve a :class:`~gptoss_agent.agent.backends.base.ModelBackend` over HTTP.

    Args:
        backend: What produces the tokens (a ``TransformersBackend``).
        model_name: The name ``/v1/models`` lists and answers carry.
        codec: The Harmony codec (loaded offline if ``None``).
    """

    def __init__(
        self, backend: ModelBackend, model_name: str, codec: HarmonyCodec | None = None
    ) -> None:
        self.backend = backend
        self.model_name = model_name
        self.codec = codec or load_codec()
        self._server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> str:
        """Listen on ``host:port`` (``0``: any free port); return the API root URL.

        Raises:
            OSError: The address cannot be bound.
        """
        self._server = await asyncio.start_server(self._handle, host, port)
        bound = self._server.sockets[0].getsockname()
        return f"http://{host}:{bound[1]}/v1"

    async def close(self) -> None:
        """Stop listening and close the backend."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        await self.backend.aclose()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve one connection: its requests in turn, until one closes it."""
        try:
            while True:
                request = await read_request(reader)
                if request is None:
                    break
                method, path, headers, body = request
                keep_alive = headers.get("connection", "").lower() != "close"
                if not await self._answer(method, path, headers, body, writer) or not keep_alive:
                    break
        except (ConnectionError, asyncio.IncompleteReadError, HTTPError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _answer(self, method: str, path: str, headers: Mapping[str, str], body: bytes,
                      writer: asyncio.StreamWriter) -> bool:
        """Answer one request, an error included; return whether to keep the connection."""
        try:
            return await self._route(method, path, headers, body, writer)
        except HTTPError as error:
            await send_json(writer, error.status, error_body(str(error), error.status))
            return True
        except Exception as error:  # answer 500, keep serving other connections
            await send_json(writer, 500, error_body(f"{type(error).__name__}: {error}", 500))
            return False

    async def _route(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        body: bytes,
        writer: asyncio.StreamWriter,
    ) -> bool:
        """Dispatch by path; return whether the connection may carry another request.

        Raises:
            HTTPError: No such route (404), not a POST (405), or a bad body (400).
        """
        path = path.split("?", 1)[0].rstrip("/")
        if path in ("/health", "/v1/health"):
            await send_json(writer, 200, {"status": "ok"})
            return True
        if path == "/v1/models":
            model = {"id": self.model_name, "object": "model", "owned_by": "gptoss-agent"}
            await send_json(writer, 200, {"object": "list", "data": [model]})
            return True
        if path != "/v1/completions":
            raise HTTPError(404, f"no route {path}")
        if method != "POST":
            raise HTTPError(405, "use POST")
        try:
            payload = json.loads(body or b"{}")
            if not isinstance(payload, dict):
                raise ValueError("the body must be a JSON object")
            params = parse_completion_request(payload, self.codec, headers.get("x-session-id"))
        except ValueError as error:
            raise HTTPError(400, str(error)) from error
        if params.stream:
            await self._stream(params, writer)
            return False
        await self._complete(params, writer)
        return True

    async def _complete(self, params: CompletionParams, writer: asyncio.StreamWriter) -> None:
        """Answer with one JSON completion once generation has finished."""
        tokens = [t async for t in self.backend.generate(self._request(params))]
        finish, stop_reason = self._finish(params, tokens)
        choice = {
            "index": 0,
            "text": self.codec.decode(tokens),
            "token_ids": tokens,
            "finish_reason": finish,
            "stop_reason": stop_reason,
        }
        await send_json(writer, 200, {
            "id": f"cmpl-{uuid.uuid4().hex}",
            "object": "text_completion",
            "created": int(time.time()),
            "model": self.model_name,
            "choices": [choice],
            "usage": self._usage(params),
        })

    async def _stream(self, params: CompletionParams, writer: asyncio.StreamWriter) -> None:
        """Answer with server-sent events: a chunk per token, the finish, the usage."""
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Cache-Control: no-cache\r\nConnection: close\r\n\r\n"
        )
        ident, created = f"cmpl-{uuid.uuid4().hex}", int(time.time())

        def chunk(choice: dict[str, Any], usage: Any = None) -> bytes:
            data = {
                "id": ident,
                "object": "text_completion",
                "created": created,
                "model": self.model_name,
                "choices": [choice] if choice else [],
            }
            if usage is not None:
                data["usage"] = usage
            return b"data: " + json.dumps(data).encode() + b"\n\n"

        tokens: list[int] = []
        async for token in self.backend.generate(self._request(params)):
            tokens.append(token)
            writer.write(chunk({"index": 0, "text": self.codec.decode([token]),
                                "token_ids": [token], "finish_reason": None}))
            await writer.drain()
        finish, stop_reason = self._finish(params, tokens)
        writer.write(chunk({"index": 0, "text": "", "token_ids": [],
                            "finish_reason": finish, "stop_reason": stop_reason}))
        writer.write(chunk({}, self._usage(params)))
        writer.write(b"data: [DONE]\n\n")
        await writer.drain()

    def _request(self, params: CompletionParams) -> GenerationRequest:
        return GenerationRequest(
            prompt=params.prompt,
            stop_tokens=params.stop_tokens,
            sampling=params.sampling,
            session_id=params.session_id,
        )

    @staticmethod
    def _finish(params: CompletionParams, tokens: Sequence[int]) -> tuple[str, int | None]:
        """``("stop", stop token)`` or ``("length", None)``."""
        if tokens and tokens[-1] in params.stop_tokens:
            return "stop", tokens[-1]
        return "length", None

    def _usage(self, params: CompletionParams) -> dict[str, Any]:
        """The ``usage`` object, with the prompt tokens the session's cache held."""
        stats = self.backend.last_stats(params.session_id)
        prompt = len(params.prompt)
        prefilled = stats.prefilled_tokens if stats else prompt
        sampled = stats.sampled_tokens if stats else 0
        return {
            "prompt_tokens": prompt,
            "completion_tokens": sampled,
            "total_tokens": prompt + sampled,
            "prompt_tokens_details": {"cached_tokens": prompt - prefilled},
        }


async def serve_until_signalled(server: CompletionServer, host: str, port: int,
                                on_listening: Callable[[str], None]) -> None:
    """Listen, call ``on_listening`` with the API root URL, serve until SIGINT or SIGTERM.

    The server (and with it the backend) is closed on the way out, whatever ends it.

    Raises:
        OSError: The address cannot be bound.
    """
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    try:
        url = await server.start(host, port)
        on_listening(url)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stopped.set)
        await stopped.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await server.close()

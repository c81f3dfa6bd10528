"""``gptoss-agent serve``: an OpenAI-compatible completions server over the transformers backend.

It serves ``POST /v1/completions`` (token-id or text prompts, SSE streaming or one JSON
answer), ``GET /v1/models`` and ``GET /health`` with a small HTTP/1.1 server on asyncio.
Each request is keyed to a session, so a client that sends a session id keeps its KV cache
across turns: the ``X-Session-Id`` header, else the body's ``user`` field, else one shared
session (whose cache still reuses the prefix of the previous request).

Answers follow vLLM's shape: ``text`` with special tokens spelled out, plus the exact
``token_ids`` sampled; ``finish_reason`` ``"stop"`` (with ``stop_reason``, the stop token
id) or ``"length"``; ``usage.prompt_tokens_details.cached_tokens`` reports reuse.

Run it as ``gptoss-agent serve CHECKPOINT`` or ``python -m
gptoss_agent.agent.backends.serve CHECKPOINT``; it prints ``listening on URL`` once ready.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gptoss_agent.agent.backend import GenerationRequest, ModelBackend, SamplingParams
from gptoss_agent.agent.backends.errors import BackendError
from gptoss_agent.agent.encoding import HarmonyCodec, load_codec

_MAX_BODY = 64 * 1024 * 1024
_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
    500: "Internal Server Error",
}


class _HTTPError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class CompletionParams:
    """One completion request, validated.

    Attributes:
        prompt: Prompt token ids.
        sampling: Sampling settings.
        stop_tokens: Token ids that end the completion.
        stream: Answer with server-sent events.
        session_id: The session whose KV cache serves the request.
    """

    prompt: tuple[int, ...]
    sampling: SamplingParams
    stop_tokens: frozenset[int]
    stream: bool
    session_id: str


def parse_completion_request(
    body: Mapping[str, Any], codec: HarmonyCodec, session_header: str | None
) -> CompletionParams:
    """Validate an OpenAI-style completion body.

    Raises:
        ValueError: A field is missing or invalid (answered with HTTP 400).
    """
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], (list, str)):
        prompt = prompt[0]
    if isinstance(prompt, str):
        tokens = tuple(codec.encode_with_special(prompt))
    elif isinstance(prompt, list) and all(
        isinstance(t, int) and not isinstance(t, bool) for t in prompt
    ):
        tokens = tuple(prompt)
    else:
        raise ValueError("'prompt' must be a string or a list of token ids (one prompt)")
    if not tokens:
        raise ValueError("'prompt' is empty")
    if any(t < 0 for t in tokens):
        raise ValueError("'prompt' holds a negative token id")
    stops = set(body.get("stop_token_ids") or codec.assistant_stop_tokens)
    stop = body.get("stop")
    for text in [stop] if isinstance(stop, str) else stop or []:
        encoded = codec.encode_with_special(str(text))
        if len(encoded) != 1:
            raise ValueError(f"stop string {text!r} is not a single token; use stop_token_ids")
        stops.add(encoded[0])
    try:
        sampling = SamplingParams(
            temperature=float(body.get("temperature", 1.0)),
            top_p=float(body.get("top_p", 1.0)),
            max_tokens=int(body.get("max_tokens") or 256),
            seed=None if body.get("seed") is None else int(body["seed"]),
        )
    except (TypeError, ValueError) as error:
        raise ValueError(str(error)) from error
    if body.get("n", 1) != 1:
        raise ValueError("only n=1 is supported")
    session = session_header or body.get("user") or "default"
    return CompletionParams(
        prompt=tokens,
        sampling=sampling,
        stop_tokens=frozenset(int(s) for s in stops),
        stream=bool(body.get("stream", False)),
        session_id=str(session),
    )


class CompletionServer:
    """Serve a :class:`~gptoss_agent.agent.backend.ModelBackend` over HTTP.

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
        """Listen on ``host:port`` (``0``: any free port); return the API root URL."""
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
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    break
                method, path, headers, body = request
                keep_alive = headers.get("connection", "").lower() != "close"
                try:
                    keep_alive = (
                        await self._route(method, path, headers, body, writer) and keep_alive
                    )
                except _HTTPError as error:
                    await _send_json(writer, error.status, _error_body(str(error), error.status))
                except Exception as error:  # answer 500, keep serving
                    await _send_json(
                        writer, 500, _error_body(f"{type(error).__name__}: {error}", 500)
                    )
                    keep_alive = False
                if not keep_alive:
                    break
        except (ConnectionError, asyncio.IncompleteReadError, _HTTPError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _route(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        body: bytes,
        writer: asyncio.StreamWriter,
    ) -> bool:
        path = path.split("?", 1)[0].rstrip("/")
        if path in ("/health", "/v1/health"):
            await _send_json(writer, 200, {"status": "ok"})
            return True
        if path == "/v1/models":
            await _send_json(
                writer,
                200,
                {
                    "object": "list",
                    "data": [
                        {"id": self.model_name, "object": "model", "owned_by": "gptoss-agent"}
                    ],
                },
            )
            return True
        if path != "/v1/completions":
            raise _HTTPError(404, f"no route {path}")
        if method != "POST":
            raise _HTTPError(405, "use POST")
        try:
            payload = json.loads(body or b"{}")
            if not isinstance(payload, dict):
                raise ValueError("the body must be a JSON object")
            params = parse_completion_request(payload, self.codec, headers.get("x-session-id"))
        except ValueError as error:
            raise _HTTPError(400, str(error)) from error
        if params.stream:
            await self._stream(params, writer)
            return False
        await self._complete(params, writer)
        return True

    async def _complete(self, params: CompletionParams, writer: asyncio.StreamWriter) -> None:
        tokens = [t async for t in self.backend.generate(self._request(params))]
        finish, stop_reason = self._finish(params, tokens)
        await _send_json(
            writer,
            200,
            {
                "id": f"cmpl-{uuid.uuid4().hex}",
                "object": "text_completion",
                "created": int(time.time()),
                "model": self.model_name,
                "choices": [
                    {
                        "index": 0,
                        "text": self.codec.decode(tokens),
                        "token_ids": tokens,
                        "finish_reason": finish,
                        "stop_reason": stop_reason,
                    }
                ],
                "usage": self._usage(params),
            },
        )

    async def _stream(self, params: CompletionParams, writer: asyncio.StreamWriter) -> None:
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
            writer.write(
                chunk(
                    {
                        "index": 0,
                        "text": self.codec.decode([token]),
                        "token_ids": [token],
                        "finish_reason": None,
                    }
                )
            )
            await writer.drain()
        finish, stop_reason = self._finish(params, tokens)
        writer.write(
            chunk(
                {
                    "index": 0,
                    "text": "",
                    "token_ids": [],
                    "finish_reason": finish,
                    "stop_reason": stop_reason,
                }
            )
        )
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
        if tokens and tokens[-1] in params.stop_tokens:
            return "stop", tokens[-1]
        return "length", None

    def _usage(self, params: CompletionParams) -> dict[str, Any]:
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


async def _read_request(
    reader: asyncio.StreamReader,
) -> tuple[str, str, dict[str, str], bytes] | None:
    line = await reader.readline()
    if not line:
        return None
    try:
        method, path, _ = line.decode("latin-1").split(" ", 2)
    except ValueError as error:
        raise _HTTPError(400, "malformed request line") from error
    headers: dict[str, str] = {}
    while True:
        raw = await reader.readline()
        if raw in (b"\r\n", b"\n", b""):
            break
        name, _, value = raw.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or 0)
    if length > _MAX_BODY:
        raise _HTTPError(413, "body too large")
    body = await reader.readexactly(length) if length else b""
    return method, path, headers, body


async def _send_json(writer: asyncio.StreamWriter, status: int, payload: Any) -> None:
    data = json.dumps(payload).encode()
    head = (
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
    )
    writer.write(head.encode() + data)
    await writer.drain()


def _error_body(message: str, status: int) -> dict[str, Any]:
    kind = "invalid_request_error" if status < 500 else "server_error"
    return {"error": {"message": message, "type": kind, "code": status}}


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """The command-line options of ``serve``."""
    parser.add_argument("model", help="checkpoint folder (or hub id with --allow-download)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument("--model-name", default=None, help="name in answers (default: MODEL)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    parser.add_argument(
        "--dtype", default="auto", choices=["auto", "float32", "bfloat16", "float16"]
    )
    parser.add_argument("--dequantize-mxfp4", action="store_true")
    parser.add_argument("--max-sessions", type=int, default=8,
                        help="sessions whose KV cache is kept (least recently used dropped)")
    parser.add_argument("--decode-batch", type=int, default=16,
                        help="most sessions sharing one decode step (1: no batching)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument(
        "--allow-download", action="store_true", help="let transformers fetch MODEL from a hub"
    )


async def serve(args: argparse.Namespace) -> None:
    """Load the model, listen, and serve until SIGINT/SIGTERM."""
    from gptoss_agent.agent.backends.transformers_backend import (
        TransformersBackend,
        TransformersBackendConfig,
    )

    config = TransformersBackendConfig(
        model=args.model,
        device=args.device,
        dtype=args.dtype,
        dequantize_mxfp4=args.dequantize_mxfp4,
        max_sessions=args.max_sessions,
        decode_batch=args.decode_batch,
        threads=args.threads,
        local_files_only=not args.allow_download,
    )
    backend = await TransformersBackend.aload(config)
    server = CompletionServer(backend, args.model_name or args.model)
    url = await server.start(args.host, args.port)
    print(f"listening on {url}", flush=True)
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopped.set)
    try:
        await stopped.wait()
    finally:
        await server.close()


def run_serve(args: argparse.Namespace) -> int:
    """Entry point of ``gptoss-agent serve``; returns the exit status: 0 after a signal,
    2 for a bad setting, 4 when the model cannot be loaded or the address not bound, 130
    when interrupted while loading."""
    from gptoss_agent.agent.exit_codes import EXIT_CONFIG, EXIT_INFRA, EXIT_INTERRUPTED

    try:
        asyncio.run(serve(args))
    except ValueError as error:
        print(f"gptoss-agent serve: {error}", file=sys.stderr)
        return EXIT_CONFIG
    except (BackendError, OSError) as error:
        print(f"gptoss-agent serve: cannot start: {error}", file=sys.stderr)
        return EXIT_INFRA
    except KeyboardInterrupt:
        print("gptoss-agent serve: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m gptoss_agent.agent.backends.serve``."""
    parser = argparse.ArgumentParser(prog="gptoss-agent serve", description=__doc__.split("\n")[0])
    add_serve_arguments(parser)
    return run_serve(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

"""The inference-server backend: Harmony prompts over an OpenAI-compatible ``/v1/completions``.

``ServerBackend`` sends each turn's prompt to a server (vLLM, SGLang, llama.cpp's server,
or ``gptoss-agent serve``) and streams the completion back over server-sent events:

- as token ids (``prompt_format="token_ids"``: vLLM, SGLang, ``gptoss-agent serve``) or as
  text with the special tokens spelled out (``"text"``: llama.cpp's server, which rejects
  token-id prompts);
- the answer is text (special tokens visible), re-encoded into token ids as it arrives
  (:mod:`~gptoss_agent.agent.backends.text_tokens`), unless the server also sends the
  sampled ``token_ids``; the stop token is read from ``stop_reason`` (vLLM) or, when the
  server ends on it invisibly (llama.cpp), inferred from the last message's header;
- connection errors, timeouts, HTTP 5xx and 429 are retried with exponential backoff and
  jitter; a stream that breaks after some tokens resumes where it stopped (the prompt
  extended by the tokens already streamed); other 4xx answers raise
  :class:`~gptoss_agent.agent.backends.errors.ServerRequestError` at once;
- one shared ``httpx.AsyncClient`` (a connection pool) serves every session, so many agent
  sessions run concurrently against one server (or a load balancer over replicas;
  ``session_header`` lets it route a session to the replica that holds its prefix cache).

Servers keep their own prefix caches (vLLM's automatic prefix caching, SGLang's radix
cache, llama.cpp's slot cache); ``last_stats`` reports cached prompt tokens when the server
says how many (``usage.prompt_tokens_details.cached_tokens``).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from gptoss_agent.agent.backend import GenerationRequest, GenerationStats
from gptoss_agent.agent.backends.errors import (
    BackendUnavailableError,
    ServerProtocolError,
    ServerRequestError,
    ServerUnavailableError,
)
from gptoss_agent.agent.backends.sse import iter_json_chunks
from gptoss_agent.agent.backends.text_tokens import IncrementalEncoder, infer_stop_token
from gptoss_agent.agent.encoding import HarmonyCodec, load_codec

PromptFormat = Literal["token_ids", "text"]

_RETRY_STATUS = frozenset({408, 425, 429})


@dataclass(frozen=True)
class RetryPolicy:
    """When and how often to retry a failed request.

    Attributes:
        max_attempts: Attempts in all (the first one included) before giving up.
        initial_delay: Seconds before the first retry.
        max_delay: Cap of one wait.
        multiplier: Growth of the wait per attempt.
        jitter: Fraction of each wait drawn at random (``0.5``: between 50% and 100%),
            so that many sessions do not retry in lockstep.
    """

    max_attempts: int = 5
    initial_delay: float = 0.5
    max_delay: float = 10.0
    multiplier: float = 2.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts}")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"jitter must be in [0, 1], got {self.jitter}")

    def delay(self, retry: int, rng: random.Random) -> float:
        """Seconds to wait before retry number ``retry`` (1-based)."""
        base = min(self.max_delay, self.initial_delay * self.multiplier ** (retry - 1))
        return base * (1 - self.jitter * rng.random())


@dataclass(frozen=True)
class ServerBackendConfig:
    """Where the server is and how to talk to it. Prefer the presets
    :meth:`vllm`, :meth:`sglang` and :meth:`llama_cpp`.

    Attributes:
        base_url: The API root, e.g. ``http://127.0.0.1:8000/v1``.
        model: The model name the server knows the checkpoint by.
        prompt_format: ``"token_ids"`` or ``"text"`` (see the module docstring).
        api_key: Sent as ``Authorization: Bearer ...`` when set.
        connect_timeout: Seconds to open a connection.
        read_timeout: Most seconds between two pieces of the stream (a long prefill on a
            busy server must fit in it).
        retry: Backoff for connection errors, timeouts, 5xx and 429.
        max_connections: Size of the shared connection pool (concurrent requests).
        send_stop_token_ids: Send ``stop_token_ids`` (vLLM, SGLang extension).
        send_stop_strings: Send the stop tokens as ``stop`` strings.
        include_usage: Ask for a final usage chunk (``stream_options.include_usage``).
        session_header: Header that carries the session id (for session-affine routing).
        extra_body: Further request fields (server-specific sampling options).
    """

    base_url: str
    model: str = "openai/gpt-oss-20b"
    prompt_format: PromptFormat = "token_ids"
    api_key: str | None = None
    connect_timeout: float = 10.0
    read_timeout: float = 600.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    max_connections: int = 256
    send_stop_token_ids: bool = True
    send_stop_strings: bool = False
    include_usage: bool = True
    session_header: str | None = None
    extra_body: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.prompt_format not in ("token_ids", "text"):
            raise ValueError(
                f"prompt_format must be 'token_ids' or 'text', got {self.prompt_format!r}"
            )

    @classmethod
    def vllm(
        cls, base_url: str, model: str = "openai/gpt-oss-20b", **overrides: Any
    ) -> ServerBackendConfig:
        """Settings for vLLM's OpenAI-compatible server."""
        extra = {
            "skip_special_tokens": False,
            "spaces_between_special_tokens": False,
            "return_token_ids": True,
        }
        return cls(base_url=base_url, model=model, extra_body=extra, **overrides)

    @classmethod
    def sglang(
        cls, base_url: str, model: str = "openai/gpt-oss-20b", **overrides: Any
    ) -> ServerBackendConfig:
        """Settings for SGLang's OpenAI-compatible server."""
        extra = {"skip_special_tokens": False, "spaces_between_special_tokens": False}
        return cls(base_url=base_url, model=model, extra_body=extra, **overrides)

    @classmethod
    def gptoss_serve(
        cls, base_url: str, model: str = "gpt-oss", **overrides: Any
    ) -> ServerBackendConfig:
        """Settings for ``gptoss-agent serve`` (token ids, one KV cache per session)."""
        settings: dict[str, Any] = {"session_header": "X-Session-Id", **overrides}
        return cls(base_url=base_url, model=model, **settings)

    @classmethod
    def llama_cpp(
        cls, base_url: str, model: str = "gpt-oss", **overrides: Any
    ) -> ServerBackendConfig:
        """Settings for llama.cpp's server (``llama-cpp-python[server]``): text prompts."""
        settings: dict[str, Any] = {
            "prompt_format": "text",
            "send_stop_token_ids": False,
            "send_stop_strings": True,
            "include_usage": False,
            **overrides,
        }
        return cls(base_url=base_url, model=model, **settings)


class _Retryable(Exception):
    """One attempt failed in a way that another attempt may fix."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


@dataclass
class _Attempt:
    """What one streamed request produced (filled in while it streams)."""

    finish_reason: str | None = None
    stop_reason: Any = None
    usage: Mapping[str, Any] | None = None


class ServerBackend:
    """A :class:`~gptoss_agent.agent.backend.ModelBackend` talking to an inference server.

    Args:
        config: Server address and protocol settings.
        codec: The Harmony codec (loaded offline if ``None``).
        transport: An ``httpx`` transport to use instead of the network (tests).
    """

    def __init__(
        self,
        config: ServerBackendConfig,
        codec: HarmonyCodec | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.config = config
        self._codec = codec or load_codec()
        headers = {"Accept": "text/event-stream"}
        if config.api_key:
            headers["Authorization"] = f"Bearer {config.api_key}"
        self._client: httpx.AsyncClient | None = httpx.AsyncClient(
            base_url=config.base_url.rstrip("/") + "/",
            headers=headers,
            timeout=httpx.Timeout(
                connect=config.connect_timeout,
                read=config.read_timeout,
                write=config.read_timeout,
                pool=None,
            ),
            limits=httpx.Limits(
                max_connections=config.max_connections,
                max_keepalive_connections=config.max_connections,
            ),
            transport=transport,
        )
        self._stats: dict[str, GenerationStats] = {}
        self._rng = random.Random()
        self.retries = 0
        """Retries made over the backend's lifetime (tests and monitoring read it)."""

    def last_stats(self, session_id: str) -> GenerationStats | None:
        """Figures of the most recent finished generation of ``session_id``."""
        return self._stats.get(session_id)

    async def release(self, session_id: str) -> None:
        """Forget the session's figures (the server manages its own cache)."""
        self._stats.pop(session_id, None)

    async def aclose(self) -> None:
        """Close the shared connection pool. Idempotent."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def generate(self, request: GenerationRequest) -> AsyncIterator[int]:
        """Stream the completion of ``request.prompt`` as token ids.

        Raises:
            ServerRequestError: The server rejected the request (4xx other than 408/429).
            ServerUnavailableError: Every attempt failed (connection, timeout, 5xx).
            ServerProtocolError: The server's answer is not a completion stream.
            BackendUnavailableError: The backend was closed.
        """
        if not request.prompt:
            raise ValueError("the prompt is empty")
        started = time.perf_counter()
        emitted: list[int] = []
        attempt = _Attempt()
        failures = 0
        try:
            while len(emitted) < request.sampling.max_tokens:
                attempt = _Attempt()
                try:
                    async with aclosing(self._stream_once(request, emitted, attempt)) as stream:
                        async for token in stream:
                            emitted.append(token)
                            yield token
                except _Retryable as error:
                    failures += 1
                    if failures >= self.config.retry.max_attempts:
                        raise ServerUnavailableError(
                            f"{self._url()} failed {failures} times; last: {error}"
                        ) from error
                    self.retries += 1
                    wait = self.config.retry.delay(failures, self._rng)
                    if error.retry_after is not None:
                        wait = max(wait, min(error.retry_after, self.config.retry.max_delay))
                    await asyncio.sleep(wait)
                    continue
                if emitted and emitted[-1] in request.stop_tokens:
                    return
                if len(emitted) >= request.sampling.max_tokens:
                    return
                stop = self._stop_token(request, emitted, attempt)
                if stop is not None:
                    emitted.append(stop)
                    yield stop
                return
        finally:
            self._stats[request.session_id] = GenerationStats(
                prompt_tokens=len(request.prompt),
                prefilled_tokens=_prefilled(len(request.prompt), attempt.usage),
                sampled_tokens=len(emitted),
                seconds=time.perf_counter() - started,
            )

    def _url(self) -> str:
        return self.config.base_url.rstrip("/") + "/completions"

    def _body(self, request: GenerationRequest, emitted: list[int]) -> dict[str, Any]:
        config = self.config
        tokens = list(request.prompt) + emitted
        body: dict[str, Any] = {
            "model": config.model,
            "prompt": tokens if config.prompt_format == "token_ids" else self._codec.decode(tokens),
            "max_tokens": request.sampling.max_tokens - len(emitted),
            "temperature": request.sampling.temperature,
            "top_p": request.sampling.top_p,
            "stream": True,
        }
        if request.sampling.seed is not None:
            body["seed"] = request.sampling.seed
        stops = sorted(request.stop_tokens)
        if config.send_stop_token_ids:
            body["stop_token_ids"] = stops
        if config.send_stop_strings:
            body["stop"] = [self._codec.decode([token]) for token in stops]
        if config.include_usage:
            body["stream_options"] = {"include_usage": True}
        body.update(config.extra_body)
        return body

    async def _stream_once(
        self, request: GenerationRequest, emitted: list[int], attempt: _Attempt
    ) -> AsyncGenerator[int, None]:
        """One request: yield its tokens until a stop token or the budget, then read the
        rest of the stream (finish reason, usage) without yielding more."""
        client = self._client
        if client is None:
            raise BackendUnavailableError("the server backend is closed")
        headers = {}
        if self.config.session_header:
            headers[self.config.session_header] = request.session_id
        encoder = IncrementalEncoder(self._codec)
        budget = request.sampling.max_tokens - len(emitted)
        done = False  # a stop token or the budget was reached: yield nothing more

        def accept(tokens: list[int]) -> list[int]:
            nonlocal budget, done
            kept: list[int] = []
            for token in tokens:
                if done:
                    break
                kept.append(token)
                budget -= 1
                done = token in request.stop_tokens or budget <= 0
            return kept

        try:
            async with client.stream(
                "POST", "completions", json=self._body(request, emitted), headers=headers
            ) as response:
                await self._check_status(response)
                async for chunk in iter_json_chunks(response.aiter_lines()):
                    if "error" in chunk:
                        if done:
                            return
                        raise _Retryable(f"error in stream: {str(chunk['error'])[:300]}")
                    if chunk.get("usage"):
                        attempt.usage = chunk["usage"]
                    for choice in chunk.get("choices") or ():
                        ids = choice.get("token_ids")
                        if isinstance(ids, list):
                            fresh = [int(token) for token in ids]
                        else:
                            fresh = encoder.feed(str(choice.get("text") or ""))
                        if done and fresh:
                            return  # the server goes on past our stop: hang up
                        for token in accept(fresh):
                            yield token
                        if choice.get("finish_reason"):
                            attempt.finish_reason = str(choice["finish_reason"])
                            attempt.stop_reason = choice.get("stop_reason")
        except httpx.TransportError as error:
            if done:
                return
            raise _Retryable(f"{type(error).__name__}: {error}") from error
        if attempt.finish_reason is None and not done:
            raise _Retryable("the stream ended without a finish_reason")
        for token in accept(encoder.finish()):
            yield token

    async def _check_status(self, response: httpx.Response) -> None:
        status = response.status_code
        if status < 400:
            return
        raw = (await response.aread()).decode("utf-8", errors="replace")
        detail = _error_detail(raw)
        if status >= 500 or status in _RETRY_STATUS:
            raise _Retryable(f"HTTP {status}: {detail}", _retry_after(response))
        raise ServerRequestError(status, detail, self._url())

    def _stop_token(
        self, request: GenerationRequest, emitted: list[int], attempt: _Attempt
    ) -> int | None:
        """The invisible stop token that ended a finished stream, or ``None``."""
        if attempt.finish_reason != "stop":
            return None
        reason = attempt.stop_reason
        if isinstance(reason, int) and reason in request.stop_tokens:
            return reason
        if isinstance(reason, str):
            encoded = self._codec.encode_with_special(reason)
            if len(encoded) == 1 and encoded[0] in request.stop_tokens:
                return encoded[0]
        guess = infer_stop_token(emitted, self._codec)
        if guess in request.stop_tokens:
            return guess
        if len(request.stop_tokens) == 1:
            return next(iter(request.stop_tokens))
        raise ServerProtocolError(
            f"the server stopped (finish_reason 'stop', stop_reason {reason!r}) but none of "
            f"the stop tokens {sorted(request.stop_tokens)} can be told apart"
        )


def _error_detail(raw: str) -> str:
    import json

    try:
        payload = json.loads(raw)
    except json.JSONDecodeError:
        return raw.strip()[:500] or "(empty body)"
    if isinstance(payload, dict):
        error = payload.get("error", payload.get("detail", payload))
        if isinstance(error, dict):
            return str(error.get("message", error))[:500]
        return str(error)[:500]
    return str(payload)[:500]


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _prefilled(prompt_tokens: int, usage: Mapping[str, Any] | None) -> int:
    details = (usage or {}).get("prompt_tokens_details") or {}
    cached = details.get("cached_tokens") if isinstance(details, Mapping) else None
    if isinstance(cached, int) and 0 <= cached <= prompt_tokens:
        return prompt_tokens - cached
    return prompt_tokens


_PRESETS = {
    "vllm": ServerBackendConfig.vllm,
    "sglang": ServerBackendConfig.sglang,
    "llama.cpp": ServerBackendConfig.llama_cpp,
    "gptoss-agent": ServerBackendConfig.gptoss_serve,
}


def from_task_settings(settings: Mapping[str, Any]) -> ServerBackend:
    """Build the backend a task file's ``model`` section describes.

    Reads ``url``, ``server`` (``vllm``, the default; ``sglang``; ``llama.cpp``;
    ``gptoss-agent``), ``model_name`` and ``api_key_env`` (the variable holding the key).

    Raises:
        ValueError: An unknown server kind, or ``api_key_env`` names an unset variable.
    """
    import os

    kind = str(settings.get("server", "vllm"))
    preset = _PRESETS.get(kind)
    if preset is None:
        raise ValueError(f"model.server must be one of {sorted(_PRESETS)}, got {kind!r}")
    overrides: dict[str, Any] = {}
    if settings.get("model_name"):
        overrides["model"] = str(settings["model_name"])
    key_env = settings.get("api_key_env")
    if key_env:
        key = os.environ.get(str(key_env))
        if not key:
            raise ValueError(f"model.api_key_env names {key_env!r}, which is not set")
        overrides["api_key"] = key
    return ServerBackend(preset(str(settings["url"]), **overrides))

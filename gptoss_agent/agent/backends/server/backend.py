"""The inference-server backend: Harmony prompts over an OpenAI-compatible ``/v1/completions``.

``ServerBackend`` sends each generation's prompt to a server (vLLM, SGLang, llama.cpp's server,
or ``gptoss-agent serve``; settings in :mod:`~gptoss_agent.agent.backends.server.config`)
and streams the completion back over server-sent events
(:mod:`~gptoss_agent.agent.backends.server.stream`):

- as token ids (``prompt_format="token_ids"``: vLLM, SGLang, ``gptoss-agent serve``) or as
  text with the special tokens spelled out (``"text"``: llama.cpp's server, which rejects
  token-id prompts);
- the answer is text (special tokens visible), re-encoded into token ids as it arrives,
  unless the server also sends the sampled ``token_ids``; the stop token is read from
  ``stop_reason`` (vLLM) or, when the server ends on it invisibly (llama.cpp), inferred
  from the last message's header;
- connection errors, timeouts, HTTP 5xx and 429 are retried with exponential backoff and
  jitter; a stream that breaks after some tokens resumes where it stopped (the prompt
  extended by the tokens already streamed); other 4xx answers raise
  :class:`~gptoss_agent.agent.backends.errors.ServerRequestError` at once;
- one shared ``httpx.AsyncClient`` (a connection pool) serves every session, so many agent
  sessions run concurrently against one server (or a load balancer over replicas;
  ``session_header`` lets it route a session to the replica that holds its prefix cache).

A request's decoding constraint is sent as its Harmony grammar
(:func:`~gptoss_agent.agent.backends.transformers.grammar.harmony_grammar`) in the field
``config.constraint_field`` names, for servers whose grammar engine is llguidance
(:mod:`~gptoss_agent.agent.backends.server.config`); :attr:`ServerBackend.constrains`
says whether this backend does. Otherwise no constraint is sent (a warning is logged once
per backend; for llama.cpp's server, which crashes on grammars that name stop tokens,
that is always the case), and the loop validates what comes back. A stream resumed after
a break is sent without the constraint (the grammar describes a whole completion, not
the rest of one), with a warning.

Servers keep their own prefix caches (vLLM's automatic prefix caching, SGLang's radix
cache, llama.cpp's slot cache); ``last_stats`` reports cached prompt tokens when the server
says how many (``usage.prompt_tokens_details.cached_tokens``).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import aclosing
from typing import Any

import httpx

from gptoss_agent.agent.backends.base import GenerationRequest, GenerationStats
from gptoss_agent.agent.backends.constraint import DecodingConstraint
from gptoss_agent.agent.backends.errors import BackendUnavailableError, ServerUnavailableError
from gptoss_agent.agent.backends.server.config import (
    LLAMA_CPP_NO_GRAMMAR,
    RetryPolicy,
    ServerBackendConfig,
)
from gptoss_agent.agent.backends.server.stream import (
    Attempt,
    RetryableFailure,
    stop_token_after,
    stream_completion,
)
from gptoss_agent.agent.backends.server.window import server_window
from gptoss_agent.agent.backends.transformers.grammar import harmony_grammar
from gptoss_agent.agent.harmony.codec import HarmonyCodec, load_codec

__all__ = ["RetryPolicy", "ServerBackend", "ServerBackendConfig"]

_LOG = logging.getLogger(__name__)


class ServerBackend:
    """A :class:`~gptoss_agent.agent.backends.base.ModelBackend` talking to an inference server.

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
        self._warned: set[str] = set()
        self._window: int | None = None
        self._window_asked = False

    @property
    def constrains(self) -> bool:
        """Whether a request's decoding constraint is sent to the server (and enforced)."""
        return self.config.constraint_field is not None

    async def context_window(self) -> int | None:
        """The server's window (vLLM's ``max_model_len``, llama.cpp's ``n_ctx``), asked once.

        ``None`` when the server does not say; the task's ``model.context_window`` wins.
        A server that cannot be reached is asked again next time.
        """
        if not self._window_asked and self._client is not None:
            try:
                self._window = await server_window(self._client, self.config.base_url,
                                                   self.config.model, self.config.kind)
            except httpx.TransportError:
                return None  # not reachable now: asked again before the next generation
            self._window_asked = True
        return self._window

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
            ConstraintError: The request's constraint cannot be written as a grammar.
            ValueError: The prompt is empty.
        """
        if not request.prompt:
            raise ValueError("the prompt is empty")
        started = time.perf_counter()
        emitted: list[int] = []
        attempt = Attempt()
        failures = 0
        try:
            while len(emitted) < request.sampling.max_tokens:
                attempt = Attempt()
                try:
                    async with aclosing(self._stream_once(request, emitted, attempt)) as stream:
                        async for token in stream:
                            emitted.append(token)
                            yield token
                except RetryableFailure as error:
                    failures += 1
                    await self._wait_before_retry(failures, error)
                    continue
                stop = self._final_stop(request, emitted, attempt)
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

    async def _wait_before_retry(self, failures: int, error: RetryableFailure) -> None:
        """Sleep the backoff of failure number ``failures``, or give up after the last.

        Raises:
            ServerUnavailableError: That was the last attempt.
        """
        if failures >= self.config.retry.max_attempts:
            raise ServerUnavailableError(
                f"{self._url()} failed {failures} times; last: {error}"
            ) from error
        self.retries += 1
        wait = self.config.retry.delay(failures, self._rng)
        if error.retry_after is not None:
            wait = max(wait, min(error.retry_after, self.config.retry.max_delay))
        await asyncio.sleep(wait)

    def _final_stop(self, request: GenerationRequest, emitted: list[int],
                    attempt: Attempt) -> int | None:
        """The stop token to add after a finished stream that did not show it, if any."""
        if emitted and emitted[-1] in request.stop_tokens:
            return None
        if len(emitted) >= request.sampling.max_tokens:
            return None
        return stop_token_after(attempt, request.stop_tokens, emitted, self._codec)

    def _url(self) -> str:
        return self.config.base_url.rstrip("/") + "/completions"

    def _body(self, request: GenerationRequest, emitted: list[int]) -> dict[str, Any]:
        """The JSON body that continues ``request`` after the ``emitted`` tokens."""
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
        if request.constraint is not None:
            self._add_constraint(body, request.constraint, resumed=bool(emitted))
        return body

    def _add_constraint(self, body: dict[str, Any], constraint: DecodingConstraint, *,
                        resumed: bool) -> None:
        """Put ``constraint``'s grammar in ``body``, or say once why it is not sent."""
        field = self.config.constraint_field
        if field is None:
            reason = LLAMA_CPP_NO_GRAMMAR if self.config.kind == "llama.cpp" else (
                "this server backend sends no decoding constraint (set constraint_field, "
                "or constrain=True on the vLLM/SGLang presets, for a server whose grammar "
                "engine is llguidance); the agent loop validates calls and answers instead")
            self._warn_once("unsent", reason)
            return
        if resumed:
            self._warn_once("resumed", "a stream resumed after a break is sent without its "
                            "decoding constraint (the grammar describes a whole completion)")
            return
        grammar = harmony_grammar(constraint)
        if field == "structured_outputs":
            body["structured_outputs"] = {"grammar": grammar}
        else:
            body[field] = grammar

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            _LOG.warning("%s", message)

    def _stream_once(
        self, request: GenerationRequest, emitted: list[int], attempt: Attempt
    ) -> AsyncGenerator[int, None]:
        """One streamed request that continues ``request`` after ``emitted``.

        See :func:`~gptoss_agent.agent.backends.server.stream.stream_completion`.

        Raises:
            BackendUnavailableError: The backend was closed.
        """
        client = self._client
        if client is None:
            raise BackendUnavailableError("the server backend is closed")
        headers = {}
        if self.config.session_header:
            headers[self.config.session_header] = request.session_id
        return stream_completion(
            client, self._body(request, emitted), headers, codec=self._codec,
            stop_tokens=request.stop_tokens, budget=request.sampling.max_tokens - len(emitted),
            attempt=attempt, url=self._url(),
        )


def _prefilled(prompt_tokens: int, usage: Mapping[str, Any] | None) -> int:
    """Prompt tokens the server computed: all, less those it says came from its cache."""
    details = (usage or {}).get("prompt_tokens_details") or {}
    cached = details.get("cached_tokens") if isinstance(details, Mapping) else None
    if isinstance(cached, int) and 0 <= cached <= prompt_tokens:
        return prompt_tokens - cached
    return prompt_tokens

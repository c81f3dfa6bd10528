"""One streamed completion request: from the server's chunks to token ids, within a budget.

:func:`stream_completion` posts one ``/v1/completions`` request with ``stream: true`` and
yields the sampled token ids: the ``token_ids`` a server sends (vLLM, ``gptoss-agent
serve``), else its text re-encoded as it arrives
(:class:`~gptoss_agent.agent.backends.server.text_tokens.IncrementalEncoder`). It stops
yielding at a stop token or when the budget is spent, but reads on to the end of the
stream for the finish reason and usage (recorded in an :class:`Attempt`); a server that
goes on sampling past our stop is hung up on.

Failures another attempt may fix (connection errors, timeouts, HTTP 5xx, 408, 425, 429,
an error inside the stream, a stream cut off before its finish reason) raise
:class:`RetryableFailure`; other 4xx answers raise
:class:`~gptoss_agent.agent.backends.errors.ServerRequestError`.

:func:`stop_token_after` names the stop token that ended a finished stream when the
server did not show it (llama.cpp ends on ``<|call|>`` / ``<|return|>`` invisibly).
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Collection, Mapping
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

import httpx

from gptoss_agent.agent.backends.errors import (
    BackendError,
    ServerProtocolError,
    ServerRequestError,
)
from gptoss_agent.agent.backends.server.sse import iter_json_chunks
from gptoss_agent.agent.backends.server.text_tokens import IncrementalEncoder, infer_stop_token
from gptoss_agent.agent.harmony.codec import HarmonyCodec

RETRY_STATUS = frozenset({408, 425, 429})
"""4xx answers that are retried (besides every 5xx)."""


class RetryableFailure(BackendError):
    """One attempt failed in a way that another attempt may fix.

    Attributes:
        retry_after: Seconds the server asked to wait (``Retry-After``), or ``None``.
    """

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


@dataclass
class Attempt:
    """What one streamed request produced (filled in while it streams).

    Attributes:
        finish_reason: The choice's ``finish_reason`` (``stop``, ``length``), once sent.
        stop_reason: The choice's ``stop_reason`` (vLLM: the stop token or string).
        usage: The ``usage`` chunk, if the server sent one.
    """

    finish_reason: str | None = None
    stop_reason: Any = None
    usage: Mapping[str, Any] | None = None


class _Budget:
    """Tokens still to yield; done at a stop token or when none are left."""

    def __init__(self, remaining: int, stop_tokens: Collection[int]) -> None:
        self.remaining = remaining
        self.stop_tokens = stop_tokens
        self.done = remaining <= 0

    def accept(self, tokens: list[int]) -> list[int]:
        """The leading part of ``tokens`` that fits (up to and with a stop token)."""
        kept: list[int] = []
        for token in tokens:
            if self.done:
                break
            kept.append(token)
            self.remaining -= 1
            self.done = token in self.stop_tokens or self.remaining <= 0
        return kept


async def stream_completion(
    client: httpx.AsyncClient,
    body: Mapping[str, Any],
    headers: Mapping[str, str],
    *,
    codec: HarmonyCodec,
    stop_tokens: Collection[int],
    budget: int,
    attempt: Attempt,
    url: str,
) -> AsyncGenerator[int, None]:
    """Yield the tokens of one request until a stop token or ``budget`` tokens.

    Args:
        client: The shared connection pool (its base URL is the API root).
        body: The JSON body of the request.
        headers: Extra request headers (the session header).
        codec: The Harmony codec, to re-encode text.
        stop_tokens: Tokens that end the completion.
        budget: Most tokens to yield.
        attempt: Filled in with the finish reason, stop reason and usage.
        url: The endpoint's URL, for error messages.

    Raises:
        RetryableFailure: Another attempt may succeed.
        ServerRequestError: The server rejected the request.
        ServerProtocolError: A chunk is not a JSON object.
    """
    encoder = IncrementalEncoder(codec)
    left = _Budget(budget, stop_tokens)
    try:
        async with client.stream("POST", "completions", json=body, headers=headers) as response:
            await check_status(response, url)
            chunks = _read_stream(response, encoder, left, attempt)
            async with aclosing(chunks) as tokens:
                async for token in tokens:
                    yield token
    except httpx.TransportError as error:
        if left.done:
            return
        raise RetryableFailure(f"{type(error).__name__}: {error}") from error
    if attempt.finish_reason is None and not left.done:
        raise RetryableFailure("the stream ended without a finish_reason")
    for token in left.accept(encoder.finish()):
        yield token


async def _read_stream(response: httpx.Response, encoder: IncrementalEncoder,
                       left: _Budget, attempt: Attempt) -> AsyncGenerator[int, None]:
    """Yield the tokens of ``response``'s chunks that fit ``left``.

    Ends early (and the caller hangs up) when the server goes on past the budget.
    """
    async for chunk in iter_json_chunks(response.aiter_lines()):
        if "error" in chunk:
            if left.done:
                return
            raise RetryableFailure(f"error in stream: {str(chunk['error'])[:300]}")
        if chunk.get("usage"):
            attempt.usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            fresh = _choice_tokens(choice, encoder)
            if left.done and fresh:
                return  # the server goes on past our stop: hang up
            for token in left.accept(fresh):
                yield token
            if choice.get("finish_reason"):
                attempt.finish_reason = str(choice["finish_reason"])
                attempt.stop_reason = choice.get("stop_reason")


def _choice_tokens(choice: Mapping[str, Any], encoder: IncrementalEncoder) -> list[int]:
    """The token ids a choice carries, or those its text completes."""
    ids = choice.get("token_ids")
    if isinstance(ids, list):
        return [int(token) for token in ids]
    return encoder.feed(str(choice.get("text") or ""))


async def check_status(response: httpx.Response, url: str) -> None:
    """Raise for an HTTP error status; return for success.

    Raises:
        RetryableFailure: 5xx, 408, 425 or 429.
        ServerRequestError: Any other status from 400 up.
    """
    status = response.status_code
    if status < 400:
        return
    raw = (await response.aread()).decode("utf-8", errors="replace")
    detail = error_detail(raw)
    if status >= 500 or status in RETRY_STATUS:
        raise RetryableFailure(f"HTTP {status}: {detail}", retry_after(response))
    raise ServerRequestError(status, detail, url)


def error_detail(raw: str) -> str:
    """The message of an OpenAI-style error body (or the body itself, shortened)."""
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


def retry_after(response: httpx.Response) -> float | None:
    """The seconds of a ``Retry-After`` header, if it holds a number."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def stop_token_after(attempt: Attempt, stop_tokens: Collection[int], emitted: list[int],
                     codec: HarmonyCodec) -> int | None:
    """The invisible stop token that ended a finished stream, or ``None``.

    Read from ``stop_reason`` (an id, or the token's text) or, failing that, from the
    header of the last message ``emitted`` (a recipient means ``<|call|>``).

    Raises:
        ServerProtocolError: The server stopped, but not on a token it can be told.
    """
    if attempt.finish_reason != "stop":
        return None
    reason = attempt.stop_reason
    if isinstance(reason, int) and reason in stop_tokens:
        return reason
    if isinstance(reason, str):
        encoded = codec.encode_with_special(reason)
        if len(encoded) == 1 and encoded[0] in stop_tokens:
            return encoded[0]
    guess = infer_stop_token(emitted, codec)
    if guess in stop_tokens:
        return guess
    if len(stop_tokens) == 1:
        return next(iter(stop_tokens))
    raise ServerProtocolError(
        f"the server stopped (finish_reason 'stop', stop_reason {reason!r}) but none of "
        f"the stop tokens {sorted(stop_tokens)} can be told apart"
    )

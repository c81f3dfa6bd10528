"""Validating the body of an OpenAI-style ``/v1/completions`` request.

:func:`parse_completion_request` turns the JSON body into :class:`CompletionParams`: the
prompt as token ids (a text prompt is encoded with its special tokens), the stop tokens
(``stop_token_ids``, ``stop`` strings that are single special tokens, or the assistant's
``<|call|>`` / ``<|return|>``), the sampling settings and the session the request belongs
to. Anything invalid is a ``ValueError`` whose message the server returns with HTTP 400.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gptoss_agent.agent.backends.base import SamplingParams
from gptoss_agent.agent.harmony.codec import HarmonyCodec


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

    Args:
        body: The request's JSON object.
        codec: The Harmony codec (text prompts and stop strings).
        session_header: The ``X-Session-Id`` header, if sent; else the body's ``user``
            field names the session, else the shared ``default`` one.

    Raises:
        ValueError: A field is missing or invalid (answered with HTTP 400).
    """
    tokens = _prompt_tokens(body.get("prompt"), codec)
    stops = _stop_tokens(body, codec)
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
        stop_tokens=stops,
        stream=bool(body.get("stream", False)),
        session_id=str(session),
    )


def _prompt_tokens(prompt: Any, codec: HarmonyCodec) -> tuple[int, ...]:
    """The token ids of a ``prompt`` field: a string, or a list of ids (one prompt)."""
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
    return tokens


def _stop_tokens(body: Mapping[str, Any], codec: HarmonyCodec) -> frozenset[int]:
    """``stop_token_ids`` (default: the assistant's stop tokens) plus the ``stop`` strings."""
    stops = set(body.get("stop_token_ids") or codec.assistant_stop_tokens)
    stop = body.get("stop")
    for text in [stop] if isinstance(stop, str) else stop or []:
        encoded = codec.encode_with_special(str(text))
        if len(encoded) != 1:
            raise ValueError(f"stop string {text!r} is not a single token; use stop_token_ids")
        stops.add(encoded[0])
    return frozenset(int(s) for s in stops)

"""The values the backend and its model runner pass each other: work items and counters.

A :class:`DecodeRequest` asks for one session's next token, a :class:`PrefillRequest` for
one chunk of a session's prompt; the backend's batchers gather them from concurrent
sessions and the :class:`~gptoss_agent.agent.backends.transformers.runner.ModelRunner`
runs a batch of either kind in one forward pass. :class:`BackendCounters` are the
runner's lifetime totals.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from gptoss_agent.agent.backends.base import SamplingParams
from gptoss_agent.agent.backends.transformers.constrained import TokenGuide
from gptoss_agent.agent.backends.transformers.prefix_cache import SessionCache


@dataclass(frozen=True)
class BackendCounters:
    """Totals over the backend's lifetime (benchmarks and tests read them).

    Attributes:
        prefilled_tokens: Prompt tokens run through the model.
        reused_tokens: Prompt tokens whose keys and values came from a cache.
        decoded_tokens: Tokens fed back one at a time while sampling.
        forward_passes: Forward calls of the model.
        batched_decode_steps: Decode forward passes that served more than one session.
        decode_steps: Decode forward passes (of one session or more).
        prefill_steps: Prefill forward passes (of one session's chunk or more).
        prefill_rows: Prompt chunks those passes computed (one per session and pass).
        prefill_seconds: Time the worker spent in prefill passes (and their draws).
        decode_seconds: Time the worker spent in decode steps (and their draws).
    """

    prefilled_tokens: int = 0
    reused_tokens: int = 0
    decoded_tokens: int = 0
    forward_passes: int = 0
    batched_decode_steps: int = 0
    decode_steps: int = 0
    prefill_steps: int = 0
    prefill_rows: int = 0
    prefill_seconds: float = 0.0
    decode_seconds: float = 0.0

    def plus(self, **increments: float) -> BackendCounters:
        """These counters with ``increments`` added (by field name)."""
        return replace(
            self, **{name: getattr(self, name) + step for name, step in increments.items()}
        )


@dataclass(frozen=True)
class DecodeRequest:
    """One session's wish for its next token: the token just sampled, fed back.

    Attributes:
        entry: The session's cache.
        token: The token to feed.
        sampling: The session's sampling settings.
        generator: The session's random source (a ``torch.Generator``).
        guide: The generation's place in its decoding constraint, or ``None``.
    """

    entry: SessionCache[Any]
    token: int
    sampling: SamplingParams
    generator: Any
    guide: TokenGuide | None = None


@dataclass(frozen=True)
class PrefillRequest:
    """One chunk of a session's prompt to run; after its last chunk, the first draw.

    Attributes:
        entry: The session's cache (already cut back by :meth:`ModelRunner.prepare`).
        tokens: The chunk (at least one token).
        sampling: The session's sampling settings on its last chunk, else ``None``.
        generator: The session's random source (a ``torch.Generator``).
        guide: The generation's place in its decoding constraint, or ``None``.
    """

    entry: SessionCache[Any]
    tokens: tuple[int, ...]
    sampling: SamplingParams | None
    generator: Any
    guide: TokenGuide | None = None

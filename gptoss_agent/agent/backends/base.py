"""The model backend seam: token ids in, sampled token ids streamed out.

Every backend (scripted replay, in-process transformers, an inference server) implements
``ModelBackend``. The loop hands it the whole prompt of a generation as token ids; backends that
keep a KV cache per session compare it with what they saw last time and prefill only the
difference. A backend that knows its context window (the positions its model reads)
also implements :class:`KnowsContextWindow`; :func:`backend_context_window` asks any
backend for it. A backend honours the stop tokens (yielding the stop token it stopped on as
its last token) and the token budget (stopping after ``max_tokens`` sampled tokens,
without a stop token: the loop sees the truncation).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from gptoss_agent.agent.backends.constraint import DecodingConstraint


@dataclass(frozen=True)
class SamplingParams:
    """How to sample. The defaults are the ones recommended for gpt-oss.

    Attributes:
        temperature: Softmax temperature; ``0`` means greedy decoding.
        top_p: Nucleus sampling mass.
        max_tokens: Most tokens sampled in one generation.
        seed: Seed for reproducible sampling, or ``None``.
    """

    temperature: float = 1.0
    top_p: float = 1.0
    max_tokens: int = 4096
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {self.max_tokens}")


@dataclass(frozen=True)
class GenerationRequest:
    """One generation's worth of sampling.

    Attributes:
        prompt: The full prompt as token ids (history plus ``<|start|>assistant``).
        stop_tokens: Sampling stops after any of these (``<|call|>``, ``<|return|>``).
        sampling: Temperature, top_p, budget and seed.
        session_id: The conversation this prompt belongs to; backends key their
            per-session KV cache on it.
        constraint: What the completion may contain (calls, tool choice, the final
            answer's schema), for backends that constrain decoding; ``None`` for free
            sampling.
    """

    prompt: tuple[int, ...]
    stop_tokens: frozenset[int]
    sampling: SamplingParams = field(default_factory=SamplingParams)
    session_id: str = "default"
    constraint: DecodingConstraint | None = None


@dataclass(frozen=True)
class GenerationStats:
    """What a backend reports about its last generation for a session.

    Attributes:
        prompt_tokens: Length of the prompt.
        prefilled_tokens: Prompt tokens actually computed (the rest came from cache).
        sampled_tokens: Tokens produced.
        seconds: Wall time of the generation.
    """

    prompt_tokens: int
    prefilled_tokens: int
    sampled_tokens: int
    seconds: float


@runtime_checkable
class ModelBackend(Protocol):
    """Something that continues a Harmony prompt token by token."""

    def generate(self, request: GenerationRequest) -> AsyncIterator[int]:
        """Stream sampled token ids; the last one is the stop token, if one was hit."""
        ...

    def last_stats(self, session_id: str) -> GenerationStats | None:
        """Figures of the most recent finished generation of ``session_id``."""
        ...

    async def release(self, session_id: str) -> None:
        """Forget per-session state (KV cache); the session is over."""
        ...

    async def aclose(self) -> None:
        """Free everything (models, connections, server processes). Idempotent."""
        ...


@runtime_checkable
class KnowsContextWindow(Protocol):
    """A backend that can say how many positions (prompt plus sampled tokens) it reads."""

    async def context_window(self) -> int | None:
        """The window in tokens, or ``None`` when it cannot be found out."""
        ...


async def backend_context_window(backend: ModelBackend) -> int | None:
    """``backend``'s context window, or ``None`` for a backend that does not know it."""
    if isinstance(backend, KnowsContextWindow):
        window = await backend.context_window()
        return window if isinstance(window, int) and window > 0 else None
    return None

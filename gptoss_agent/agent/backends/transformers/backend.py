"""The in-process model backend: a gpt-oss checkpoint run with transformers and torch.

``TransformersBackend`` loads a checkpoint (a local folder, or a hub id for users who have
access; see :mod:`~gptoss_agent.agent.backends.transformers.loading`), keeps one KV cache
per agent session and, on every turn, prefills only the prompt tokens after the longest
common prefix with what the cache already holds (see
:mod:`~gptoss_agent.agent.backends.transformers.prefix_cache`). Decoding then feeds one
token per forward pass; the prompt is never re-processed per generated token.

This module owns the sessions: their caches (bounded, least recently used dropped), one
turn per session at a time, and the scheduling of the model's work. All torch work runs
on one worker thread, one short job at a time (a chunk of a prompt's prefill, or one
decode step plus sampling: :mod:`~gptoss_agent.agent.backends.transformers.runner`), so
the event loop never blocks and a long prompt does not hold up the other sessions'
tokens. Sessions that generate at the same time share their decode steps:
:mod:`~gptoss_agent.agent.backends.transformers.decode_batcher` gathers the sessions
waiting for a token into one forward pass, which on a small model costs little more than
one session's step; sessions that prefill at the same time likewise share one forward
pass of their prompt chunks. Tokens stream to the caller as they are sampled.

The KV cache (:mod:`~gptoss_agent.agent.backends.transformers.growable_cache`) keeps the
keys and values of all positions in every layer, sliding-window layers included: a
sliding layer that keeps only its window cannot be cropped back past it when history is
rewritten. The cache appends in place, and gpt-oss models run
:mod:`~gptoss_agent.agent.backends.transformers.sink_attention` instead of transformers'
eager attention, so a decode step never copies the cache.

A checkpoint trained on part of the vocabulary (``restricted_vocab.json``) never samples
the other ids, and by default computes logits only over its own ids (a compact output
layer): for a small model the full 201,088-row output layer is most of a decode step.

A request with a decoding constraint (``request.constraint``) is decoded under it: every
sampled completion matches the constraint's Harmony grammar (tool choice, recipients,
argument and answer schemas; see
:mod:`~gptoss_agent.agent.backends.transformers.grammar` and
:mod:`~gptoss_agent.agent.backends.transformers.constrained`). :attr:`constrains` says
whether this installation can (llguidance is installed); without it a constraint is
ignored, with a warning, and the loop validates what comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from gptoss_agent.agent.backends.base import GenerationRequest, GenerationStats
from gptoss_agent.agent.backends.constraint import DecodingConstraint
from gptoss_agent.agent.backends.errors import BackendUnavailableError
from gptoss_agent.agent.backends.transformers.config import TransformersBackendConfig
from gptoss_agent.agent.backends.transformers.constrained import (
    TokenGuide,
    grammar_engine_available,
    new_guide,
)
from gptoss_agent.agent.backends.transformers.decode_batcher import DecodeBatcher
from gptoss_agent.agent.backends.transformers.loading import import_torch, load_model
from gptoss_agent.agent.backends.transformers.prefix_cache import SessionCache, SessionCacheStore
from gptoss_agent.agent.backends.transformers.runner import (
    BackendCounters,
    DecodeRequest,
    ModelRunner,
    PrefillRequest,
)

_T = TypeVar("_T")
_LOG = logging.getLogger(__name__)


@dataclass
class _TurnFigures:
    """What one generation has computed so far (its figures, should it stop part way)."""

    prefilled: int = 0
    sampled: int = 0

__all__ = ["BackendCounters", "TransformersBackend", "TransformersBackendConfig"]


class TransformersBackend:
    """A :class:`~gptoss_agent.agent.backends.base.ModelBackend` running a model in process.

    Build it with :meth:`load` (blocking) or :meth:`aload`; or wrap an already loaded
    causal LM with the constructor.

    Args:
        model: A loaded transformers causal LM (``GptOssForCausalLM``), in eval mode.
        config: The settings; ``config.model`` is only informative here.
        allowed_ids: The only ids the model may sample (its restricted vocabulary), or
            ``None``.
    """

    def __init__(self, model: Any, config: TransformersBackendConfig,
                 allowed_ids: Sequence[int] | None = None) -> None:
        self.config = config
        self._torch = import_torch()
        self._runner: ModelRunner | None = ModelRunner(model, config, allowed_ids)
        self._device = self._runner.device
        self._allowed_ids = tuple(allowed_ids) if allowed_ids is not None else None
        self._counters_at_close = BackendCounters()
        self._executor: ThreadPoolExecutor | None = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="gptoss-torch"
        )
        # A session's figures go with its cache, so neither grows with every session id.
        self._store: SessionCacheStore[Any] = SessionCacheStore(
            config.max_sessions, on_evict=self._forget_stats
        )
        # One generation (or release) per session at a time; a lock lives while it has users.
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}
        self._stats: dict[str, GenerationStats] = {}
        batch = config.decode_batch if self._runner.sink_attention else 1
        self._decoder: DecodeBatcher[DecodeRequest, int] = DecodeBatcher(
            self._decode_on_worker, batch
        )
        # Prompt chunks of sessions that prefill at the same time share a forward pass too.
        self._prefiller: DecodeBatcher[PrefillRequest, int | None] = DecodeBatcher(
            self._prefill_on_worker, batch
        )
        self._seed_source = self._torch.Generator()
        self._seed_source.seed()
        self._constrains = grammar_engine_available()
        self._warned_unconstrained = False

    @classmethod
    def load(cls, config: TransformersBackendConfig) -> TransformersBackend:
        """Load ``config.model`` and build the backend (blocking; seconds to minutes).

        Raises:
            BackendUnavailableError: torch or transformers is not installed.
            ModelLoadError: The checkpoint could not be loaded.
        """
        loaded = load_model(config)
        return cls(loaded.model, config, allowed_ids=loaded.allowed_ids)

    @classmethod
    async def aload(cls, config: TransformersBackendConfig) -> TransformersBackend:
        """:meth:`load` on a worker thread, so the event loop keeps running."""
        return await asyncio.to_thread(cls.load, config)

    @property
    def model(self) -> Any:
        """The loaded transformers model (``None`` once closed)."""
        return self._runner.model if self._runner is not None else None

    @property
    def allowed_ids(self) -> tuple[int, ...] | None:
        """The only ids this model may sample (its restricted vocabulary), or ``None``."""
        return self._allowed_ids

    @property
    def constrains(self) -> bool:
        """Whether a request's decoding constraint is enforced (llguidance is installed)."""
        return self._constrains

    @property
    def counters(self) -> BackendCounters:
        """Lifetime totals of prefilled, reused and decoded tokens."""
        return self._runner.counters if self._runner is not None else self._counters_at_close

    async def context_window(self) -> int | None:
        """The checkpoint's ``max_position_embeddings`` (131,072 for gpt-oss)."""
        model = self.model
        window = getattr(getattr(model, "config", None), "max_position_embeddings", None)
        return window if isinstance(window, int) else None

    def cached_tokens(self, session_id: str) -> int:
        """How many tokens of ``session_id`` the KV cache holds (0 if none)."""
        if session_id not in self._store:
            return 0
        return len(self._store.get(session_id).tokens)

    def last_stats(self, session_id: str) -> GenerationStats | None:
        """Figures of the most recent finished generation of ``session_id``."""
        return self._stats.get(session_id)

    async def release(self, session_id: str) -> None:
        """Drop the session's KV cache and figures."""
        async with self._session_turn(session_id):
            # On the event loop's thread, where the store is also read: no generation of
            # this session runs now, and dropping the cache is only letting go of it.
            self._store.pop(session_id)
            self._stats.pop(session_id, None)

    def _forget_stats(self, session_id: str, _: SessionCache[Any]) -> None:
        self._stats.pop(session_id, None)

    def keep_sessions(self, count: int) -> None:
        """Keep the caches of at least ``count`` sessions.

        This raises ``max_sessions``, never lowers it: a batch of ``count`` concurrent
        tasks then never evicts one of its own sessions' caches while that session waits
        for a tool.
        """
        self._store.max_sessions = max(self._store.max_sessions, count)

    @contextlib.asynccontextmanager
    async def _session_turn(self, session_id: str) -> AsyncIterator[None]:
        """Hold ``session_id``'s lock: its generations and its release never overlap.

        Two at once would extend one KV cache twice per step.
        """
        lock, users = self._locks.get(session_id, (asyncio.Lock(), 0))
        self._locks[session_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[session_id]
            if users == 1:
                del self._locks[session_id]
            else:
                self._locks[session_id] = (lock, users - 1)

    async def aclose(self) -> None:
        """Drop every cache, stop the worker thread and let go of the model. Idempotent."""
        executor, self._executor = self._executor, None
        if executor is None:
            return
        await asyncio.to_thread(executor.shutdown, wait=True)  # jobs already queued finish
        self._store.clear()  # on the event loop's thread, like every other use of the store
        if self._runner is not None:
            self._counters_at_close = self._runner.counters
        self._runner = None
        if self._device.type == "cuda":
            self._torch.cuda.empty_cache()

    async def generate(self, request: GenerationRequest) -> AsyncIterator[int]:
        """Stream the tokens sampled after ``request.prompt``.

        The last token is the stop token, if one of ``request.stop_tokens`` was sampled;
        otherwise generation ends after ``request.sampling.max_tokens`` tokens.

        Under ``request.constraint`` every token is drawn from those its grammar allows.

        Raises:
            BackendUnavailableError: The backend was closed.
            ConstraintError: The constraint's grammar is invalid, or decoding reached a
                point where it allows no token of this model (this generation only).
            ValueError: The prompt is empty.
        """
        if not request.prompt:
            raise ValueError("the prompt is empty")
        runner = self._live_runner()
        session_id = request.session_id
        guide = await self._guide(request.constraint)
        async with self._session_turn(session_id):
            started = time.perf_counter()
            generator = self._generator(request.sampling.seed)
            done = _TurnFigures()
            entry = self._store.get(session_id)
            entry.busy += 1
            try:
                token = await self._prefill(runner, entry, request, generator, done, guide)
                while True:
                    done.sampled += 1
                    yield token
                    if token in request.stop_tokens or done.sampled >= request.sampling.max_tokens:
                        break
                    token = await self._decoder.step(
                        DecodeRequest(entry, token, request.sampling, generator, guide)
                    )
            finally:
                entry.busy -= 1
                self._stats[session_id] = GenerationStats(
                    prompt_tokens=len(request.prompt),
                    prefilled_tokens=done.prefilled,
                    sampled_tokens=done.sampled,
                    seconds=time.perf_counter() - started,
                )

    async def _guide(self, constraint: DecodingConstraint | None) -> TokenGuide | None:
        """The guide of a generation under ``constraint`` (``None`` for free sampling).

        Built on a thread of its own (the first one builds llguidance's tokenizer, about
        a second), so other sessions keep decoding meanwhile.
        """
        if constraint is None:
            return None
        if not self._constrains:
            if not self._warned_unconstrained:
                self._warned_unconstrained = True
                _LOG.warning("llguidance is not installed: decoding constraints are ignored "
                             "(pip install 'gptoss-agent[transformers]')")
            return None
        return await asyncio.to_thread(new_guide, constraint)

    def _live_runner(self) -> ModelRunner:
        if self._executor is None or self._runner is None:
            raise BackendUnavailableError("the transformers backend is closed")
        return self._runner

    def _generator(self, seed: int | None) -> Any:
        """A ``torch.Generator`` on the model's device, seeded (at random if ``None``)."""
        generator = self._torch.Generator(device=self._device)
        if seed is None:
            seed = int(self._torch.randint(0, 2**62, (1,), generator=self._seed_source).item())
        generator.manual_seed(seed)
        return generator

    async def _prefill(self, runner: ModelRunner, entry: SessionCache[Any],
                       request: GenerationRequest, generator: Any, done: _TurnFigures,
                       guide: TokenGuide | None) -> int:
        """Bring ``entry``'s cache up to the prompt; return the first sampled token.

        One worker job per chunk, shared with the chunks of other sessions prefilling at
        the same time (one packed forward pass): other sessions' decode steps run between
        the chunks of a long prompt instead of waiting for all of it. ``done.prefilled``
        counts what was computed, should the turn stop part way.
        """
        plan = await self._run(runner.prepare, entry, request.prompt)
        chunk = self.config.prefill_chunk
        starts = range(0, len(plan.prefill), chunk)
        token: int | None = None
        for start in starts:
            piece = tuple(plan.prefill[start : start + chunk])
            last = start == starts[-1]
            token = await self._prefiller.step(PrefillRequest(
                entry, piece, request.sampling if last else None, generator, guide))
            done.prefilled += len(piece)
        return cast(int, token)  # plan.prefill is never empty: the last chunk sampled

    async def _run(self, function: Callable[..., _T], *args: Any) -> _T:
        if self._executor is None:
            raise BackendUnavailableError("the transformers backend is closed")
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    async def _prefill_on_worker(
        self, requests: Sequence[PrefillRequest]
    ) -> list[int | Exception | None]:
        runner = self._live_runner()
        return await self._run(runner.prefill_batch, list(requests))

    async def _decode_on_worker(
        self, requests: Sequence[DecodeRequest]
    ) -> list[int | Exception]:
        runner = self._live_runner()
        return await self._run(runner.decode_and_sample, list(requests))

"""The in-process model backend: a gpt-oss checkpoint run with transformers and torch.

``TransformersBackend`` loads a checkpoint (a local folder, or a hub id for users who have
access), keeps one KV cache per agent session and, on every turn, prefills only the prompt
tokens after the longest common prefix with what the cache already holds (see
:mod:`~gptoss_agent.agent.backends.prefix_cache`). Decoding then feeds one token per
forward pass; the prompt is never re-processed per generated token.

All torch work runs on one worker thread, one short job at a time (a chunk of a prompt's
prefill, or one decode step plus sampling), so the event loop never blocks and a long
prompt does not hold up the other sessions' tokens. Sessions that generate at
the same time share their decode steps: :mod:`~gptoss_agent.agent.backends.decode_batcher`
gathers the sessions waiting for a token into one forward pass
(:mod:`~gptoss_agent.agent.backends.ragged_batch`, each row on its own cache), which on a
small model costs little more than one session's step. Tokens stream to the caller as they
are sampled.

The KV cache (:mod:`~gptoss_agent.agent.backends.growable_cache`) keeps the keys and
values of all positions in every layer, sliding-window layers included: a sliding layer
that keeps only its window cannot be cropped back past it when history is rewritten. The
sliding window is applied by the attention mask. The cost is memory: sliding layers hold
the whole context instead of their window. The cache appends in place, and gpt-oss models
run :mod:`~gptoss_agent.agent.backends.sink_attention` instead of transformers' eager
attention, so a decode step never copies the cache.

A checkpoint trained on part of the vocabulary (``restricted_vocab.json``) never samples
the other ids, and by default computes logits only over its own ids (a compact output
layer): for a small model the full 201,088-row output layer is most of a decode step.

torch and transformers are imported here, lazily, and nowhere else in the agent package.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import inspect
import json
import threading
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from gptoss_agent.agent.backend import GenerationRequest, GenerationStats, SamplingParams
from gptoss_agent.agent.backends.compact_head import CompactHead
from gptoss_agent.agent.backends.decode_batcher import DecodeBatcher
from gptoss_agent.agent.backends.errors import BackendUnavailableError, ModelLoadError
from gptoss_agent.agent.backends.growable_cache import growable_cache
from gptoss_agent.agent.backends.prefix_cache import (
    ReusePlan,
    SessionCache,
    SessionCacheStore,
    plan_reuse,
)
from gptoss_agent.agent.backends.ragged_batch import RaggedBatchCache
from gptoss_agent.agent.backends.sink_attention import QUERIES_LAST
from gptoss_agent.agent.backends.sink_attention import install as install_sink_attention

if TYPE_CHECKING:
    import torch

DTypeName = Literal["auto", "float32", "bfloat16", "float16"]


@dataclass(frozen=True)
class TransformersBackendConfig:
    """How to load and run a checkpoint in process.

    Attributes:
        model: A local checkpoint folder, or a hub id (only for users with access; set
            ``local_files_only`` to forbid any download). A compact checkpoint (see
            :mod:`~gptoss_agent.agent.finetune.compact`) is expanded into the user cache
            on first use.
        device: ``"auto"`` (CUDA if available, else CPU), ``"cpu"``, ``"cuda"``,
            ``"cuda:N"`` or ``"mps"``.
        dtype: ``"auto"`` keeps the checkpoint's own dtype (bf16 for gpt-oss, with the
            MoE weights in MXFP4 where transformers can run them); or an explicit dtype.
        dequantize_mxfp4: Ask transformers to dequantize MXFP4 weights to ``dtype``
            (needed where its MXFP4 kernels do not run; transformers also falls back by
            itself when they are missing).
        attn_implementation: Passed to ``from_pretrained``. ``None``: transformers' default
            for the model, except that a gpt-oss model on eager attention is switched to
            :func:`~gptoss_agent.agent.backends.sink_attention.sink_attention` (the same
            function without copying the cache); name ``"eager"`` to keep transformers'.
        local_files_only: Never contact a model hub.
        reuse_cache: Keep each session's KV cache across turns (``False`` re-prefills the
            whole prompt every turn; benchmarks compare the two).
        max_sessions: Sessions whose KV cache is kept; the least recently used is dropped.
        prefill_chunk: Most prompt tokens in one forward pass (bounds attention memory).
        threads: ``torch.set_num_threads`` value for CPU work, or ``None`` to leave it.
        decode_batch: Most sessions whose decode steps share one forward pass (``1``: one
            session per pass). Batching needs the sink attention; a batched session's
            logits may differ from a lone one's in the last bits of float rounding.
        compact_head: For a checkpoint with a restricted vocabulary, compute logits over
            its ids only (``False``: the full output layer, with the other ids masked:
            the same distribution and the same greedy tokens, slower; seeded samples
            differ between the two).
    """

    model: str
    device: str = "auto"
    dtype: DTypeName = "auto"
    dequantize_mxfp4: bool = False
    attn_implementation: str | None = None
    local_files_only: bool = True
    reuse_cache: bool = True
    max_sessions: int = 8
    prefill_chunk: int = 1024
    threads: int | None = None
    compact_head: bool = True
    decode_batch: int = 16

    def __post_init__(self) -> None:
        for name in ("max_sessions", "prefill_chunk", "decode_batch"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")


@dataclass(frozen=True)
class BackendCounters:
    """Totals over the backend's lifetime (benchmarks and tests read them).

    Attributes:
        prefilled_tokens: Prompt tokens run through the model.
        reused_tokens: Prompt tokens whose keys and values came from a cache.
        decoded_tokens: Tokens fed back one at a time while sampling.
        forward_passes: Forward calls of the model.
        batched_decode_steps: Decode forward passes that served more than one session.
    """

    prefilled_tokens: int = 0
    reused_tokens: int = 0
    decoded_tokens: int = 0
    forward_passes: int = 0
    batched_decode_steps: int = 0


def _require(module: str) -> Any:
    """``import module``, or a clear error naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise BackendUnavailableError(
            f"the transformers backend needs torch and transformers ({module} is missing): "
            "pip install 'gptoss-agent[transformers]'"
        ) from error


def _import_torch() -> Any:
    return _require("torch")


def resolve_device(device: str) -> str:
    """Turn ``"auto"`` into ``"cuda"``, ``"mps"`` or ``"cpu"``; pass others through."""
    if device != "auto":
        return device
    torch = _import_torch()
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


RESTRICTED_VOCAB_FILE = "restricted_vocab.json"
_NO_MASKS = {"full_attention": None, "sliding_attention": None}
"""Per-layer-type masks of a single decode step under the sink attention: none needed."""


_LOADING = threading.Lock()
"""Held while transformers loads a model: it sets torch's process-wide default dtype for
the duration, so two loads at once (say, a batch's float32 and bfloat16 models) would
build parts of one model in the other's dtype."""


def _restricted_vocabulary(model: str) -> list[int] | None:
    """The ids a checkpoint folder declares as its whole vocabulary, if it declares any."""
    path = Path(model) / RESTRICTED_VOCAB_FILE
    if not path.is_file():
        return None
    try:
        ids = json.loads(path.read_text(encoding="utf-8"))["ids"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ModelLoadError(f"{path} is not a valid restricted vocabulary: {error}") from error
    return [int(token) for token in ids]


def _checkpoint_folder(model: str) -> str:
    """``model``, or for a compact checkpoint (``finetune`` + ``pack``) the full checkpoint
    it expands to in the user cache."""
    from gptoss_agent.agent.finetune.compact import is_compact, materialize

    folder = Path(model)
    try:
        if not folder.is_dir() or not is_compact(folder):
            return model
        return str(materialize(folder))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ModelLoadError(f"could not expand the compact checkpoint {model}: {error}") \
            from error


def sample_token(
    logits: torch.Tensor, sampling: SamplingParams, generator: torch.Generator | None
) -> int:
    """Pick the next token from one position's logits.

    Temperature ``0`` is greedy (argmax); otherwise softmax at ``temperature``, restricted
    to the smallest set of tokens whose probability reaches ``top_p``, sampled with
    ``generator``.
    """
    torch = _import_torch()
    if sampling.temperature == 0:
        return int(torch.argmax(logits).item())
    probs = torch.softmax(logits.float() / sampling.temperature, dim=-1)
    if sampling.top_p < 1.0:
        sorted_probs, order = torch.sort(probs, descending=True)
        before = torch.cumsum(sorted_probs, dim=-1) - sorted_probs
        sorted_probs = sorted_probs.masked_fill(before >= sampling.top_p, 0.0)
        choice = torch.multinomial(sorted_probs, 1, generator=generator)
        return int(order[choice].item())
    return int(torch.multinomial(probs, 1, generator=generator).item())


class TransformersBackend:
    """A :class:`~gptoss_agent.agent.backend.ModelBackend` running a model in process.

    Build it with :meth:`load` (blocking) or :meth:`aload`; or wrap an already loaded
    causal LM with the constructor.

    Args:
        model: A loaded transformers causal LM (``GptOssForCausalLM``), in eval mode.
        config: The settings; ``config.model`` is only informative here.
    """

    def __init__(self, model: Any, config: TransformersBackendConfig,
                 allowed_ids: Sequence[int] | None = None) -> None:
        self.config = config
        self._torch = _import_torch()
        self._model = model
        self._device = next(model.parameters()).device
        self._sink_attention = config.attn_implementation is None and \
            install_sink_attention(model)
        # A checkpoint trained on part of the vocabulary (``restricted_vocab.json``): the
        # other ids were never trained, so they are never sampled.
        self._blocked: Any = None
        self._head: CompactHead | None = None
        self._allowed_ids = tuple(allowed_ids) if allowed_ids is not None else None
        if allowed_ids is not None:
            self._head = CompactHead.build(model, allowed_ids) if config.compact_head else None
            if self._head is None:
                size = int(model.get_output_embeddings().weight.shape[0])
                blocked = self._torch.ones(size, dtype=self._torch.bool, device=self._device)
                blocked[self._torch.tensor(list(allowed_ids), device=self._device)] = False
                self._blocked = blocked
        called = self._head.decoder if self._head is not None else model
        parameters = inspect.signature(called.forward).parameters
        self._cache_kwarg = "cache" if "cache" in parameters else "past_key_values"
        self._keeps_logits = "logits_to_keep" in inspect.signature(model.forward).parameters
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
        self._counters = BackendCounters()
        self._decoder: DecodeBatcher[_DecodeRequest, int] = DecodeBatcher(
            self._decode_on_worker, config.decode_batch if self._sink_attention else 1
        )
        self._seed_source = self._torch.Generator()
        self._seed_source.seed()

    @classmethod
    def load(cls, config: TransformersBackendConfig) -> TransformersBackend:
        """Load ``config.model`` and build the backend (blocking; seconds to minutes).

        Raises:
            BackendUnavailableError: torch or transformers is not installed.
            ModelLoadError: The checkpoint could not be loaded.
        """
        if Path(config.model).is_absolute() and not Path(config.model).exists():
            raise ModelLoadError(f"no checkpoint folder at {config.model}")
        torch = _import_torch()
        transformers = _require("transformers")
        auto_model = transformers.AutoModelForCausalLM
        if config.threads is not None:
            torch.set_num_threads(config.threads)
        device = resolve_device(config.device)
        kwargs: dict[str, Any] = {"local_files_only": config.local_files_only}
        dtype: Any = "auto" if config.dtype == "auto" else getattr(torch, config.dtype)
        major = int(transformers.__version__.split(".")[0])
        minor = int(transformers.__version__.split(".")[1])
        kwargs["dtype" if (major, minor) >= (4, 56) else "torch_dtype"] = dtype
        if config.attn_implementation is not None:
            kwargs["attn_implementation"] = config.attn_implementation
        if config.dequantize_mxfp4:
            mxfp4_config: Any = getattr(transformers, "Mxfp4Config", None)
            if mxfp4_config is None:
                raise ModelLoadError(
                    f"transformers {transformers.__version__} has no MXFP4 support"
                )
            kwargs["quantization_config"] = mxfp4_config(dequantize=True)
        if device != "cpu":
            kwargs["device_map"] = device
        with _LOADING:  # expanding a compact checkpoint builds a model too
            path = _checkpoint_folder(config.model)
            try:
                model = auto_model.from_pretrained(path, **kwargs)
            except Exception as error:  # torch and transformers raise many kinds
                raise ModelLoadError(
                    f"could not load {config.model!r} on {device}: "
                    f"{error or type(error).__name__}") from error
        if device == "cpu":
            model = model.to("cpu")
        model.eval()
        return cls(model, config, allowed_ids=_restricted_vocabulary(path))

    @classmethod
    async def aload(cls, config: TransformersBackendConfig) -> TransformersBackend:
        """:meth:`load` on a worker thread, so the event loop keeps running."""
        return await asyncio.to_thread(cls.load, config)

    @property
    def model(self) -> Any:
        """The loaded transformers model."""
        return self._model

    @property
    def allowed_ids(self) -> tuple[int, ...] | None:
        """The only ids this model may sample (its restricted vocabulary), or ``None``."""
        return self._allowed_ids

    @property
    def counters(self) -> BackendCounters:
        """Lifetime totals of prefilled, reused and decoded tokens."""
        return self._counters

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
        """Keep the caches of at least ``count`` sessions (raises ``max_sessions``, never
        lowers it): a batch of ``count`` concurrent tasks then never evicts one of its own
        sessions' caches while that session waits for a tool."""
        self._store.max_sessions = max(self._store.max_sessions, count)

    @contextlib.asynccontextmanager
    async def _session_turn(self, session_id: str) -> AsyncIterator[None]:
        """Hold ``session_id``'s lock: its generations and its release never overlap (two
        at once would extend one KV cache twice per step)."""
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
        self._model = None
        if self._device.type == "cuda":
            self._torch.cuda.empty_cache()

    async def generate(self, request: GenerationRequest) -> AsyncIterator[int]:
        """Stream the tokens sampled after ``request.prompt``.

        The last token is the stop token, if one of ``request.stop_tokens`` was sampled;
        otherwise generation ends after ``request.sampling.max_tokens`` tokens.

        Raises:
            BackendUnavailableError: The backend was closed.
            ValueError: The prompt is empty.
        """
        if not request.prompt:
            raise ValueError("the prompt is empty")
        if self._executor is None:
            raise BackendUnavailableError("the transformers backend is closed")
        session_id = request.session_id
        async with self._session_turn(session_id):
            started = time.perf_counter()
            generator = self._torch.Generator(device=self._device)
            seed = request.sampling.seed
            if seed is None:
                seed = int(self._torch.randint(0, 2**62, (1,), generator=self._seed_source).item())
            generator.manual_seed(seed)
            prefilled = sampled = 0
            entry = self._store.get(session_id)
            entry.busy += 1
            try:
                plan = await self._run(self._prepare, entry, request.prompt)
                # One job per chunk: other sessions' decode steps run between the chunks of
                # a long prompt instead of waiting for all of it.
                chunk = self.config.prefill_chunk
                starts = range(0, len(plan.prefill), chunk)
                for start in starts:
                    piece = list(plan.prefill[start : start + chunk])
                    token = await self._run(
                        self._prefill_piece, entry, piece,
                        request.sampling if start == starts[-1] else None, generator,
                    )
                    prefilled += len(piece)  # what was computed, should the turn stop here
                while True:
                    sampled += 1
                    yield token
                    if token in request.stop_tokens or sampled >= request.sampling.max_tokens:
                        break
                    token = await self._decoder.step(
                        _DecodeRequest(entry, token, request.sampling, generator)
                    )
            finally:
                entry.busy -= 1
                self._stats[session_id] = GenerationStats(
                    prompt_tokens=len(request.prompt),
                    prefilled_tokens=prefilled,
                    sampled_tokens=sampled,
                    seconds=time.perf_counter() - started,
                )

    async def _run(self, function: Any, *args: Any) -> Any:
        if self._executor is None:
            raise BackendUnavailableError("the transformers backend is closed")
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    async def _decode_on_worker(
        self, requests: Sequence[_DecodeRequest]
    ) -> list[int | Exception]:
        return cast(list[int | Exception],
                    await self._run(self._decode_and_sample, list(requests)))

    # Everything below runs on the worker thread.

    def _last_logits(self, ids: Any, kwargs: dict[str, Any]) -> Any:
        """Call the model on ``ids`` (batch, positions) with ``kwargs``; return each row's
        last-position logits (over the compact head's ids when there is one)."""
        if self._head is not None:
            hidden = self._head.decoder(input_ids=ids, **kwargs).last_hidden_state[:, -1]
            return self._head.logits(hidden)
        if self._keeps_logits:
            kwargs["logits_to_keep"] = 1
        logits = self._model(input_ids=ids, **kwargs).logits[:, -1]
        if self._blocked is not None:
            logits = logits.masked_fill(self._blocked, float("-inf"))
        return logits

    def _forward(self, entry: SessionCache[Any], tokens: list[int]) -> Any:
        """Run ``tokens`` through the model on ``entry``'s cache; return the last position's
        logits (over the compact head's ids when there is one)."""
        torch = self._torch
        ids = torch.tensor([tokens], dtype=torch.long, device=self._device)
        kwargs: dict[str, Any] = {self._cache_kwarg: entry.state, "use_cache": True}
        if self._sink_attention:
            kwargs[QUERIES_LAST] = True
            if len(tokens) == 1:
                # One query after everything cached: full attention masks nothing, and a
                # sliding layer skips exactly what its window would mask. No mask to build.
                kwargs["attention_mask"] = _NO_MASKS
        logits = self._last_logits(ids, kwargs)[0]
        entry.tokens.extend(tokens)
        self._counters = _add(self._counters, forward_passes=1)
        return logits

    def _forward_ragged(self, entries: Sequence[SessionCache[Any]], tokens: list[int]) -> Any:
        """One decode step of several sessions (one token each, each on its own cache);
        return their next-token logits, one row per session."""
        torch = self._torch
        ids = torch.tensor([[token] for token in tokens], dtype=torch.long, device=self._device)
        positions = torch.tensor([[len(entry.tokens)] for entry in entries],
                                 dtype=torch.long, device=self._device)
        kwargs: dict[str, Any] = {
            self._cache_kwarg: RaggedBatchCache([entry.state for entry in entries]),
            "use_cache": True,
            "position_ids": positions,
            "attention_mask": _NO_MASKS,
            QUERIES_LAST: True,
        }
        logits = self._last_logits(ids, kwargs)
        for entry, token in zip(entries, tokens, strict=True):
            entry.tokens.append(token)
        self._counters = _add(self._counters, forward_passes=1, batched_decode_steps=1)
        return logits

    def _sample(self, logits: Any, sampling: SamplingParams, generator: Any) -> int:
        index = sample_token(logits, sampling, generator)
        return self._head.token_ids[index] if self._head is not None else index

    def _fresh_state(self) -> Any:
        return growable_cache()

    def _prepare(self, entry: SessionCache[Any], prompt: Sequence[int]) -> ReusePlan:
        """Plan the reuse of ``entry``'s cache for ``prompt`` and cut the cache back to the
        reused prefix (a fresh cache if nothing is reused)."""
        if not self.config.reuse_cache:
            entry.state, entry.tokens[:] = None, []
        plan = plan_reuse(entry.tokens, prompt)
        try:
            with self._torch.inference_mode():
                if entry.state is None or plan.reused == 0:
                    entry.state, entry.tokens[:] = self._fresh_state(), []
                elif plan.dropped:
                    entry.state.crop(-plan.dropped)
                    del entry.tokens[plan.reused :]
                    if entry.state.get_seq_length() != plan.reused:
                        raise RuntimeError("KV cache length disagrees with its token record")
        except BaseException:
            entry.state, entry.tokens[:] = None, []
            raise
        self._counters = _add(self._counters, reused_tokens=plan.reused)
        return plan

    def _prefill_piece(self, entry: SessionCache[Any], piece: list[int],
                       sampling: SamplingParams | None, generator: torch.Generator) -> int | None:
        """Run one chunk of a prompt; after the last (``sampling`` given), sample the first
        token."""
        try:
            with self._torch.inference_mode():
                logits = self._forward(entry, piece)
                token = None if sampling is None else self._sample(logits, sampling, generator)
        except BaseException:
            entry.state, entry.tokens[:] = None, []
            raise
        self._counters = _add(self._counters, prefilled_tokens=len(piece))
        return token

    def _decode_and_sample(self, requests: list[_DecodeRequest]) -> list[int | Exception]:
        """One decode step of every session in ``requests`` (one forward pass), then a
        token sampled for each, or the error that sampling raised for that session alone.

        Raises:
            Exception: The forward pass failed; every session's cache is dropped.
        """
        try:
            with self._torch.inference_mode():
                if len(requests) == 1:
                    only = requests[0]
                    rows = self._forward(only.entry, [only.token])[None]
                else:
                    rows = self._forward_ragged([request.entry for request in requests],
                                                [request.token for request in requests])
        except BaseException:
            for request in requests:
                request.entry.state, request.entry.tokens[:] = None, []
            raise
        self._counters = _add(self._counters, decoded_tokens=len(requests))
        following: list[int | Exception] = []
        with self._torch.inference_mode():
            for row, request in zip(rows, requests, strict=True):
                try:  # the caches are consistent: a failed draw fails its session only
                    following.append(self._sample(row, request.sampling, request.generator))
                except Exception as error:
                    following.append(error)
        return following


@dataclass(frozen=True)
class _DecodeRequest:
    """One session's wish for its next token: the token just sampled, fed back."""

    entry: SessionCache[Any]
    token: int
    sampling: SamplingParams
    generator: Any


def _add(counters: BackendCounters, **increments: int) -> BackendCounters:
    return replace(
        counters, **{name: getattr(counters, name) + step for name, step in increments.items()}
    )


def from_task_settings(path: str | Path, settings: Mapping[str, Any]) -> TransformersBackend:
    """Load the backend a task file's ``model`` section describes (blocking).

    Args:
        path: The checkpoint folder, resolved against the task file.
        settings: The ``model`` mapping (``device``, ``dtype`` are read).
    """
    dtype = str(settings.get("dtype", "auto"))
    if dtype not in ("auto", "float32", "bfloat16", "float16"):
        raise ValueError(f"model.dtype must be auto, float32, bfloat16 or float16, got {dtype!r}")
    config = TransformersBackendConfig(
        model=str(path),
        device=str(settings.get("device", "auto")),
        dtype=cast(DTypeName, dtype),
    )
    return TransformersBackend.load(config)

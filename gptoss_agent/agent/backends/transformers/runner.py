"""The model side of the in-process backend: forward passes and sampling, on one thread.

:class:`ModelRunner` owns a loaded model and everything that touches its tensors: the
output layer (full, masked to a restricted vocabulary, or a
:class:`~gptoss_agent.agent.backends.transformers.compact_head.CompactHead`), bringing a
session's KV cache up to a prompt (:meth:`ModelRunner.prepare`), prefilling the prompt
chunks of several sessions in one pass (side by side in one row, each segment on its own
cache through a :class:`~gptoss_agent.agent.backends.transformers.ragged_batch.PackedBatchCache`),
and one decode step of several sessions at once (each row on its own cache through a
:class:`~gptoss_agent.agent.backends.transformers.ragged_batch.RaggedBatchCache`), then
sampling. A batch of one runs exactly as a lone session always has. The backend calls
these methods on its single worker thread, one at a time; nothing here knows about
sessions' locks, the event loop or streaming.

A generation under a decoding constraint carries a
:class:`~gptoss_agent.agent.backends.transformers.constrained.TokenGuide`: its next-token
mask is computed once the forward pass is issued (on a GPU, while its kernels run),
applied to its row of logits before the draw, and the drawn token advances it. Rows with
and without a guide share one batch; a guide that fails fails its own session only.

A failed forward pass leaves a cache whose state is unknown: the affected sessions'
caches are dropped (their next turn prefills from scratch).
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Sequence
from typing import Any

from gptoss_agent.agent.backends.base import SamplingParams
from gptoss_agent.agent.backends.transformers.compact_head import CompactHead
from gptoss_agent.agent.backends.transformers.config import TransformersBackendConfig
from gptoss_agent.agent.backends.transformers.constrained import MaskLayout, TokenGuide
from gptoss_agent.agent.backends.transformers.growable_cache import growable_cache
from gptoss_agent.agent.backends.transformers.loading import import_torch
from gptoss_agent.agent.backends.transformers.prefix_cache import (
    ReusePlan,
    SessionCache,
    plan_reuse,
)
from gptoss_agent.agent.backends.transformers.ragged_batch import (
    PackedBatchCache,
    RaggedBatchCache,
)
from gptoss_agent.agent.backends.transformers.sampling import sample_token
from gptoss_agent.agent.backends.transformers.sink_attention import QUERIES_LAST
from gptoss_agent.agent.backends.transformers.sink_attention import (
    install as install_sink_attention,
)
from gptoss_agent.agent.backends.transformers.work import (
    BackendCounters,
    DecodeRequest,
    PrefillRequest,
)

__all__ = ["BackendCounters", "DecodeRequest", "ModelRunner", "PrefillRequest"]

_NO_MASKS = {"full_attention": None, "sliding_attention": None}
"""Per-layer-type masks of a single decode step under the sink attention: none needed."""


class ModelRunner:
    """Forward passes and sampling of one loaded model (call from one thread at a time).

    Args:
        model: A loaded transformers causal LM, in eval mode; a gpt-oss model on eager
            attention is switched to the sink attention unless
            ``config.attn_implementation`` names one.
        config: The backend settings (``attn_implementation``, ``compact_head`` and
            ``reuse_cache`` are read).
        allowed_ids: The only ids ever sampled (a restricted vocabulary), or ``None``.
    """

    def __init__(self, model: Any, config: TransformersBackendConfig,
                 allowed_ids: Sequence[int] | None = None) -> None:
        self._torch = import_torch()
        self.model = model
        self.device = next(model.parameters()).device
        self.reuse_cache = config.reuse_cache
        self.sink_attention = config.attn_implementation is None and \
            install_sink_attention(model)
        # A checkpoint trained on part of the vocabulary: the other ids were never
        # trained, so they are never sampled.
        self.head: CompactHead | None = None
        self._blocked: Any = None
        if allowed_ids is not None:
            self.head = CompactHead.build(model, allowed_ids) if config.compact_head else None
            if self.head is None:
                self._blocked = self._block_all_but(allowed_ids)
        called = self.head.decoder if self.head is not None else model
        parameters = inspect.signature(called.forward).parameters
        self._cache_kwarg = "cache" if "cache" in parameters else "past_key_values"
        self._keeps_logits = "logits_to_keep" in inspect.signature(model.forward).parameters
        self._layout: MaskLayout | None = None
        self.counters = BackendCounters()

    def _block_all_but(self, allowed_ids: Sequence[int]) -> Any:
        """A boolean row over the output layer, true for every id not in ``allowed_ids``."""
        torch = self._torch
        size = int(self.model.get_output_embeddings().weight.shape[0])
        blocked = torch.ones(size, dtype=torch.bool, device=self.device)
        blocked[torch.tensor(list(allowed_ids), device=self.device)] = False
        return blocked

    def _last_logits(self, ids: Any, kwargs: dict[str, Any]) -> Any:
        """Each row's last-position logits of the model on ``ids`` (batch, positions).

        Over the compact head's ids when there is one.
        """
        if self.head is not None:
            hidden = self.head.decoder(input_ids=ids, **kwargs).last_hidden_state[:, -1]
            return self.head.logits(hidden)
        if self._keeps_logits:
            kwargs["logits_to_keep"] = 1
        logits = self.model(input_ids=ids, **kwargs).logits[:, -1]
        if self._blocked is not None:
            logits = logits.masked_fill(self._blocked, float("-inf"))
        return logits

    def _forward(self, entry: SessionCache[Any], tokens: list[int]) -> Any:
        """Run ``tokens`` on ``entry``'s cache; return the last position's logits."""
        torch = self._torch
        ids = torch.tensor([tokens], dtype=torch.long, device=self.device)
        kwargs: dict[str, Any] = {self._cache_kwarg: entry.state, "use_cache": True}
        if self.sink_attention:
            kwargs[QUERIES_LAST] = True
            if len(tokens) == 1:
                # One query after everything cached: full attention masks nothing, and a
                # sliding layer skips exactly what its window would mask. No mask to build.
                kwargs["attention_mask"] = _NO_MASKS
        logits = self._last_logits(ids, kwargs)[0]
        entry.tokens.extend(tokens)
        self.counters = self.counters.plus(forward_passes=1)
        return logits

    def _forward_ragged(self, entries: Sequence[SessionCache[Any]], tokens: list[int]) -> Any:
        """One decode step of several sessions (one token each, each on its own cache).

        Returns:
            Their next-token logits, one row per session.
        """
        torch = self._torch
        ids = torch.tensor([[token] for token in tokens], dtype=torch.long, device=self.device)
        positions = torch.tensor([[len(entry.tokens)] for entry in entries],
                                 dtype=torch.long, device=self.device)
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
        self.counters = self.counters.plus(forward_passes=1, batched_decode_steps=1)
        return logits

    def _forward_packed(self, entries: Sequence[SessionCache[Any]],
                        pieces: Sequence[Sequence[int]]) -> Any:
        """Prompt chunks of several sessions in one pass: one row, the chunks side by side.

        Returns:
            The logits after each chunk's last token, one row per session.
        """
        torch = self._torch
        flat = [token for piece in pieces for token in piece]
        ids = torch.tensor([flat], dtype=torch.long, device=self.device)
        positions = torch.tensor(
            [[len(entry.tokens) + at for entry, piece in zip(entries, pieces, strict=True)
              for at in range(len(piece))]], dtype=torch.long, device=self.device)
        lengths = [len(piece) for piece in pieces]
        ends = torch.tensor(lengths, device=self.device).cumsum(0) - 1
        kwargs: dict[str, Any] = {
            self._cache_kwarg: PackedBatchCache([entry.state for entry in entries], lengths),
            "use_cache": True,
            "position_ids": positions,
            "attention_mask": _NO_MASKS,
            QUERIES_LAST: True,
        }
        logits = self._logits_at(ids, kwargs, ends)
        for entry, piece in zip(entries, pieces, strict=True):
            entry.tokens.extend(piece)
        self.counters = self.counters.plus(forward_passes=1)
        return logits

    def _logits_at(self, ids: Any, kwargs: dict[str, Any], positions: Any) -> Any:
        """The logits at ``positions`` of the one row ``ids`` (one row of logits each)."""
        if self.head is not None:
            hidden = self.head.decoder(input_ids=ids, **kwargs).last_hidden_state[0]
            return self.head.logits(hidden.index_select(0, positions))
        if self._keeps_logits:
            kwargs["logits_to_keep"] = positions
            logits = self.model(input_ids=ids, **kwargs).logits[0]
        else:
            logits = self.model(input_ids=ids, **kwargs).logits[0].index_select(0, positions)
        if self._blocked is not None:
            logits = logits.masked_fill(self._blocked, float("-inf"))
        return logits

    def sample(self, logits: Any, sampling: SamplingParams, generator: Any) -> int:
        """The real id of the token drawn from ``logits`` (one row)."""
        index = sample_token(logits, sampling, generator)
        return self.head.token_ids[index] if self.head is not None else index

    def _draw(self, logits: Any, sampling: SamplingParams, generator: Any,
              guide: TokenGuide | None) -> int:
        """:meth:`sample`; with a ``guide`` (its mask filled), among the tokens it allows.

        The drawn token advances the guide.

        Raises:
            ConstraintError: The guide allows no token of this model, or failed.
        """
        if guide is None:
            return self.sample(logits, sampling, generator)
        token = self.sample(guide.restrict(logits), sampling, generator)
        guide.accept(token)
        return token

    def _fill_masks(self, guides: Sequence[TokenGuide | None]) -> None:
        """Compute the next-token masks of ``guides`` (``None`` entries skipped)."""
        for guide in guides:
            if guide is not None:
                if self._layout is None:
                    self._layout = self._mask_layout()
                guide.fill(self._layout)

    def _mask_layout(self) -> MaskLayout:
        """How llguidance's masks line up with this model's logits."""
        if self.head is not None:
            return MaskLayout(len(self.head.token_ids), token_ids=self.head.token_ids)
        size = int(self.model.get_output_embeddings().weight.shape[0])
        permitted = None if self._blocked is None else (~self._blocked).cpu().numpy()
        return MaskLayout(size, permitted=permitted)

    def prepare(self, entry: SessionCache[Any], prompt: Sequence[int]) -> ReusePlan:
        """Plan the reuse of ``entry``'s cache for ``prompt`` and cut the cache back.

        The cache keeps the reused prefix only (a fresh cache if nothing is reused).
        """
        if not self.reuse_cache:
            entry.state, entry.tokens[:] = None, []
        plan = plan_reuse(entry.tokens, prompt)
        try:
            with self._torch.inference_mode():
                if entry.state is None or plan.reused == 0:
                    entry.state, entry.tokens[:] = growable_cache(), []
                elif plan.dropped:
                    entry.state.crop(-plan.dropped)
                    del entry.tokens[plan.reused :]
                    if entry.state.get_seq_length() != plan.reused:
                        raise RuntimeError("KV cache length disagrees with its token record")
        except BaseException:
            entry.state, entry.tokens[:] = None, []
            raise
        self.counters = self.counters.plus(reused_tokens=plan.reused)
        return plan

    def prefill_piece(self, entry: SessionCache[Any], piece: list[int],
                      sampling: SamplingParams | None, generator: Any,
                      guide: TokenGuide | None = None) -> int | None:
        """Run one chunk of a prompt; after the last one (``sampling`` given), sample.

        Returns:
            The first sampled token after the last chunk, else ``None``.

        Raises:
            ConstraintError: ``guide`` allows no token here (the cache stays valid).
        """
        started = time.perf_counter()
        try:
            with self._torch.inference_mode():
                logits = self._forward(entry, piece)
        except BaseException:
            entry.state, entry.tokens[:] = None, []
            raise
        self.counters = self.counters.plus(prefilled_tokens=len(piece), prefill_steps=1,
                                           prefill_rows=1)
        try:
            if sampling is None:
                return None
            self._fill_masks([guide])
            with self._torch.inference_mode():
                return self._draw(logits, sampling, generator, guide)
        finally:
            self.counters = self.counters.plus(
                prefill_seconds=time.perf_counter() - started)

    def prefill_batch(self, requests: Sequence[PrefillRequest]) -> list[int | Exception | None]:
        """Run the chunks of several sessions in one forward pass (packed), then draw.

        One request runs as :meth:`prefill_piece` does.

        Returns:
            For each request, its first sampled token (last chunk), ``None`` (an earlier
            chunk), or the error its draw raised, for that session alone.

        Raises:
            Exception: The forward pass failed; every session's cache is dropped.
        """
        if len(requests) == 1:
            only = requests[0]
            return [self.prefill_piece(only.entry, list(only.tokens), only.sampling,
                                       only.generator, only.guide)]
        started = time.perf_counter()
        try:
            with self._torch.inference_mode():
                rows = self._forward_packed([request.entry for request in requests],
                                            [request.tokens for request in requests])
        except BaseException:
            for request in requests:
                request.entry.state, request.entry.tokens[:] = None, []
            raise
        self.counters = self.counters.plus(
            prefilled_tokens=sum(len(request.tokens) for request in requests),
            prefill_steps=1, prefill_rows=len(requests))
        drawing = [request for request in requests if request.sampling is not None]
        self._fill_masks([request.guide for request in drawing])
        firsts: list[int | Exception | None] = []
        with self._torch.inference_mode():
            for row, request in zip(rows, requests, strict=True):
                firsts.append(self._draw_or_error(row, request))
        self.counters = self.counters.plus(prefill_seconds=time.perf_counter() - started)
        return firsts

    def _draw_or_error(self, row: Any, request: PrefillRequest) -> int | Exception | None:
        if request.sampling is None:
            return None
        try:  # the caches are consistent: a failed draw fails its session only
            return self._draw(row, request.sampling, request.generator, request.guide)
        except Exception as error:
            return error

    def decode_and_sample(self, requests: list[DecodeRequest]) -> list[int | Exception]:
        """One decode step of every session in ``requests`` (one forward pass), then sample.

        Returns:
            A token for each request, or the error that sampling raised for that
            session alone.

        Raises:
            Exception: The forward pass failed; every session's cache is dropped.
        """
        started = time.perf_counter()
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
        self.counters = self.counters.plus(decoded_tokens=len(requests), decode_steps=1)
        self._fill_masks([request.guide for request in requests])
        following: list[int | Exception] = []
        with self._torch.inference_mode():
            for row, request in zip(rows, requests, strict=True):
                try:  # the caches are consistent: a failed draw fails its session only
                    following.append(self._draw(row, request.sampling, request.generator,
                                                request.guide))
                except Exception as error:
                    following.append(error)
        self.counters = self.counters.plus(decode_seconds=time.perf_counter() - started)
        return following

"""The settings of the in-process backend (:class:`TransformersBackendConfig`).

A plain frozen dataclass: importing it imports neither torch nor transformers, so a caller
(the task layer, ``gptoss-agent serve``) can build and validate a config before anything
heavy is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

DTypeName = Literal["auto", "float32", "bfloat16", "float16"]
"""The dtypes a checkpoint can be loaded in (``auto``: the checkpoint's own)."""

DTYPE_NAMES: tuple[DTypeName, ...] = ("auto", "float32", "bfloat16", "float16")


@dataclass(frozen=True)
class TransformersBackendConfig:
    """How to load and run a checkpoint in process.

    Attributes:
        model: A local checkpoint folder, or a hub id (only for users with access; set
            ``local_files_only`` to forbid any download). A compact checkpoint (see
            :mod:`~gptoss_agent.agent.backends.transformers.compact`) is expanded into
            the user cache on first use.
        device: ``"auto"`` (CUDA if available, else MPS, else CPU), ``"cpu"``,
            ``"cuda"``, ``"cuda:N"`` or ``"mps"``.
        dtype: ``"auto"`` keeps the checkpoint's own dtype (bf16 for gpt-oss, with the
            MoE weights in MXFP4 where transformers can run them); or an explicit dtype.
        dequantize_mxfp4: Ask transformers to dequantize MXFP4 weights to ``dtype``
            (needed where its MXFP4 kernels do not run; transformers also falls back by
            itself when they are missing).
        attn_implementation: Passed to ``from_pretrained``. ``None``: transformers'
            default for the model, except that a gpt-oss model on eager attention is
            switched to the sink attention
            (:mod:`~gptoss_agent.agent.backends.transformers.sink_attention`: the same
            function without copying the cache); name ``"eager"`` to keep
            transformers'.
        local_files_only: Never contact a model hub.
        reuse_cache: Keep each session's KV cache across generations (``False`` re-prefills the
            whole prompt every generation; benchmarks compare the two).
        max_sessions: Sessions whose KV cache is kept; the least recently used is dropped.
        prefill_chunk: Most prompt tokens in one forward pass (bounds attention memory).
        threads: ``torch.set_num_threads`` value for CPU work, or ``None`` to leave it.
        compact_head: For a checkpoint with a restricted vocabulary, compute logits over
            its ids only (``False``: the full output layer, with the other ids masked:
            the same distribution and the same greedy tokens, slower; seeded samples
            differ between the two).
        decode_batch: Most sessions whose decode steps share one forward pass (``1``: one
            session per pass). Batching needs the sink attention; a batched session's
            logits may differ from a lone one's in the last bits of float rounding.
        show_progress: Let transformers draw its progress bars ("Loading weights",
            "Writing model shards") while loading or expanding a checkpoint. Off by
            default, so that a live terminal view stays clean.

    Raises:
        ValueError: ``dtype`` is not one of :data:`DTYPE_NAMES`, or ``max_sessions``,
            ``prefill_chunk`` or ``decode_batch`` is below 1.
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
    show_progress: bool = False

    def __post_init__(self) -> None:
        if self.dtype not in DTYPE_NAMES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPE_NAMES)}, got {self.dtype!r}")
        for name in ("max_sessions", "prefill_chunk", "decode_batch"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")

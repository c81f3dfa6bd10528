"""The settings of one fine-tuning run (:class:`FinetuneConfig`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

Method = Literal["full", "lora"]


@dataclass(frozen=True)
class FinetuneConfig:
    """How to fine-tune.

    Attributes:
        data: Training data files (JSONL).
        model: The checkpoint folder to start from (``save_pretrained`` layout).
        output: Where the result (and ``checkpoints/``) goes.
        method: ``full`` (every weight; small models) or ``lora`` (peft adapters on the
            attention projections; large models).
        steps: Optimizer steps.
        batch_size: Examples per step.
        learning_rate: Peak learning rate (linear warm-up, then cosine decay to 10%).
        warmup_steps: Steps of linear warm-up.
        weight_decay: AdamW weight decay.
        grad_clip: Gradient norm clip (0: none).
        seed: Seed of the initialisation order, the data order and dropout.
        heldout_fraction: Share of examples kept out of training and evaluated at the end.
        max_length: Longest example accepted.
        restrict_vocab: Train over the token ids the data uses (a compact softmax); the
            saved checkpoint still has the full vocabulary (see
            :mod:`~gptoss_agent.agent.finetune.vocab`). Full fine-tuning only.
        extra_vocab: Ids kept in a restricted vocabulary although the data lacks them.
        lora_rank: LoRA rank.
        lora_alpha: LoRA scaling numerator.
        lora_dropout: LoRA dropout.
        lora_targets: Module names that get adapters.
        merge_lora: Save the model with the adapter merged in (else the adapter alone).
        checkpoint_every: Steps between resumable checkpoints (0: only at the end).
        keep_checkpoints: Most recent checkpoints kept.
        eval_every: Steps between held-out evaluations during training (0: only at the end).
        threads: ``torch.set_num_threads``, or ``None``.
        save_dtype: dtype of the saved model (``float32`` or ``bfloat16``).
        load_dtype: dtype the model is loaded and trained in: ``float32`` (small models),
            ``bfloat16``, or ``auto`` (the checkpoint's own; for LoRA on gpt-oss, whose
            frozen base stays in bf16 while the adapters train in float32).
        device: ``auto`` (CUDA when available, else CPU), ``cpu``, ``cuda``, ``cuda:N``.
    """

    data: tuple[Path, ...]
    model: Path
    output: Path
    method: Method = "full"
    steps: int = 1000
    batch_size: int = 16
    learning_rate: float = 3e-3
    warmup_steps: int = 50
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    seed: int = 0
    heldout_fraction: float = 0.05
    max_length: int = 4096
    restrict_vocab: bool = False
    extra_vocab: tuple[int, ...] = ()
    lora_rank: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.0
    lora_targets: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
    merge_lora: bool = False
    checkpoint_every: int = 200
    keep_checkpoints: int = 2
    eval_every: int = 0
    threads: int | None = None
    save_dtype: Literal["float32", "bfloat16"] = "float32"
    load_dtype: Literal["float32", "bfloat16", "auto"] = "float32"
    device: str = "auto"
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.method not in ("full", "lora"):
            raise ValueError(f"method must be 'full' or 'lora', got {self.method!r}")
        for name in ("steps", "batch_size", "max_length", "keep_checkpoints", "lora_rank"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.learning_rate <= 0:
            raise ValueError("learning_rate must be positive")
        if self.restrict_vocab and self.method != "full":
            raise ValueError("restrict_vocab needs method='full' (an adapter cannot change "
                             "the vocabulary)")

    def fingerprint(self) -> dict[str, Any]:
        """The settings a resumed run must share with the run that wrote the checkpoint."""
        data = asdict(self)
        for name in ("output", "steps", "checkpoint_every", "keep_checkpoints", "eval_every",
                     "threads", "extra", "device"):
            data.pop(name)
        data["data"] = [str(p) for p in self.data]
        data["model"] = str(self.model)
        data["extra_vocab"] = list(self.extra_vocab)
        data["lora_targets"] = list(self.lora_targets)
        return data

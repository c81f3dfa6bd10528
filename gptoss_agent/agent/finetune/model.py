"""The model a fine-tuning run trains: loading, compacting, LoRA, and saving the result.

:func:`prepare_model` loads the starting checkpoint (offline), makes the compact model
over the corpus ids for ``restrict_vocab``, wraps it with peft LoRA adapters for
``method="lora"`` and moves it to the training device. :func:`save_model` writes what the
transformers backend loads by path: a full checkpoint (expanded back to the real
vocabulary for a compact model), a merged model, or a peft adapter.

torch, transformers and peft are imported when used; transformers' own progress bars are
hidden (the run draws its own).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gptoss_agent.agent.backends.transformers.progress import progress_bars
from gptoss_agent.agent.backends.transformers.vocab import RestrictedVocab, expand_model
from gptoss_agent.agent.finetune.config import FinetuneConfig
from gptoss_agent.agent.finetune.data import TrainingExample
from gptoss_agent.agent.finetune.errors import FinetuneError
from gptoss_agent.agent.finetune.loss import causal_lm
from gptoss_agent.agent.finetune.vocab import compact_model


def import_torch() -> Any:
    """The ``torch`` module, once torch and transformers are both importable.

    Raises:
        FinetuneError: One of them is not installed.
    """
    try:
        import torch
        import transformers  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise FinetuneError("finetune needs torch and transformers: "
                            "pip install 'gptoss-agent[transformers]'") from exc
    return torch


def resolve_device(device: str) -> str:
    """``auto`` becomes ``cuda`` when available, else ``cpu``."""
    torch = import_torch()
    if device != "auto":
        return device
    return "cuda" if torch.cuda.is_available() else "cpu"


def load_model(path: Path, dtype: str = "float32") -> Any:
    """Load a checkpoint for training, offline.

    Args:
        path: The checkpoint folder.
        dtype: ``float32``, ``bfloat16`` or ``auto`` (the checkpoint's own).

    Raises:
        FinetuneError: It cannot be loaded.
    """
    torch = import_torch()
    import transformers
    from transformers import AutoModelForCausalLM

    version = tuple(int(part) for part in transformers.__version__.split(".")[:2])
    keyword = "dtype" if version >= (4, 56) else "torch_dtype"
    try:
        with progress_bars(False):
            return AutoModelForCausalLM.from_pretrained(
                path, local_files_only=True,
                **{keyword: "auto" if dtype == "auto" else getattr(torch, dtype)})
    except (OSError, ValueError) as exc:
        raise FinetuneError(f"cannot load the model at {path}: {exc}") from exc


def add_lora(model: Any, config: FinetuneConfig) -> Any:
    """Wrap ``model`` with peft LoRA adapters on ``config.lora_targets``.

    Raises:
        FinetuneError: peft is missing.
    """
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError as exc:
        raise FinetuneError("LoRA needs peft: pip install 'gptoss-agent[transformers]'") from exc
    lora = LoraConfig(r=config.lora_rank, lora_alpha=config.lora_alpha,
                      lora_dropout=config.lora_dropout,
                      target_modules=list(config.lora_targets), task_type="CAUSAL_LM")
    return get_peft_model(model, lora)


@dataclass(frozen=True)
class TrainingModel:
    """The model being trained, with what turning it back into a checkpoint needs.

    Attributes:
        model: The trained module (compact and/or peft-wrapped), in train mode.
        device: Where it runs.
        vocab: The restricted vocabulary of a compact model, or ``None``.
        remap: ``{real id: compact id}`` for a compact model, or ``None``.
        pad_id: The padding id in the model's own ids.
        pad_token: The real vocabulary's pad id.
        eos_tokens: The real vocabulary's stop ids (as the checkpoint gives them).
        full_size: The real vocabulary size.
    """

    model: Any
    device: str
    vocab: RestrictedVocab | None
    remap: dict[int, int] | None
    pad_id: int
    pad_token: int | None
    eos_tokens: Any
    full_size: int

    @property
    def vocab_size(self) -> int:
        """Tokens in the softmax during training."""
        return len(self.vocab.ids) if self.vocab is not None else self.full_size


def prepare_model(config: FinetuneConfig, examples: Sequence[TrainingExample],
                  device: str) -> TrainingModel:
    """Load ``config.model`` and make the module to train (see the module docstring).

    Args:
        config: The settings.
        examples: Every example (a restricted vocabulary covers their ids).
        device: Where to train.

    Raises:
        FinetuneError: The model cannot be loaded or peft is missing.
    """
    base = load_model(config.model, config.load_dtype)
    full_size = int(base.config.vocab_size)
    pad_token = base.config.pad_token_id
    eos_tokens = base.config.eos_token_id
    vocab: RestrictedVocab | None = None
    remap: dict[int, int] | None = None
    model = base
    if config.restrict_vocab:
        vocab = RestrictedVocab.from_sequences((e.tokens for e in examples), full_size,
                                               config.extra_vocab)
        remap = vocab.index()
        model = compact_model(base, vocab)
        del base
    if config.method == "lora":
        model = add_lora(model, config)
    pad_id = remap.get(pad_token, 0) if remap is not None else int(pad_token or 0)
    model.to(device)
    model.train()
    return TrainingModel(model=model, device=device, vocab=vocab, remap=remap, pad_id=pad_id,
                         pad_token=pad_token, eos_tokens=eos_tokens, full_size=full_size)


def save_model(trained: TrainingModel, config: FinetuneConfig) -> bool:
    """Save what the transformers backend loads into ``config.output``.

    Returns:
        Whether it is a peft adapter rather than a full model.
    """
    torch = import_torch()
    dtype = getattr(torch, config.save_dtype)
    config.output.mkdir(parents=True, exist_ok=True)
    model = trained.model
    model.eval()
    with progress_bars(False):
        if config.method == "lora":
            if config.merge_lora:
                model.merge_and_unload().to(dtype).save_pretrained(config.output)
                return False
            model.save_pretrained(config.output)
            return True
        final = model
        if trained.vocab is not None:
            eos = trained.eos_tokens
            eos = [eos] if isinstance(eos, int) else list(eos or [])
            final = expand_model(causal_lm(model).cpu(), trained.vocab,
                                 pad_token_id=trained.pad_token, eos_token_id=eos)
            trained.vocab.save(config.output)
        final.to(dtype).save_pretrained(config.output)
    return False

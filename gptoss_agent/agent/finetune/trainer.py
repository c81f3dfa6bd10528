"""The training loop: load, (optionally) restrict the vocabulary or add LoRA adapters,
train with a progress bar, checkpoint, evaluate on the held-out set, save.

Steps of :func:`finetune`:

1. load the examples and split off the held-out set (seeded);
2. load the model (float32) from ``config.model``; for ``restrict_vocab`` make the compact
   model over the corpus ids; for ``lora`` wrap it with peft adapters;
3. resume from the newest checkpoint under ``output/checkpoints`` if there is one;
4. for each step: the step's batch (a pure function of seed and step), the masked loss,
   backward, clip, AdamW with warm-up and cosine decay; checkpoint every N steps;
5. evaluate on the held-out examples (loss, token accuracy, exact sequences);
6. save the model where the transformers backend loads it (``output/``): a full
   checkpoint (expanded back to the real vocabulary), a merged model, or a peft adapter
   (``adapter_config.json``) next to which ``finetune_report.json`` is written.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from gptoss_agent.agent.finetune.batching import DataOrder, collate
from gptoss_agent.agent.finetune.config import FinetuneConfig
from gptoss_agent.agent.finetune.data import TrainingExample, load_examples, split_heldout
from gptoss_agent.agent.finetune.errors import FinetuneError
from gptoss_agent.agent.finetune.loss import BatchFigures, causal_lm, masked_loss
from gptoss_agent.agent.finetune.state import latest_checkpoint, load_checkpoint, save_checkpoint
from gptoss_agent.agent.finetune.vocab import RestrictedVocab, compact_model, expand_model

REPORT_FILE = "finetune_report.json"
LOG_EVERY = 25
"""Steps between progress lines when the console is not a terminal."""


@dataclass(frozen=True)
class EvalFigures:
    """Held-out figures (teacher-forced).

    Attributes:
        examples: Held-out examples evaluated.
        loss: Mean cross-entropy per trained token.
        token_accuracy: Share of trained tokens the argmax predicts.
        sequence_accuracy: Share of examples with every trained token predicted.
    """

    examples: int
    loss: float
    token_accuracy: float
    sequence_accuracy: float


@dataclass(frozen=True)
class FinetuneReport:
    """What a run did.

    Attributes:
        output: The saved model folder.
        method: ``full`` or ``lora``.
        steps: Steps completed (in total, over resumes).
        resumed_from: The step the run resumed at (0 for a fresh run).
        train_examples: Examples trained on.
        first_loss: Mean loss of the first logged steps of this run.
        last_loss: Mean loss of the last logged steps.
        heldout: Held-out figures, or ``None`` without a held-out set.
        seconds: Wall time of the training steps, over all runs of a resumed training.
        vocab_size: Tokens in the softmax during training.
        adapter: Whether ``output`` holds a peft adapter rather than a full model.
    """

    output: str
    method: str
    steps: int
    resumed_from: int
    train_examples: int
    first_loss: float
    last_loss: float
    heldout: EvalFigures | None
    seconds: float
    vocab_size: int
    adapter: bool


def _import_torch() -> Any:
    try:
        import torch
        import transformers  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise FinetuneError("finetune needs torch and transformers: "
                            "pip install 'gptoss-agent[transformers]'") from exc
    return torch


def load_model(path: Path, dtype: str = "float32") -> Any:
    """Load a checkpoint for training, offline.

    Args:
        path: The checkpoint folder.
        dtype: ``float32``, ``bfloat16`` or ``auto`` (the checkpoint's own).

    Raises:
        FinetuneError: It cannot be loaded.
    """
    torch = _import_torch()
    import transformers
    from transformers import AutoModelForCausalLM

    version = tuple(int(part) for part in transformers.__version__.split(".")[:2])
    keyword = "dtype" if version >= (4, 56) else "torch_dtype"
    try:
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


def learning_rate(config: FinetuneConfig, step: int) -> float:
    """Linear warm-up to the peak, then cosine decay to 10% of it at the last step."""
    if step < config.warmup_steps:
        return config.learning_rate * (step + 1) / config.warmup_steps
    span = max(1, config.steps - config.warmup_steps)
    progress = min(1.0, (step - config.warmup_steps) / span)
    return config.learning_rate * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def resolve_device(device: str) -> str:
    """``auto`` becomes ``cuda`` when available, else ``cpu``."""
    torch = _import_torch()
    if device != "auto":
        return device
    return "cuda" if torch.cuda.is_available() else "cpu"


def _to(batch: dict[str, Any], device: str) -> dict[str, Any]:
    return {key: value.to(device) for key, value in batch.items()}


def evaluate(model: Any, examples: Sequence[TrainingExample], pad_id: int,
             remap: dict[int, int] | None, batch_size: int = 16) -> EvalFigures:
    """Teacher-forced loss and accuracy over ``examples``."""
    torch = _import_torch()
    model.eval()
    total = BatchFigures(0.0, 0, 0, 0)
    weighted = 0.0
    ordered = sorted(examples, key=lambda e: len(e.tokens))
    with torch.no_grad():
        for start in range(0, len(ordered), batch_size):
            chunk = ordered[start:start + batch_size]
            device = str(next(model.parameters()).device)
            _, figures = masked_loss(model, _to(collate(chunk, pad_id, remap), device))
            weighted += figures.loss * figures.tokens
            total = BatchFigures(0.0, total.tokens + figures.tokens,
                                 total.correct + figures.correct,
                                 total.sequences_exact + figures.sequences_exact)
    model.train()
    tokens = max(1, total.tokens)
    return EvalFigures(len(examples), weighted / tokens, total.correct / tokens,
                       total.sequences_exact / max(1, len(examples)))


ProgressHook = Callable[[int, float], None]


def finetune(config: FinetuneConfig, *, progress: bool = True,
             on_step: ProgressHook | None = None) -> FinetuneReport:
    """Run the steps in the module docstring; returns the report (also written to
    ``output/finetune_report.json``).

    Args:
        config: The settings.
        progress: Draw a rich progress bar with the running loss (on stderr).
        on_step: Called with ``(step, loss)`` after each step (tests stop runs with it).

    Raises:
        DataError: The data is unreadable.
        FinetuneError: The model, a checkpoint or a dependency is a problem.
    """
    torch = _import_torch()
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    random.seed(config.seed)
    examples = load_examples(config.data, max_length=config.max_length)
    train, heldout = split_heldout(examples, config.heldout_fraction, config.seed)
    device = resolve_device(config.device)
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
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(parameters, lr=config.learning_rate,
                                  weight_decay=config.weight_decay, betas=(0.9, 0.98))
    fingerprint = config.fingerprint()
    losses: list[float] = []
    start = 0
    earlier_seconds = 0.0
    found = latest_checkpoint(config.output)
    if found is not None:
        point = load_checkpoint(found, model, optimizer, fingerprint)
        start, losses, earlier_seconds = point.step, list(point.losses), point.seconds
    order = DataOrder.for_examples(train, config.batch_size, config.seed)
    started = time.perf_counter()
    bar = _ProgressBar(config.steps, start, enabled=progress)
    with bar:
        for step in range(start, config.steps):
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(config, step)
            batch = _to(collate([train[i] for i in order.batch(step)], pad_id, remap), device)
            loss, figures = masked_loss(model, batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(parameters, config.grad_clip)
            optimizer.step()
            losses.append(figures.loss)
            bar.advance(step + 1, figures.loss, figures.correct / max(1, figures.tokens))
            if on_step is not None:
                on_step(step + 1, figures.loss)
            if config.eval_every and (step + 1) % config.eval_every == 0 and heldout:
                bar.note(step + 1, evaluate(model, heldout, pad_id, remap))
            done = step + 1
            if done < config.steps and config.checkpoint_every and \
                    done % config.checkpoint_every == 0:
                save_checkpoint(config.output, done, model, optimizer, fingerprint, losses,
                                config.keep_checkpoints,
                                earlier_seconds + time.perf_counter() - started)
    seconds = earlier_seconds + time.perf_counter() - started
    save_checkpoint(config.output, config.steps, model, optimizer, fingerprint, losses,
                    config.keep_checkpoints, seconds)
    figures_heldout = evaluate(model, heldout, pad_id, remap) if heldout else None
    adapter = _save_model(model, config, vocab, pad_token, eos_tokens)
    window = max(1, min(20, len(losses) // 4 or 1))
    run_losses = losses[start:] or losses
    report = FinetuneReport(
        output=str(config.output), method=config.method, steps=config.steps,
        resumed_from=start, train_examples=len(train),
        first_loss=sum(run_losses[:window]) / len(run_losses[:window]),
        last_loss=sum(run_losses[-window:]) / len(run_losses[-window:]),
        heldout=figures_heldout, seconds=round(seconds, 2),
        vocab_size=len(vocab.ids) if vocab is not None else full_size, adapter=adapter,
    )
    (config.output / REPORT_FILE).write_text(json.dumps(asdict(report), indent=2))
    return report


def _save_model(model: Any, config: FinetuneConfig, vocab: RestrictedVocab | None,
                pad_token: int | None, eos_tokens: Any) -> bool:
    """Save what the transformers backend loads; returns whether it is an adapter."""
    torch = _import_torch()
    dtype = getattr(torch, config.save_dtype)
    config.output.mkdir(parents=True, exist_ok=True)
    model.eval()
    if config.method == "lora":
        if config.merge_lora:
            merged = model.merge_and_unload()
            merged.to(dtype).save_pretrained(config.output)
            return False
        model.save_pretrained(config.output)
        return True
    final = model
    if vocab is not None:
        eos = [eos_tokens] if isinstance(eos_tokens, int) else list(eos_tokens or [])
        final = expand_model(causal_lm(model).cpu(), vocab, pad_token_id=pad_token,
                             eos_token_id=eos)
        vocab.save(config.output)
    final.to(dtype).save_pretrained(config.output)
    return False


class _ProgressBar:
    """A rich progress bar with the running loss, or nothing when disabled."""

    def __init__(self, total: int, completed: int, *, enabled: bool) -> None:
        self._enabled = enabled
        self._progress: Any = None
        self._task: Any = None
        self._total = total
        self._completed = completed
        self._smooth: float | None = None
        self._started = time.perf_counter()

    def __enter__(self) -> _ProgressBar:
        if self._enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("[bold]finetune"), BarColumn(), MofNCompleteColumn(),
                TextColumn("loss {task.fields[loss]}"), TextColumn("acc {task.fields[acc]}"),
                TimeElapsedColumn(), TimeRemainingColumn(),
                console=Console(stderr=True),
            )
            self._progress.__enter__()
            self._task = self._progress.add_task("train", total=self._total,
                                                 completed=self._completed, loss="-", acc="-")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)

    def advance(self, step: int, loss: float, accuracy: float) -> None:
        """Show step ``step`` done with this batch's loss (smoothed) and token accuracy.

        On a console that is not a terminal (CI logs, ``nohup``) the bar cannot redraw, so
        a plain line is printed every :data:`LOG_EVERY` steps instead.
        """
        self._smooth = loss if self._smooth is None else 0.9 * self._smooth + 0.1 * loss
        if self._progress is None:
            return
        self._progress.update(self._task, completed=step, loss=f"{self._smooth:.4f}",
                              acc=f"{accuracy:.3f}")
        console = self._progress.console
        if not console.is_terminal and (step % LOG_EVERY == 0 or step == self._total):
            console.print(f"step {step}/{self._total} loss {self._smooth:.4f} "
                          f"acc {accuracy:.3f} ({time.perf_counter() - self._started:.0f} s)",
                          highlight=False)

    def note(self, step: int, figures: EvalFigures) -> None:
        """Print a held-out evaluation line above the bar."""
        if self._progress is not None:
            self._progress.console.print(
                f"step {step}: held-out loss {figures.loss:.4f}, token accuracy "
                f"{figures.token_accuracy:.4f}, exact {figures.sequence_accuracy:.3f}")

"""The training loop of ``gptoss-agent finetune``, from data to a saved model and its report.

Steps of :func:`finetune`:

1. load the examples and split off the held-out set (seeded);
2. load the model (float32) from ``config.model``; for ``restrict_vocab`` make the compact
   model over the corpus ids; for ``lora`` wrap it with peft adapters
   (:mod:`~gptoss_agent.agent.finetune.model`);
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
from dataclasses import asdict, dataclass, field
from typing import Any

from gptoss_agent.agent.finetune.batching import DataOrder, collate, to_device
from gptoss_agent.agent.finetune.config import FinetuneConfig
from gptoss_agent.agent.finetune.data import TrainingExample, load_examples, split_heldout
from gptoss_agent.agent.finetune.evaluate import EvalFigures, evaluate
from gptoss_agent.agent.finetune.loss import BatchFigures, masked_loss
from gptoss_agent.agent.finetune.model import (
    TrainingModel,
    import_torch,
    load_model,
    prepare_model,
    resolve_device,
    save_model,
)
from gptoss_agent.agent.finetune.progress import ProgressBar
from gptoss_agent.agent.finetune.state import latest_checkpoint, load_checkpoint, save_checkpoint

__all__ = ["EvalFigures", "FinetuneReport", "ProgressHook", "finetune", "learning_rate",
           "load_model"]

REPORT_FILE = "finetune_report.json"

ProgressHook = Callable[[int, float], None]
"""Called with ``(step, loss)`` after each step."""


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


def learning_rate(config: FinetuneConfig, step: int) -> float:
    """Linear warm-up to the peak, then cosine decay to 10% of it at the last step."""
    if step < config.warmup_steps:
        return config.learning_rate * (step + 1) / config.warmup_steps
    span = max(1, config.steps - config.warmup_steps)
    progress = min(1.0, (step - config.warmup_steps) / span)
    return config.learning_rate * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


@dataclass
class _Run:
    """A training run in progress: where it started, its losses, its time.

    Attributes:
        start: The step this run began at (after a resume).
        losses: Training losses, one per step, over all runs.
        earlier_seconds: Training time of the runs before a resume.
        started: ``time.perf_counter()`` when this run's steps began.
    """

    start: int = 0
    losses: list[float] = field(default_factory=list)
    earlier_seconds: float = 0.0
    started: float = field(default_factory=time.perf_counter)

    def seconds(self) -> float:
        """Training time so far, over all runs."""
        return self.earlier_seconds + time.perf_counter() - self.started


def finetune(config: FinetuneConfig, *, progress: bool = True,
             on_step: ProgressHook | None = None) -> FinetuneReport:
    """Run the steps in the module docstring.

    Args:
        config: The settings.
        progress: Draw a rich progress bar with the running loss (on stderr).
        on_step: Called with ``(step, loss)`` after each step (tests stop runs with it).

    Returns:
        The report, also written to ``output/finetune_report.json``.

    Raises:
        DataError: The data is unreadable.
        FinetuneError: The model, a checkpoint or a dependency is a problem.
    """
    torch = import_torch()
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    random.seed(config.seed)
    examples = load_examples(config.data, max_length=config.max_length)
    train, heldout = split_heldout(examples, config.heldout_fraction, config.seed)
    trained = prepare_model(config, examples, resolve_device(config.device))
    parameters = [p for p in trained.model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(parameters, lr=config.learning_rate,
                                  weight_decay=config.weight_decay, betas=(0.9, 0.98))
    run = _resume(config, trained.model, optimizer)
    _train_steps(config, trained, _Optimizer(optimizer, parameters), train, heldout, run,
                 progress=progress, on_step=on_step)
    seconds = run.seconds()
    save_checkpoint(config.output, config.steps, trained.model, optimizer, config.fingerprint(),
                    run.losses, config.keep_checkpoints, seconds)
    figures = evaluate(trained.model, heldout, trained.pad_id, trained.remap) if heldout \
        else None
    adapter = save_model(trained, config)
    report = _report(config, run, len(train), figures, seconds, trained, adapter)
    (config.output / REPORT_FILE).write_text(json.dumps(asdict(report), indent=2))
    return report


@dataclass(frozen=True)
class _Optimizer:
    """AdamW and the parameters it trains (their gradients are clipped together)."""

    adamw: Any
    parameters: list[Any]


def _resume(config: FinetuneConfig, model: Any, optimizer: Any) -> _Run:
    """The run, resumed from the newest checkpoint under ``config.output`` if any.

    Raises:
        FinetuneError: The checkpoint was written with other settings, or is damaged.
    """
    found = latest_checkpoint(config.output)
    if found is None:
        return _Run()
    point = load_checkpoint(found, model, optimizer, config.fingerprint())
    return _Run(start=point.step, losses=list(point.losses), earlier_seconds=point.seconds)


def _train_steps(config: FinetuneConfig, trained: TrainingModel, optimizer: _Optimizer,
                 train: Sequence[TrainingExample], heldout: Sequence[TrainingExample],
                 run: _Run, *, progress: bool, on_step: ProgressHook | None) -> None:
    """Steps ``run.start`` to ``config.steps``, with evaluations and checkpoints between."""
    order = DataOrder.for_examples(train, config.batch_size, config.seed)
    run.started = time.perf_counter()
    with ProgressBar(config.steps, run.start, enabled=progress) as bar:
        for step in range(run.start, config.steps):
            batch = [train[i] for i in order.batch(step)]
            figures = _step(config, trained, optimizer, batch, step)
            done = step + 1
            run.losses.append(figures.loss)
            bar.advance(done, figures.loss, figures.correct / max(1, figures.tokens))
            if on_step is not None:
                on_step(done, figures.loss)
            if config.eval_every and done % config.eval_every == 0 and heldout:
                bar.note(done, evaluate(trained.model, heldout, trained.pad_id, trained.remap))
            if done < config.steps and config.checkpoint_every and \
                    done % config.checkpoint_every == 0:
                save_checkpoint(config.output, done, trained.model, optimizer.adamw,
                                config.fingerprint(), run.losses, config.keep_checkpoints,
                                run.seconds())


def _step(config: FinetuneConfig, trained: TrainingModel, optimizer: _Optimizer,
          examples: list[TrainingExample], step: int) -> BatchFigures:
    """One optimizer step on ``examples``; returns the batch's figures."""
    import torch

    for group in optimizer.adamw.param_groups:
        group["lr"] = learning_rate(config, step)
    batch = to_device(collate(examples, trained.pad_id, trained.remap), trained.device)
    loss, figures = masked_loss(trained.model, batch)
    optimizer.adamw.zero_grad(set_to_none=True)
    loss.backward()
    if config.grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(optimizer.parameters, config.grad_clip)
    optimizer.adamw.step()
    return figures


def _report(config: FinetuneConfig, run: _Run, train_examples: int,
            heldout: EvalFigures | None, seconds: float, trained: TrainingModel,
            adapter: bool) -> FinetuneReport:
    """The report of a finished run (losses averaged over its first and last steps)."""
    window = max(1, min(20, len(run.losses) // 4 or 1))
    run_losses = run.losses[run.start:] or run.losses
    return FinetuneReport(
        output=str(config.output), method=config.method, steps=config.steps,
        resumed_from=run.start, train_examples=train_examples,
        first_loss=sum(run_losses[:window]) / len(run_losses[:window]),
        last_loss=sum(run_losses[-window:]) / len(run_losses[-window:]),
        heldout=heldout, seconds=round(seconds, 2), vocab_size=trained.vocab_size,
        adapter=adapter,
    )

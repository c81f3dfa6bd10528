"""Held-out evaluation: teacher-forced loss, token accuracy and exact sequences."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gptoss_agent.agent.finetune.batching import collate, to_device
from gptoss_agent.agent.finetune.data import TrainingExample
from gptoss_agent.agent.finetune.loss import BatchFigures, masked_loss


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


def evaluate(model: Any, examples: Sequence[TrainingExample], pad_id: int,
             remap: dict[int, int] | None, batch_size: int = 16) -> EvalFigures:
    """Teacher-forced loss and accuracy over ``examples``.

    The model is put in eval mode for the evaluation and back in train mode after it.

    Args:
        model: The model being trained.
        examples: The held-out examples.
        pad_id: The padding id in the model's own ids.
        remap: ``{real id: compact id}`` for a compact model, or ``None``.
        batch_size: Examples per forward pass.
    """
    import torch

    model.eval()
    total = BatchFigures(0.0, 0, 0, 0)
    weighted = 0.0
    ordered = sorted(examples, key=lambda e: len(e.tokens))
    with torch.no_grad():
        for start in range(0, len(ordered), batch_size):
            chunk = ordered[start:start + batch_size]
            device = str(next(model.parameters()).device)
            _, figures = masked_loss(model, to_device(collate(chunk, pad_id, remap), device))
            weighted += figures.loss * figures.tokens
            total = BatchFigures(0.0, total.tokens + figures.tokens,
                                 total.correct + figures.correct,
                                 total.sequences_exact + figures.sequences_exact)
    model.train()
    tokens = max(1, total.tokens)
    return EvalFigures(len(examples), weighted / tokens, total.correct / tokens,
                       total.sequences_exact / max(1, len(examples)))

"""Turning examples into padded tensors, in a data order that a resumed run reproduces.

Examples are grouped by their *context key*: the tokens before the message that precedes
the first trained token (for agent transcripts: the system and developer messages, i.e.
one agent configuration). A batch holds examples of one group only, so its rows share
that whole prefix, which the loss computes once (see
:mod:`~gptoss_agent.agent.finetune.loss`).

The order is a pure function of the seed and the step: each epoch cuts every group's
seeded shuffle into batches and shuffles the list of batches (seeded). An epoch always
has the same number of batches, so step ``s`` maps to (epoch, batch) directly and a run
resumed at step ``s`` sees exactly the batches an uninterrupted run would have seen.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gptoss_agent.agent.finetune.data import TrainingExample

HARMONY_START = 200006
"""Id of ``<|start|>`` in o200k_harmony."""


def context_key(example: TrainingExample, start_token: int = HARMONY_START) -> tuple[int, ...]:
    """The tokens before the message that precedes the example's first trained token."""
    first = next((i for i, m in enumerate(example.mask) if m), len(example.mask))
    starts = [i for i, t in enumerate(example.tokens[:first]) if t == start_token]
    cut = starts[-2] if len(starts) >= 2 else 0
    return example.tokens[:cut]


@dataclass(frozen=True)
class DataOrder:
    """Which examples make up each step's batch.

    Attributes:
        groups: Example indices of each context group (in first-seen order).
        batch_size: Most examples per batch.
        seed: Seed of the shuffles.
    """

    groups: tuple[tuple[int, ...], ...]
    batch_size: int
    seed: int

    @classmethod
    def for_examples(cls, examples: Sequence[TrainingExample], batch_size: int,
                     seed: int, start_token: int = HARMONY_START) -> DataOrder:
        """The order of ``examples``, grouped by :func:`context_key`."""
        groups: dict[tuple[int, ...], list[int]] = {}
        for index, example in enumerate(examples):
            groups.setdefault(context_key(example, start_token), []).append(index)
        return cls(tuple(tuple(g) for g in groups.values()), batch_size, seed)

    @property
    def batches_per_epoch(self) -> int:
        """Batches in one pass over the data."""
        return sum(-(-len(group) // self.batch_size) for group in self.groups)

    def epoch(self, epoch: int) -> list[list[int]]:
        """All batches of ``epoch``, in order."""
        batches: list[list[int]] = []
        for number, group in enumerate(self.groups):
            members = list(group)
            random.Random(f"{self.seed}:{epoch}:{number}").shuffle(members)
            batches.extend(members[k:k + self.batch_size]
                           for k in range(0, len(members), self.batch_size))
        random.Random(f"{self.seed}:{epoch}").shuffle(batches)
        return batches

    def batch(self, step: int) -> list[int]:
        """The example indices of ``step`` (0-based)."""
        epoch, position = divmod(step, self.batches_per_epoch)
        return self.epoch(epoch)[position]


def collate(examples: Sequence[TrainingExample], pad_id: int,
            remap: dict[int, int] | None = None) -> dict[str, Any]:
    """Right-padded ``input_ids``, ``attention_mask`` and ``loss_mask`` tensors.

    ``loss_mask[b, t]`` is 1 when token ``t`` of example ``b`` is to be predicted (from
    position ``t - 1``). ``remap`` turns real ids into compact ids.
    """
    import torch

    width = max(len(example.tokens) for example in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(examples), width), dtype=torch.long)
    loss_mask = torch.zeros((len(examples), width), dtype=torch.bool)
    for row, example in enumerate(examples):
        tokens = [remap[t] for t in example.tokens] if remap is not None else example.tokens
        ids[row, : len(tokens)] = torch.tensor(tokens, dtype=torch.long)
        attention[row, : len(tokens)] = 1
        loss_mask[row, : len(tokens)] = torch.tensor(example.mask, dtype=torch.bool)
    loss_mask[:, 0] = False
    return {"input_ids": ids, "attention_mask": attention, "loss_mask": loss_mask}


def to_device(batch: dict[str, Any], device: str) -> dict[str, Any]:
    """``batch`` with every tensor moved to ``device``."""
    return {key: value.to(device) for key, value in batch.items()}

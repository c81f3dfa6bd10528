"""Restricted vocabularies on the reading side: which ids a checkpoint knows, and expansion.

A tiny model trained from scratch never sees most of o200k_harmony's 201,088 ids.
Fine-tuning with ``--restrict-vocab`` trains a *compact* model whose embedding and output
rows are only the corpus ids: a standard ``GptOssForCausalLM`` with ``vocab_size =
len(ids)``, where compact id ``i`` stands for real id ``ids[i]``. The ids are stored next
to the weights in :data:`VOCAB_FILE`.

This module is what running such a model needs (training builds on it in
:mod:`gptoss_agent.agent.finetune.vocab`):

* :class:`RestrictedVocab`, the ids and the real vocabulary size, read and written as
  :data:`VOCAB_FILE`;
* :func:`allowed_ids`, the ids a checkpoint folder declares (the backend never samples
  any other);
* :func:`expand_model`, the full-vocabulary model of a compact one. Rows of ids that were
  never trained get the **mean** of the trained rows, both in the embedding and in
  ``lm_head``. For the head this is a guarantee, not a heuristic: an untrained token's
  logit is then the mean of the trained tokens' logits, which is below their maximum
  unless all are equal, so under greedy decoding an untrained token can never win.

torch and transformers are imported inside :func:`expand_model` only.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gptoss_agent.agent.backends.errors import ModelLoadError

VOCAB_FILE = "restricted_vocab.json"
"""The file of a checkpoint folder that lists its restricted vocabulary."""
EMBED_KEY = "model.embed_tokens.weight"
HEAD_KEY = "lm_head.weight"


@dataclass(frozen=True)
class RestrictedVocab:
    """The real token ids a compact model covers, in compact-id order.

    Attributes:
        ids: Sorted real ids; compact id ``i`` is ``ids[i]``.
        full_size: The real vocabulary size (201088 for gpt-oss).

    Raises:
        ValueError: The ids are not sorted and unique, or lie outside the vocabulary.
    """

    ids: tuple[int, ...]
    full_size: int

    def __post_init__(self) -> None:
        if list(self.ids) != sorted(set(self.ids)):
            raise ValueError("restricted ids must be sorted and unique")
        if self.ids and not 0 <= self.ids[0] <= self.ids[-1] < self.full_size:
            raise ValueError("restricted ids must lie inside the full vocabulary")

    @classmethod
    def from_sequences(cls, sequences: Iterable[Sequence[int]], full_size: int,
                       extra: Iterable[int] = ()) -> RestrictedVocab:
        """Every id occurring in ``sequences`` plus ``extra``."""
        found: set[int] = set(extra)
        for tokens in sequences:
            found.update(tokens)
        return cls(tuple(sorted(found)), full_size)

    def index(self) -> dict[int, int]:
        """``{real id: compact id}``."""
        return {real: compact for compact, real in enumerate(self.ids)}

    def save(self, folder: Path) -> None:
        """Write :data:`VOCAB_FILE` into ``folder``."""
        (folder / VOCAB_FILE).write_text(
            json.dumps({"full_size": self.full_size, "ids": list(self.ids)}))

    @classmethod
    def load(cls, folder: Path) -> RestrictedVocab | None:
        """Read :data:`VOCAB_FILE` from ``folder``; ``None`` if there is none.

        Raises:
            KeyError: The file lacks ``ids`` or ``full_size``.
            ValueError: The file is not JSON, or its ids are invalid.
        """
        path = folder / VOCAB_FILE
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        return cls(tuple(data["ids"]), int(data["full_size"]))


def allowed_ids(folder: str | Path) -> list[int] | None:
    """The ids a checkpoint folder declares as its whole vocabulary, if it declares any.

    Only the ``ids`` of :data:`VOCAB_FILE` are read (``full_size`` may be missing).

    Raises:
        ModelLoadError: The file exists but is not a valid restricted vocabulary.
    """
    path = Path(folder) / VOCAB_FILE
    if not path.is_file():
        return None
    try:
        ids = json.loads(path.read_text(encoding="utf-8"))["ids"]
        return [int(token) for token in ids]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ModelLoadError(f"{path} is not a valid restricted vocabulary: {error}") from error


def expand_model(model: Any, vocab: RestrictedVocab, *, pad_token_id: int | None,
                 eos_token_id: Sequence[int]) -> Any:
    """The full-vocabulary model of a compact one (see the module docstring).

    Args:
        model: The compact ``GptOssForCausalLM`` (``vocab_size == len(vocab.ids)``).
        vocab: Its restricted vocabulary.
        pad_token_id: The pad id of the real vocabulary.
        eos_token_id: The stop ids of the real vocabulary.

    Returns:
        A new ``GptOssForCausalLM`` with ``vocab.full_size`` rows.
    """
    import torch
    from transformers import GptOssForCausalLM

    config = type(model.config).from_dict(model.config.to_dict())
    config.vocab_size = vocab.full_size
    config.pad_token_id = pad_token_id
    config.eos_token_id = list(eos_token_id)
    state = {key: value.detach().clone() for key, value in model.state_dict().items()}
    rows = torch.tensor(vocab.ids, dtype=torch.long)
    for key in (EMBED_KEY, HEAD_KEY):
        small = state[key]
        full = small.mean(dim=0, keepdim=True).expand(vocab.full_size, -1).clone()
        full[rows] = small
        state[key] = full
    big = GptOssForCausalLM(config)
    big.load_state_dict(state)
    if getattr(config, "tie_word_embeddings", False):
        big.tie_weights()
    return big

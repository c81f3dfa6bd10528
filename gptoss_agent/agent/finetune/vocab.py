"""The restricted vocabulary: train over the token ids a corpus uses, ship a full checkpoint.

A tiny model trained from scratch never sees most of o200k_harmony's 201088 ids. Training
a *compact* model whose embedding and output rows are only the corpus ids (a softmax over
a few hundred tokens instead of 201088) is orders of magnitude cheaper. The compact
model is a standard ``GptOssForCausalLM`` with ``vocab_size = len(ids)``; compact id ``i``
stands for real id ``ids[i]``.

:func:`expand_model` turns it back into a checkpoint with the real vocabulary that any
gpt-oss runtime loads. Rows of ids that were never trained get the **mean** of the trained
rows, both in the embedding and in ``lm_head``. For the head this is a guarantee, not a
heuristic: an untrained token's logit is then the mean of the trained tokens' logits,
which is below their maximum unless all are equal, so under greedy decoding an untrained
token can never win. (Under sampling each untrained token weighs as much as an average
trained token; backends that honour ``generation_config.suppress_tokens`` can remove
them entirely, see :func:`suppressed_ids`.)
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gptoss_agent.agent.finetune.errors import FinetuneError

VOCAB_FILE = "restricted_vocab.json"
EMBED_KEY = "model.embed_tokens.weight"
HEAD_KEY = "lm_head.weight"


@dataclass(frozen=True)
class RestrictedVocab:
    """The real token ids a compact model covers, in compact-id order.

    Attributes:
        ids: Sorted real ids; compact id ``i`` is ``ids[i]``.
        full_size: The real vocabulary size (201088 for gpt-oss).
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
        """Read :data:`VOCAB_FILE` from ``folder``; ``None`` if there is none."""
        path = folder / VOCAB_FILE
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        return cls(tuple(data["ids"]), int(data["full_size"]))


def compact_model(model: Any, vocab: RestrictedVocab) -> Any:
    """A copy of ``model`` whose embedding and head keep only ``vocab.ids`` rows.

    Raises:
        FinetuneError: The model's vocabulary does not match ``vocab.full_size``.
    """
    import torch
    from transformers import GptOssForCausalLM

    config = model.config
    if config.vocab_size != vocab.full_size:
        raise FinetuneError(f"the model has {config.vocab_size} tokens, the restricted "
                            f"vocabulary expects {vocab.full_size}")
    index = vocab.index()
    small = type(config).from_dict(config.to_dict())
    small.vocab_size = len(vocab.ids)
    small.pad_token_id = index.get(config.pad_token_id, 0)
    small.eos_token_id = [index[t] for t in _as_list(config.eos_token_id) if t in index]
    state = model.state_dict()
    rows = torch.tensor(vocab.ids, dtype=torch.long)
    state[EMBED_KEY] = state[EMBED_KEY][rows].clone()
    state[HEAD_KEY] = state[HEAD_KEY][rows].clone()
    result = GptOssForCausalLM(small)
    result.load_state_dict(state)
    if getattr(small, "tie_word_embeddings", False):
        result.tie_weights()
    return result.to(next(model.parameters()).dtype)


def expand_model(model: Any, vocab: RestrictedVocab, *, pad_token_id: int | None,
                 eos_token_id: Sequence[int]) -> Any:
    """The full-vocabulary model of a compact one (see the module docstring)."""
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


def suppressed_ids(vocab: RestrictedVocab) -> list[int]:
    """Every real id outside the restricted vocabulary."""
    keep = set(vocab.ids)
    return [token for token in range(vocab.full_size) if token not in keep]


def _as_list(value: int | Sequence[int] | None) -> list[int]:
    if value is None:
        return []
    if isinstance(value, int):
        return [value]
    return list(value)

"""The restricted vocabulary on the training side: the compact model to train.

A tiny model trained from scratch never sees most of o200k_harmony's 201088 ids. Training
a *compact* model whose embedding and output rows are only the corpus ids (a softmax over
a few hundred tokens instead of 201088) is orders of magnitude cheaper.
:func:`compact_model` makes that model from a full one.

What reading and running such a model needs lives with the backend, in
:mod:`gptoss_agent.agent.backends.transformers.vocab`: :class:`RestrictedVocab` (the ids,
stored as ``restricted_vocab.json``) and ``expand_model``, which turns a compact model back
into a checkpoint with the real vocabulary that any gpt-oss runtime loads (untrained rows
get the mean of the trained rows, so greedy decoding never picks one). Under sampling each
untrained token weighs as much as an average trained token; backends that honour
``generation_config.suppress_tokens`` can remove them entirely, see :func:`suppressed_ids`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gptoss_agent.agent.backends.transformers.vocab import EMBED_KEY, HEAD_KEY, RestrictedVocab
from gptoss_agent.agent.finetune.errors import FinetuneError


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

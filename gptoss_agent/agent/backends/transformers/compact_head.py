"""The output layer of a restricted-vocabulary checkpoint, cut down to the ids it knows.

A checkpoint fine-tuned with ``--restrict-vocab`` declares the only ids it was trained on
(``restricted_vocab.json``); every other id must never be sampled. Computing all 201,088
logits and masking most of them away is correct but slow: for a small model that output
layer is most of the work of a decode step. :class:`CompactHead` keeps the rows of the
declared ids (one contiguous matrix) and computes logits over them only, from the
decoder's last hidden state; the index of a sampled logit maps back to its real id.

Only models whose causal-LM forward is "decoder, then a linear output layer" qualify
(gpt-oss: no logit scaling or soft-capping); :meth:`CompactHead.build` returns ``None``
for any other, and the caller falls back to the full layer plus a mask.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

_PLAIN_HEAD_MODELS = frozenset({"gpt_oss"})
"""Model types whose logits are exactly ``lm_head(decoder(...).last_hidden_state)``."""


@dataclass(frozen=True, eq=False)
class CompactHead:
    """Logits over a fixed subset of the vocabulary.

    Attributes:
        decoder: The model's decoder (called with ``input_ids`` and a cache; returns
            ``last_hidden_state``).
        weight: The output layer's rows of :attr:`token_ids`, contiguous.
        bias: Their biases, or ``None``.
        token_ids: The real id of each row.

    The rows are copied when the head is built: a later change of the model's output
    layer needs a new head.
    """

    decoder: Any
    weight: Any
    bias: Any
    token_ids: tuple[int, ...]

    @classmethod
    def build(cls, model: Any, token_ids: Sequence[int]) -> CompactHead | None:
        """The compact head of ``model`` over ``token_ids``.

        Returns:
            The head, or ``None`` if ``model``'s logits are not a plain linear layer on
            its decoder's output.
        """
        import torch

        if getattr(getattr(model, "config", None), "model_type", None) not in _PLAIN_HEAD_MODELS:
            return None
        head = model.get_output_embeddings()
        decoder = model.get_decoder() if hasattr(model, "get_decoder") else None
        if decoder is None or not isinstance(head, torch.nn.Linear) \
                or not head.weight.is_floating_point():
            return None
        ids = tuple(sorted({int(token) for token in token_ids}))
        index = torch.tensor(ids, dtype=torch.long, device=head.weight.device)
        with torch.no_grad():
            weight = head.weight.index_select(0, index).contiguous()
            bias = head.bias.index_select(0, index) if head.bias is not None else None
        return cls(decoder=decoder, weight=weight, bias=bias, token_ids=ids)

    def logits(self, hidden: Any) -> Any:
        """Logits of :attr:`token_ids` for hidden states shaped ``[..., hidden_size]``.

        One state, or one per row of a batch.
        """
        import torch

        return torch.nn.functional.linear(hidden.to(self.weight.dtype), self.weight, self.bias)

"""One forward pass for several sessions at once, each on its own KV cache.

Sessions that decode at the same time sit at different lengths, in caches of their own.
Stacking their keys and values into one padded tensor would copy every cache on every
step. Instead the batch runs every layer's projections, router and experts on all rows
at once (where a small model's decode step spends its time: hundreds of small operations
whose cost barely depends on the row count), and only attention sees the rows apart, each
against its own cache:

* :class:`RaggedBatchCache` is the cache the model is called with. Its ``update`` appends
  each row's new key and value to that row's session cache and hands attention a
  :class:`RaggedRows` pair instead of one tensor;
* :func:`~gptoss_agent.agent.backends.transformers.sink_attention.sink_attention` takes a
  :class:`RaggedRows` pair: rows that attend to few positions (a sliding window) are
  copied into one padded batch, masked inside; longer rows are attended one by one.

The rows' positions differ, so the caller passes ``position_ids`` (one per row); and every
row's query is its last position, so the caller passes no mask (see the sink attention).

Prompt chunks of several sessions share a forward pass the same way, packed into one row
(:class:`PackedBatchCache`): the sessions' tokens stand side by side in a single sequence,
every layer's projections, router and experts run on all of them at once, and attention
sees each session's segment apart, causally, against that session's own cache
(:class:`RaggedRows` with ``queries``: the segment lengths).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RaggedRows:
    """The keys (or values) of a batch whose rows have different lengths.

    Attributes:
        rows: One tensor per row, shaped ``(1, kv_heads, length_of_that_row, head_dim)``.
        queries: For a packed batch (one row of queries, the sessions' segments side by
            side), how many queries each row has: the last positions of its keys.
            ``None``: a decode step, one query per row, batch first.
    """

    rows: tuple[Any, ...]
    queries: tuple[int, ...] | None = None


class RaggedBatchCache:
    """The cache of one batched decode step: row ``i`` reads and extends ``caches[i]``.

    Only what a decode step needs is provided: ``update`` per layer. The rows' lengths
    differ, so there is no single sequence length; callers pass ``position_ids``.

    Args:
        caches: One transformers cache per row (distinct objects: a row appends to its
            cache once per layer).
    """

    def __init__(self, caches: Sequence[Any]) -> None:
        if len({id(cache) for cache in caches}) != len(caches):
            raise ValueError("every row of a ragged batch needs a cache of its own")
        self.caches = tuple(caches)

    def update(
        self, key_states: Any, value_states: Any, layer_idx: int, *args: Any, **kwargs: Any
    ) -> tuple[RaggedRows, RaggedRows]:
        """Append row ``i`` of ``key_states``/``value_states`` to cache ``i``.

        The states are batch first; each row goes to its cache's layer ``layer_idx``.

        Returns:
            Every row's whole keys and values, as :class:`RaggedRows`.
        """
        if key_states.shape[0] != len(self.caches):
            raise ValueError(
                f"a ragged batch of {len(self.caches)} rows got {key_states.shape[0]} rows"
            )
        keys, values = [], []
        for row, cache in enumerate(self.caches):
            row_keys, row_values = cache.update(
                key_states[row : row + 1], value_states[row : row + 1], layer_idx,
                *args, **kwargs,
            )
            keys.append(row_keys)
            values.append(row_values)
        return RaggedRows(tuple(keys)), RaggedRows(tuple(values))

    def get_seq_length(self, layer_idx: int = 0) -> int:
        """Refused: the rows' lengths differ (pass ``position_ids`` to the model)."""
        raise RuntimeError("a ragged batch has no single sequence length; pass position_ids")


class PackedBatchCache:
    """The cache of one packed forward pass: segment ``i`` of the row extends ``caches[i]``.

    The model is called with one row of ``sum(lengths)`` tokens; the first ``lengths[0]``
    belong to ``caches[0]``, the next ``lengths[1]`` to ``caches[1]``, and so on. Callers
    pass ``position_ids`` (each segment continues its own cache) and no mask.

    Args:
        caches: One transformers cache per segment (distinct objects).
        lengths: The tokens of each segment (each at least 1).
    """

    def __init__(self, caches: Sequence[Any], lengths: Sequence[int]) -> None:
        if len({id(cache) for cache in caches}) != len(caches):
            raise ValueError("every segment of a packed batch needs a cache of its own")
        if len(lengths) != len(caches) or min(lengths, default=0) < 1:
            raise ValueError("a packed batch needs one positive length per cache")
        self.caches = tuple(caches)
        self.lengths = tuple(lengths)

    def update(
        self, key_states: Any, value_states: Any, layer_idx: int, *args: Any, **kwargs: Any
    ) -> tuple[RaggedRows, RaggedRows]:
        """Append each segment of ``key_states``/``value_states`` to its cache.

        The states are ``(1, kv_heads, sum(lengths), head_dim)``.

        Returns:
            Every segment's whole keys and values, as :class:`RaggedRows` with
            ``queries`` set to the segment lengths.
        """
        if key_states.shape[0] != 1 or key_states.shape[2] != sum(self.lengths):
            raise ValueError(f"a packed batch of {sum(self.lengths)} tokens got states "
                             f"shaped {tuple(key_states.shape)}")
        keys, values = [], []
        start = 0
        for cache, length in zip(self.caches, self.lengths, strict=True):
            row_keys, row_values = cache.update(
                key_states[:, :, start : start + length],
                value_states[:, :, start : start + length], layer_idx, *args, **kwargs,
            )
            keys.append(row_keys)
            values.append(row_values)
            start += length
        return (RaggedRows(tuple(keys), self.lengths), RaggedRows(tuple(values), self.lengths))

    def get_seq_length(self, layer_idx: int = 0) -> int:
        """Refused: the segments' lengths differ (pass ``position_ids`` to the model)."""
        raise RuntimeError("a packed batch has no single sequence length; pass position_ids")

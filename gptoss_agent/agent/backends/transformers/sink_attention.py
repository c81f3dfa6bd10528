"""gpt-oss attention (grouped-query, with per-head sinks) without copying keys and values.

transformers' eager gpt-oss attention repeats every key and value head once per query head
of its group (``repeat_kv``), then appends the sink logit to the scores with a
concatenation. Both copy the whole cache on every forward pass: at decode time, when one
query attends to thousands of cached positions, those copies are most of the step.

:func:`sink_attention` computes the same function without either copy. The query heads of
one group are stacked so that one matrix product against the group's single key head
serves them all, and the sink joins the softmax normaliser as one extra term per row::

    m = max(max_j s_j, sink)
    out = sum_j exp(s_j - m) v_j / (sum_j exp(s_j - m) + exp(sink - m))

which is exactly ``softmax([s, sink])[:-1] @ v``. When the caller passes
``gptoss_agent_queries_last=True`` with the model call (the queries are the last positions
of the keys, as with the backend's cache), a sliding-window layer skips the positions
before the first query's window, which the mask would zero anyway. The result matches the
eager function to float rounding (a test checks it on random inputs with masks, sliding
windows and groups). It is for inference: it works in place and refuses to run where
autograd would need its intermediate values.

A batched decode step over sessions of different lengths passes its keys and values as
:class:`~gptoss_agent.agent.backends.transformers.ragged_batch.RaggedRows` (one tensor per
row) and no mask; each row's single query attends to its own row (short rows and sliding
windows as one padded batch, with the padding masked here). A packed batch (prompt chunks of
several sessions side by side in one row, ``RaggedRows.queries`` their lengths) attends
segment by segment, each causally over its own row, under the same mask as a lone prefill.

:func:`install` registers it with transformers' attention and mask interfaces under
:data:`IMPLEMENTATION` (masks are the eager ones) and switches a loaded gpt-oss model to it.
"""

from __future__ import annotations

from typing import Any

from gptoss_agent.agent.backends.transformers.ragged_batch import RaggedRows

IMPLEMENTATION = "gptoss_agent_sinks"
"""The name the attention is registered under in transformers."""

QUERIES_LAST = "gptoss_agent_queries_last"
"""Model-call keyword (passed through to the attention) promising that the queries are the
last positions of the keys, which lets sliding-window layers skip what the window masks."""

_EXP_FLOOR = -80.0
"""Shifted scores are clamped here before ``exp``: see :func:`sink_attention`."""

_registered = False


def sink_attention(
    module: Any,
    query: Any,
    key: Any,
    value: Any,
    attention_mask: Any,
    scaling: float,
    dropout: float = 0.0,
    **kwargs: Any,
) -> tuple[Any, None]:
    """Attention of ``query`` over ``key``/``value`` with ``module.sinks``.

    ``query`` is (batch, heads, q, dim), ``key`` and ``value`` (batch, kv heads, kv, dim),
    ``module.sinks`` one logit per query head. Dropout is not supported (inference only).
    ``key`` and ``value`` may instead be :class:`RaggedRows` of a batched decode step (one
    query per row, each the last position of its row, and ``attention_mask=None``).

    Returns:
        The output, (batch, q, heads, dim), and no weights.

    Raises:
        ValueError: Dropout or gradients were asked for.
    """
    import torch

    if dropout or (torch.is_grad_enabled() and query.requires_grad):
        raise ValueError(f"{IMPLEMENTATION} attention is for inference only (no dropout, "
                         "no gradients); use attn_implementation='eager' to train")
    if isinstance(key, RaggedRows) and key.queries is not None:
        return _packed_attention(module, query, key, value, attention_mask, scaling, **kwargs)
    if isinstance(key, RaggedRows):
        return _ragged_attention(module, query, key, value, attention_mask, scaling, **kwargs)
    batch, heads, q_len, dim = query.shape
    kv_len = key.shape[2]
    window = kwargs.get("sliding_window")
    start = max(0, kv_len - q_len - int(window) + 1) \
        if window and kwargs.get(QUERIES_LAST) else 0
    if start:
        # Positions before the window of the first query are masked for every query: they
        # would contribute exactly zero, so they are not computed at all.
        key, value = key[:, :, start:], value[:, :, start:]
        if attention_mask is not None:
            attention_mask = attention_mask[:, :, :, start:kv_len]
        kv_len -= start
    kv_heads = key.shape[1]
    group = heads // kv_heads
    grouped = query.reshape(batch, kv_heads, group * q_len, dim)
    scores = torch.matmul(grouped, key.transpose(2, 3)).mul_(scaling)
    scores = scores.view(batch, kv_heads, group, q_len, kv_len)
    if attention_mask is not None:
        mask = attention_mask[:, :, :, :kv_len]
        scores.add_(mask.unsqueeze(2) if mask.shape[1] == 1
                    else mask.unflatten(1, (kv_heads, group)))
    sinks = module.sinks.to(scores.dtype).view(1, kv_heads, group, 1, 1)
    peak = torch.maximum(scores.amax(dim=-1, keepdim=True), sinks)
    # exp of a hugely negative number (a masked score) takes the CPU's slow path, ten times
    # the normal cost; from -80 down, exp is below 2e-35, which a normaliser of at least 1
    # (the row's maximum contributes exp(0)) cannot register in float32.
    weights = scores.sub_(peak).clamp_(min=_EXP_FLOOR).exp_()
    normaliser = weights.sum(dim=-1, keepdim=True).add_(torch.exp(sinks - peak))
    weights = weights.div_(normaliser).to(value.dtype)
    output = torch.matmul(weights.view(batch, kv_heads, group * q_len, kv_len), value)
    output = output.view(batch, heads, q_len, dim).transpose(1, 2).contiguous()
    return output, None


_PADDED_ROW_LIMIT = 1024
"""Rows that attend to at most this many positions are gathered into one padded batch."""


def _ragged_attention(
    module: Any,
    query: Any,
    key: RaggedRows,
    value: Any,
    attention_mask: Any,
    scaling: float,
    **kwargs: Any,
) -> tuple[Any, None]:
    """:func:`sink_attention` of each row's query over that row's keys and values.

    Rows that attend to few positions (every row of a sliding-window layer, short contexts)
    are copied into one zero-padded batch, the padding masked, and attended at once:
    copying a window costs less than a dozen operations per row. Longer rows are attended
    one by one, so a long context is never copied.
    """
    import torch

    if not isinstance(value, RaggedRows) or len(key.rows) != len(value.rows) \
            or len(key.rows) != query.shape[0]:
        raise ValueError("ragged keys and values need one row per query row")
    if attention_mask is not None or query.shape[2] != 1 or not kwargs.get(QUERIES_LAST):
        raise ValueError("a ragged batch is a decode step: one query per row, the last "
                         "position of its row, and no mask")
    window = kwargs.get("sliding_window")
    spans = [min(row.shape[2], int(window)) if window else row.shape[2] for row in key.rows]
    short = [row for row, span in enumerate(spans) if span <= _PADDED_ROW_LIMIT]
    outputs: list[Any] = [None] * len(spans)
    for row, span in enumerate(spans):
        if span > _PADDED_ROW_LIMIT:
            outputs[row] = sink_attention(module, query[row : row + 1], key.rows[row],
                                          value.rows[row], None, scaling, **kwargs)[0]
    if short:
        together = query if len(short) == len(spans) else query[short]
        padded = _padded_attention(module, together, [key.rows[row] for row in short],
                                   [value.rows[row] for row in short],
                                   [spans[row] for row in short], scaling, kwargs)
        if len(short) == len(spans):
            return padded, None
        for index, row in enumerate(short):
            outputs[row] = padded[index : index + 1]
    return torch.cat(outputs, dim=0), None


def _padded_attention(module: Any, query: Any, keys: list[Any], values: list[Any],
                      spans: list[int], scaling: float, options: dict[str, Any]) -> Any:
    """Attention of each row of ``query`` over the last positions of its keys and values.

    Row ``i`` attends to the last ``spans[i]`` positions of ``keys[i]``/``values[i]``; all
    rows run as one batch padded to the longest span. Rows of one span (every row of a
    sliding layer once the contexts are longer than its window) are stacked with one
    concatenation and need no mask.
    """
    import torch

    widest = max(spans)
    rest = {name: item for name, item in options.items()
            if name not in (QUERIES_LAST, "sliding_window")}
    if min(spans) == widest:
        def stacked(rows: list[Any]) -> Any:
            return torch.cat([row[:, :, -widest:] for row in rows], dim=0)

        return sink_attention(module, query, stacked(keys), stacked(values), None, scaling,
                              **rest)[0]

    def pad(rows: list[Any]) -> Any:
        # Copied into one contiguous buffer, row by row: the matrix products on it run
        # several times faster than on a strided (transposed) padded view.
        padded = rows[0].new_zeros((len(rows), rows[0].shape[1], widest, rows[0].shape[3]))
        for index, (span, row) in enumerate(zip(spans, rows, strict=True)):
            padded[index, :, :span].copy_(row[0, :, -span:])
        return padded

    beyond = torch.arange(widest, device=query.device) >= torch.tensor(
        spans, device=query.device).unsqueeze(1)
    padding = torch.zeros(beyond.shape, dtype=query.dtype, device=query.device).masked_fill_(
        beyond, torch.finfo(query.dtype).min).view(len(spans), 1, 1, widest)
    return sink_attention(module, query, pad(keys), pad(values), padding, scaling, **rest)[0]


def _packed_attention(
    module: Any,
    query: Any,
    key: RaggedRows,
    value: Any,
    attention_mask: Any,
    scaling: float,
    **kwargs: Any,
) -> tuple[Any, None]:
    """:func:`sink_attention` of each segment of a packed row over its own keys and values.

    Segment ``i`` holds the last ``key.queries[i]`` positions of row ``i``; it attends
    causally (and within the sliding window, if any), exactly as a lone prefill of that
    chunk would.
    """
    import torch

    queries = key.queries or ()
    if not isinstance(value, RaggedRows) or len(value.rows) != len(key.rows) \
            or query.shape[0] != 1 or query.shape[2] != sum(queries):
        raise ValueError("a packed batch needs one row of queries, one segment per row")
    if attention_mask is not None or not kwargs.get(QUERIES_LAST):
        raise ValueError("a packed batch builds its own masks: pass none")
    window = kwargs.get("sliding_window")
    outputs, start = [], 0
    for keys, values, count in zip(key.rows, value.rows, queries, strict=True):
        segment = query[:, :, start : start + count]
        start += count
        mask = _causal_mask(count, keys.shape[2], window, query.dtype, query.device)
        outputs.append(sink_attention(module, segment, keys, values, mask, scaling,
                                      **kwargs)[0])
    return torch.cat(outputs, dim=1), None


def _causal_mask(queries: int, length: int, window: Any, dtype: Any, device: Any) -> Any:
    """The additive mask of ``queries`` last positions over ``length`` keys (or ``None``).

    A key is seen if it is not after the query and, with a sliding ``window``, fewer than
    ``window`` positions before it (transformers' causal and sliding-window rules).
    """
    import torch

    if queries == 1:  # the last position: it sees all keys, or (sliding) the window the
        return None   # attention keeps of them
    at = torch.arange(length - queries, length, device=device).unsqueeze(1)
    keys = torch.arange(length, device=device).unsqueeze(0)
    hidden = keys > at
    if window:
        hidden |= keys <= at - int(window)
    blocked = torch.zeros(hidden.shape, dtype=dtype, device=device)
    return blocked.masked_fill_(hidden, torch.finfo(dtype).min).view(1, 1, queries, length)


def register() -> None:
    """Register :func:`sink_attention` (and the eager mask) under :data:`IMPLEMENTATION`."""
    global _registered
    if _registered:
        return
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, eager_mask

    AttentionInterface.register(IMPLEMENTATION, sink_attention)
    ALL_MASK_ATTENTION_FUNCTIONS.register(IMPLEMENTATION, eager_mask)
    _registered = True


def install(model: Any) -> bool:
    """Switch ``model`` to :func:`sink_attention` if it is a gpt-oss model on eager attention.

    Returns:
        Whether it runs :func:`sink_attention` now (also when it already did).
    """
    config = getattr(model, "config", None)
    if getattr(config, "model_type", None) != "gpt_oss":
        return False
    current = getattr(config, "_attn_implementation", None)
    if current == IMPLEMENTATION:
        return True
    if current != "eager":
        return False
    register()
    model.set_attn_implementation(IMPLEMENTATION)
    return bool(model.config._attn_implementation == IMPLEMENTATION)

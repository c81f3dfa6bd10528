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
windows as one padded batch, with the padding masked here).

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
    rows run as one batch padded to the longest span.
    """
    import torch

    def pad(rows: list[Any]) -> Any:
        # pad_sequence pads along the first dimension: rows become (positions, heads, dim).
        return torch.nn.utils.rnn.pad_sequence(
            [row[0, :, -span:].transpose(0, 1) for span, row in zip(spans, rows, strict=True)],
            batch_first=True).transpose(1, 2)

    widest = max(spans)
    beyond = torch.arange(widest, device=query.device) >= torch.tensor(
        spans, device=query.device).unsqueeze(1)
    padding = torch.zeros(beyond.shape, dtype=query.dtype, device=query.device).masked_fill_(
        beyond, torch.finfo(query.dtype).min).view(len(spans), 1, 1, widest)
    rest = {name: item for name, item in options.items()
            if name not in (QUERIES_LAST, "sliding_window")}
    return sink_attention(module, query, pad(keys), pad(values), padding, scaling, **rest)[0]


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

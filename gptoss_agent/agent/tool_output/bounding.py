"""The step dispatch runs on every tool result: make it encodable, bound it, keep the rest.

A result over its token budget (``LoopLimits.output_budget``) is cut by :func:`cut_text`
around a one-line marker that says which lines were cut, about how many tokens, and how
to see them: the file the tool kept it in (python: ``/mnt/data/.tool_outputs/<id>.txt``,
read with python itself) or the pager (``functions.read_tool_output(id=..., page=...)``).
The whole text is held in the session's :class:`ToolOutputStore` either way, and goes
into the result's metadata (so into the transcript) when no tool file holds it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from gptoss_agent.agent.tool_output.cut import Cut, cut_text
from gptoss_agent.agent.tool_output.safe_text import safe_result
from gptoss_agent.tools.base import OutputKeeper, SelfPagingTool, Tool, ToolCall, ToolResult
from gptoss_agent.tools.output_pages import (
    PAGE_HEADER_TOKENS,
    PAGER_ADDRESS,
    StoredOutput,
    ToolOutputStore,
    pager_call,
)
from gptoss_agent.tools.output_text import TokenCodec, count_tokens

if TYPE_CHECKING:
    from gptoss_agent.agent.state import SessionState

logger = logging.getLogger(__name__)

_EXACT_COUNT_CHARS = 65_536
_SAMPLE_CHARS = 16_384


def output_store(state: SessionState) -> ToolOutputStore:
    """The store of the session's cut outputs."""
    if state.tool_outputs is None:  # a state built without __post_init__'s default
        state.tool_outputs = ToolOutputStore(state.codec)
    return state.tool_outputs


def result_budget(state: SessionState, tool: Tool, call: ToolCall) -> int | None:
    """The token budget of ``call``'s result, or ``None`` when it is not bounded."""
    if isinstance(tool, SelfPagingTool) and tool.pages_own_output:
        return None
    return state.limits.output_budget(call.written, call.recipient, call.namespace)


def bound_result(state: SessionState, tool: Tool, call: ToolCall, result: ToolResult
                 ) -> ToolResult:
    """``result`` made encodable and, when over its budget, cut with the rest kept.

    A result that fits is returned as it is (the same text, so prompts do not change).
    """
    result = safe_result(result)
    budget = result_budget(state, tool, call)
    if budget is None or result.metadata.get("output_page"):
        return result
    if len(result.text.encode("utf-8")) <= budget:  # a token is at least one byte
        return result
    total = tokens_over(state.codec, result.text, budget)
    if total is None:
        return result
    store = output_store(state)
    output_id = store.unique_id(state.session_id, call.call_id)
    kept_at = _keep(tool, state.session_id, output_id, result.text)
    draft = StoredOutput(output_id, call.recipient, result.text,
                         budget - PAGE_HEADER_TOKENS, kept_at)
    cut, shown = _cut_with_marker(state, draft, budget, total)
    stored = dataclasses.replace(draft, head_lines=cut.first_cut_line - 1)
    store.put(state.session_id, stored)
    facts: dict[str, Any] = {
        "id": output_id, "lines": cut.total_lines, "tokens": cut.total_tokens,
        "shown_tokens": count_tokens(state.codec, shown), "budget": budget,
        "cut_lines": [cut.first_cut_line, cut.last_cut_line],
        "kept_at": kept_at or "session", "page_tokens": stored.page_tokens,
        "head_lines": stored.head_lines,
    }
    metadata: dict[str, Any] = {**result.metadata, "output_cut": facts}
    if kept_at is None:
        metadata["full_text"] = result.text
    return dataclasses.replace(result, text=shown, metadata=MappingProxyType(metadata))


def full_text_at(result: ToolResult) -> str | None:
    """Where a result's full text is already kept (a file, a pager call), else ``None``.

    A cut result's is its file or the pager's first page; a page the pager answered is
    that page of its held output. An elision stub of compaction names it; a result with
    none is kept by the elision itself (``agent/context/kept.py``), so no text is held
    twice.
    """
    facts = result.metadata.get("output_cut")
    if not isinstance(facts, Mapping):
        page_of, page = result.metadata.get("id"), result.metadata.get("page")
        if (result.metadata.get("output_page") and isinstance(page_of, str)
                and isinstance(page, int)):
            return pager_call(page_of, page)
        return None
    kept = facts.get("kept_at")
    if isinstance(kept, str) and kept != "session":
        return kept
    return pager_call(str(facts.get("id")), 1)


def tokens_over(codec: TokenCodec, text: str, budget: int) -> int | None:
    """What ``text`` costs (estimated when long) if it is over ``budget``, else ``None``.

    Up to 64K characters the text is counted exactly, once. A longer one is counted only
    until it passes the budget, and its total is estimated from the tokens per character
    of its first and last 16K characters: only the marker's "≈N tokens" uses that figure,
    and encoding a megabyte of one repeated character takes 1.5 s (an output flood would
    hold every session up).
    """
    if len(text) <= _EXACT_COUNT_CHARS:
        total = count_tokens(codec, text)
        return total if total > budget else None
    if count_tokens(codec, text, stop_above=budget) <= budget:
        return None
    sample = text[:_SAMPLE_CHARS] + text[-_SAMPLE_CHARS:]
    return round(count_tokens(codec, sample) * len(text) / len(sample))


def _keep(tool: Tool, session_id: str, output_id: str, text: str) -> str | None:
    """Where the tool itself keeps the full text, or ``None`` (then the session does)."""
    if not isinstance(tool, OutputKeeper):
        return None
    try:
        return tool.keep_output(session_id, output_id, text)
    except Exception as exc:  # a keeper that fails must not lose the result
        logger.warning("%s could not keep output %s: %s", tool.spec.name, output_id, exc)
        return None


def _cut_with_marker(state: SessionState, stored: StoredOutput, budget: int, total: int
                     ) -> tuple[Cut, str]:
    """Cut, then check the whole (marker included) fits; cut deeper if it does not."""
    lines = stored.text.count("\n") + 1
    widest = Cut("", "", lines, lines, lines, total, 0)
    reserve = count_tokens(state.codec, marker(widest, _where(state, stored, lines))) + 4
    while True:
        cut = cut_text(state.codec, stored.text, budget, reserve, total)
        shown = cut.join(marker(cut, _where(state, stored, cut.first_cut_line)))
        excess = count_tokens(state.codec, shown) - budget
        if excess <= 0 or reserve >= budget:
            return cut, shown
        reserve = min(budget, reserve + excess + 8)


def _where(state: SessionState, stored: StoredOutput, first_cut_line: int) -> str:
    """How the model sees the rest: the tool's file, or the pager's page after the head."""
    if stored.kept_at is not None:
        return f"full text: {stored.kept_at}"
    page = 2 if first_cut_line > 1 else 1  # page 1 ends with the head (see head_lines)
    return f'read them with {PAGER_ADDRESS}(id="{stored.output_id}", page={page})'


def marker(cut: Cut, where: str) -> str:
    """The one line between head and tail: what was cut, and how to see it."""
    span = (f"line {cut.first_cut_line:,}" if cut.first_cut_line == cut.last_cut_line
            else f"lines {cut.first_cut_line:,}–{cut.last_cut_line:,}")
    return (f"[… {span} of {cut.total_lines:,} cut (≈{cut.cut_tokens:,} tokens); "
            f"{where}]")

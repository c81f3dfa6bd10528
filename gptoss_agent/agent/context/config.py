"""How a run keeps its prompt inside the context window (:class:`CompactionConfig`).

A plain frozen dataclass: the task layer builds it from ``compaction:`` and
``model.context_window``; ``Agent(compaction=...)`` takes it directly. The default elides
old tool outputs and then drops old reasoning (:data:`DEFAULT_STRATEGIES`): both cost no
model call and fire only near the window's edge, so short runs never see them.
``CompactionConfig(strategies=())`` turns compaction off: a run that outgrows its window
then stops with ``context_full``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from gptoss_agent.agent.backends.base import ModelBackend

StrategyName = Literal["elide_tool_outputs", "drop_reasoning", "summarise"]
"""The compaction strategies, applied in the order the config lists them."""

STRATEGY_NAMES: tuple[StrategyName, ...] = ("elide_tool_outputs", "drop_reasoning",
                                            "summarise")

DEFAULT_STRATEGIES: tuple[StrategyName, ...] = ("elide_tool_outputs", "drop_reasoning")
"""What compacts a run that names no strategies: the two that need no model call."""


@dataclass(frozen=True)
class CompactionConfig:
    """When and how the history is compacted to fit the context window.

    Attributes:
        strategies: Strategies run in this order until the prompt is small enough:
            ``elide_tool_outputs`` (old tool results become one-line stubs; the calls
            stay), ``drop_reasoning`` (old ``analysis`` messages leave), ``summarise``
            (the oldest part of the conversation becomes one summary message).
            Default :data:`DEFAULT_STRATEGIES`; empty: never compact.
        threshold: When compaction fires: the prompt passes this many tokens (an
            ``int``) or this fraction of the window (a ``float`` in ``(0, 1]``), or the
            next generation would not fit at all.
        target: What compaction aims for, as a fraction of the window: well below the
            threshold, so history is rewritten rarely.
        keep_recent: Most recent exchanges (a generation and the tool results after
            it) that no strategy touches; the system and developer messages and the
            task (the first user message) are never touched either.
        reserve_tokens: The fewest tokens a generation must be able to sample; the
            generation's budget is ``sampling.max_tokens`` cut to what the window has
            left. Less than this left after compaction: the run stops with
            ``context_full``.
        summariser: The backend that writes summaries (a second, cheaper model);
            ``None``: the agent's own backend.
        summary_max_tokens: Most tokens of one summary.
        keep_elided: An elided result whose full text nothing kept yet (it was not cut)
            is kept in the session, and recorded in the transcript, and its stub names
            the pager call that reads it back (about 18 tokens more per stub than a bare
            one). ``False``: the bare stub, and the text is out of the model's reach
            (for very many calls in a very small window).

    Raises:
        ValueError: An unknown strategy, a threshold or target out of range, or a
            count below its minimum.
    """

    strategies: tuple[StrategyName, ...] = DEFAULT_STRATEGIES
    threshold: float | int = 0.8
    target: float = 0.5
    keep_recent: int = 2
    reserve_tokens: int = 256
    summariser: ModelBackend | None = None
    summary_max_tokens: int = 512
    keep_elided: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "strategies", tuple(self.strategies))
        for name in self.strategies:
            if name not in STRATEGY_NAMES:
                raise ValueError(f"unknown compaction strategy {name!r}; known: "
                                 f"{', '.join(STRATEGY_NAMES)}")
        if isinstance(self.threshold, bool) or self.threshold <= 0 or (
                isinstance(self.threshold, float) and self.threshold > 1):
            raise ValueError("threshold must be a fraction in (0, 1] or a token count >= 1, "
                             f"got {self.threshold!r}")
        if not 0 < self.target <= 1:
            raise ValueError(f"target must be a fraction in (0, 1], got {self.target!r}")
        for count in ("keep_recent", "reserve_tokens", "summary_max_tokens"):
            if getattr(self, count) < 1:
                raise ValueError(f"{count} must be at least 1, got {getattr(self, count)}")

    def threshold_tokens(self, window: int) -> int:
        """The prompt size past which compaction fires, in a window of ``window``."""
        if isinstance(self.threshold, float):
            return int(window * self.threshold)
        return min(int(self.threshold), window)

    def target_tokens(self, window: int) -> int:
        """The prompt size compaction aims for (never above the threshold)."""
        return min(int(window * self.target), self.threshold_tokens(window))

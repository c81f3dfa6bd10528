"""The budgets of one run (:class:`LoopLimits`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

DEFAULT_TOOL_OUTPUT_TOKENS = 8_192
"""Default token budget of one tool result (about 6% of gpt-oss's 131,072 positions)."""

MIN_TOOL_OUTPUT_TOKENS = 256
"""The smallest budget that leaves room for a head, a tail and the cut marker."""


@dataclass(frozen=True)
class LoopLimits:
    """Budgets of one run: one user message and everything it leads to.

    A *generation* is one call to the model (one prompt in, one sampled completion out);
    a run makes as many as its tool calls need.

    Attributes:
        max_generations: Most model generations per run.
        max_sampled_tokens: Most sampled tokens per run, all generations together (the
            per-generation cap is ``SamplingParams.max_tokens``).
        wall_time_s: Most seconds per run, or ``None``.
        max_repeated_calls: Stop when the same call (recipient and arguments) is made
            this many times in a row (at least 2).
        max_consecutive_errors: Stop after this many generations in a row that the model
            had to be corrected for.
        tool_timeout_s: Deadline of one tool call, or ``None``.
        max_output_retries: With a structured output type, how many final answers that
            do not match it the model is told about before the run stops.
    """

    max_generations: int = 32
    max_sampled_tokens: int = 32_768
    wall_time_s: float | None = None
    max_repeated_calls: int = 3
    max_consecutive_errors: int = 3
    tool_timeout_s: float | None = 300.0
    max_output_retries: int = 2
    tool_output_tokens: int | None = DEFAULT_TOOL_OUTPUT_TOKENS
    tool_output_budgets: Mapping[str, int | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.max_output_retries < 0:
            raise ValueError("max_output_retries must be at least 0")
        for name in ("max_generations", "max_sampled_tokens", "max_consecutive_errors"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.max_repeated_calls < 2:
            raise ValueError("max_repeated_calls must be at least 2 (1 would stop every call)")
        for name in ("wall_time_s", "tool_timeout_s"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be positive")
        budgets = {"tool_output_tokens": self.tool_output_tokens,
                   **{f"tool_output_budgets[{key!r}]": value
                      for key, value in self.tool_output_budgets.items()}}
        for name, budget in budgets.items():
            if budget is not None and budget < MIN_TOOL_OUTPUT_TOKENS:
                raise ValueError(f"{name} must be at least {MIN_TOOL_OUTPUT_TOKENS} tokens "
                                 "(or null for no limit)")

    def output_budget(self, address: str, recipient: str, namespace: str) -> int | None:
        """The token budget of a result of a call (most specific key first)."""
        for key in (address, recipient, namespace):
            if key in self.tool_output_budgets:
                return self.tool_output_budgets[key]
        return self.tool_output_tokens

"""The typed events a run emits while it works; the CLI and embedders render them.

The loop never prints: it hands each event to a callback, or yields it from
``Agent.stream``. Deltas arrive as the model samples; the rest arrive once per step.
"""

from __future__ import annotations

from dataclasses import dataclass

from gptoss_agent.agent.context.compactor import CompactionReport
from gptoss_agent.agent.result import ChatMessage, Incident, RunResult, Usage
from gptoss_agent.tools.base import ToolCall, ToolResult


@dataclass(frozen=True)
class ReasoningDelta:
    """Text sampled on the ``analysis`` channel."""

    text: str


@dataclass(frozen=True)
class TextDelta:
    """Text sampled on the ``final`` channel (the answer, streaming)."""

    text: str


@dataclass(frozen=True)
class PreambleDelta:
    """Text sampled on ``commentary`` without a recipient (a note to the user)."""

    text: str


@dataclass(frozen=True)
class Preamble:
    """A complete preamble message."""

    text: str


@dataclass(frozen=True)
class MessageRecorded:
    """A complete message entered the conversation (user, assistant or tool)."""

    message: ChatMessage


@dataclass(frozen=True)
class ToolCallStarted:
    """A tool call about to be dispatched."""

    call: ToolCall


@dataclass(frozen=True)
class ToolCallFinished:
    """A tool call's result, as the model will read it."""

    call: ToolCall
    result: ToolResult
    seconds: float


@dataclass(frozen=True)
class IncidentRaised:
    """The parser repaired something, or the model is told about an error."""

    incident: Incident


@dataclass(frozen=True)
class UsageUpdated:
    """Cumulative usage after a generation, with its speed."""

    usage: Usage
    generation: int
    tokens_per_second: float
    elapsed_s: float


@dataclass(frozen=True)
class ContextCompacted:
    """The history was compacted to fit the context window (before a generation)."""

    report: CompactionReport


@dataclass(frozen=True)
class FinalAnswer:
    """The final answer of the run."""

    text: str
    content_type: str | None


@dataclass(frozen=True)
class RunFinished:
    """The run is over; its result."""

    result: RunResult


DELTA_EVENTS = (ReasoningDelta, TextDelta, PreambleDelta)

Event = (
    ReasoningDelta
    | TextDelta
    | PreambleDelta
    | Preamble
    | MessageRecorded
    | ToolCallStarted
    | ToolCallFinished
    | IncidentRaised
    | UsageUpdated
    | ContextCompacted
    | FinalAnswer
    | RunFinished
)

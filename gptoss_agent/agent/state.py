"""What the loop works on: a session's lasting state and one run's bookkeeping.

:class:`SessionState` lives as long as a conversation; :class:`RunState` as long as one run.
The helpers here are the only way the loop changes either: each records what it adds (a
message, an incident, usage) and emits the matching event.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from gptoss_agent.agent.approval import ApprovalPolicy
from gptoss_agent.agent.backends.base import ModelBackend, SamplingParams, backend_context_window
from gptoss_agent.agent.context.config import CompactionConfig
from gptoss_agent.agent.events import Event, IncidentRaised, MessageRecorded
from gptoss_agent.agent.harmony.codec import HarmonyCodec
from gptoss_agent.agent.harmony.conversation import Conversation
from gptoss_agent.agent.harmony.parser import ParsedMessage
from gptoss_agent.agent.limits import LoopLimits
from gptoss_agent.agent.output import OutputSpec
from gptoss_agent.agent.result import ChatMessage, Incident, Usage
from gptoss_agent.tools.output_pages import ToolOutputStore
from gptoss_agent.tools.registry import ToolRegistry

EventSink = Callable[[Event], None]


@dataclass
class SessionState:
    """Everything a session carries from one run to the next."""

    session_id: str
    codec: HarmonyCodec
    conversation: Conversation
    backend: ModelBackend
    registry: ToolRegistry
    sampling: SamplingParams
    limits: LoopLimits
    approval: ApprovalPolicy = field(default_factory=ApprovalPolicy)
    tool_choice: str = "auto"
    strict: bool = False
    output: OutputSpec | None = None
    messages: list[ChatMessage] = field(default_factory=list)
    calls_made: int = 0
    runs: int = 0
    compaction: CompactionConfig = field(default_factory=CompactionConfig)
    window: int | None = None
    window_resolved: bool = False
    journal: Callable[[Mapping[str, Any]], None] | None = None
    """Where durable records that are not conversation changes go (the transcript)."""
    tool_outputs: ToolOutputStore | None = None
    """The full texts of the session's cut tool outputs (made from ``codec`` if not given)."""
    lost_call: bool = False
    """Restored from a transcript whose last call started but never got its result."""

    def __post_init__(self) -> None:
        if self.tool_outputs is None:
            self.tool_outputs = ToolOutputStore(self.codec)


@dataclass
class RunState:
    """Mutable bookkeeping of one run."""

    emit: EventSink
    started: float = field(default_factory=time.monotonic)
    usage: Usage = field(default_factory=Usage)
    incidents: list[Incident] = field(default_factory=list)
    new_messages: list[ChatMessage] = field(default_factory=list)
    generation: int = 0
    tool_calls: int = 0
    tool_errors: int = 0
    consecutive_errors: int = 0
    last_call_key: tuple[str, str] | None = None
    repeat_count: int = 0
    invalid_answers: int = 0

    def remaining_time(self, limits: LoopLimits) -> float | None:
        """Seconds left of the run's wall-time budget, or ``None`` without one."""
        if limits.wall_time_s is None:
            return None
        return limits.wall_time_s - (time.monotonic() - self.started)

    def add_usage(self, **deltas: int) -> None:
        """Add ``deltas`` to the run's token counts."""
        usage = self.usage
        self.usage = replace(usage, **{key: getattr(usage, key) + value
                                       for key, value in deltas.items()})


async def context_window(state: SessionState) -> int | None:
    """The session's context window: the one configured, else the backend's.

    A known window is kept for the session; an unknown one is asked again before the next
    generation (backends keep their own answer, and a server that was unreachable may
    answer later).
    """
    if not state.window_resolved:
        if state.window is None:
            state.window = await backend_context_window(state.backend)
        state.window_resolved = state.window is not None
    return state.window


def record(state: SessionState, run: RunState, message: ChatMessage) -> None:
    """Keep ``message`` in the session and the run, and announce it."""
    state.messages.append(message)
    run.new_messages.append(message)
    run.emit(MessageRecorded(message))


def incident(run: RunState, kind: str, detail: str, repaired: bool) -> None:
    """Record a repair the parser made or an error the model is told about."""
    found = Incident(kind, detail, repaired, run.generation)
    run.incidents.append(found)
    run.emit(IncidentRaised(found))


def answer_channel(message: ParsedMessage) -> str:
    """Tool answers go back on the channel the call was made on."""
    return message.channel if message.channel in ("analysis", "commentary") else "commentary"


def append_tool_message(state: SessionState, run: RunState, author: str, channel: str,
                        text: str, is_error: bool, full_text_at: str | None = None) -> None:
    """Append a tool's (or the system's) answer to the history, counted and recorded.

    ``full_text_at`` says where the tool kept the untruncated output (an elision stub
    names it).
    """
    before = len(state.conversation)
    state.conversation.add_tool_result(author, channel, text, full_text_at)
    run.add_usage(tool_output_tokens=len(state.conversation) - before)
    record(state, run, ChatMessage(role="tool", text=text, channel=channel, author=author,
                                   is_error=is_error))


def account_generation(state: SessionState, run: RunState, prompt: tuple[int, ...],
                       messages: tuple[ParsedMessage, ...], sampled: int) -> None:
    """Count one generation's prompt, prefill and sampled tokens (by channel)."""
    by_channel = {"analysis": 0, "commentary": 0, "final": 0}
    for message in messages:
        if message.channel in by_channel:
            by_channel[message.channel] += len(message.tokens)
    stats = state.backend.last_stats(state.session_id)
    prefilled = stats.prefilled_tokens if stats is not None else len(prompt)
    run.add_usage(
        generations=1,
        prompt_tokens=len(prompt),
        prefilled_tokens=prefilled,
        sampled_tokens=sampled,
        analysis_tokens=by_channel["analysis"],
        commentary_tokens=by_channel["commentary"],
        final_tokens=by_channel["final"],
    )
    run.usage = replace(run.usage, context_window=state.window or 0,
                        context_tokens=len(prompt) + sampled)

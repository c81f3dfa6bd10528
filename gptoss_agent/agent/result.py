"""What a run returns: the final answer, every message, why it stopped, and usage."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class StopReason(str, Enum):
    """Why the loop stopped."""

    FINAL = "final"
    MAX_GENERATIONS = "max_generations"
    MAX_SAMPLED_TOKENS = "max_sampled_tokens"
    WALL_TIME = "wall_time"
    REPEATED_CALL = "repeated_call"
    MODEL_ERRORS = "model_errors"
    BACKEND_ERROR = "backend_error"
    TOOL_UNAVAILABLE = "tool_unavailable"
    INVALID_OUTPUT = "invalid_output"
    CANCELLED = "cancelled"
    CONTEXT_FULL = "context_full"

    @property
    def is_success(self) -> bool:
        """Whether the run ended with a final answer."""
        return self is StopReason.FINAL


@dataclass(frozen=True)
class ChatMessage:
    """One message of the conversation, parsed (for results, events and transcripts).

    Attributes:
        role: ``user``, ``assistant`` or ``tool``.
        text: The content.
        channel: ``analysis``, ``commentary`` or ``final`` (assistant and tool messages).
        recipient: For assistant tool calls, the tool addressed.
        author: For tool messages, the tool that answered.
        content_type: ``json`` when the message declared ``<|constrain|>json``.
        is_error: For tool messages, whether the tool reported an error.
    """

    role: str
    text: str
    channel: str | None = None
    recipient: str | None = None
    author: str | None = None
    content_type: str | None = None
    is_error: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form, without empty fields."""
        data: dict[str, Any] = {"role": self.role, "text": self.text}
        for key in ("channel", "recipient", "author", "content_type"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        if self.is_error:
            data["is_error"] = True
        return data


@dataclass(frozen=True)
class Usage:
    """Token counts of a run.

    Attributes:
        generations: Number of model generations (calls to the model).
        prompt_tokens: Sum of prompt lengths over generations.
        prefilled_tokens: Prompt tokens the backend actually computed (cache misses).
        sampled_tokens: Tokens the model produced.
        analysis_tokens / commentary_tokens / final_tokens: Sampled tokens by channel.
        tool_output_tokens: Tokens of tool results added to the conversation.
        context_window: The backend's context window in tokens (0: unknown).
        context_tokens: Tokens the history holds after the last generation (how full
            the window is).
        compactions: How many times the history was compacted to fit the window.
    """

    generations: int = 0
    prompt_tokens: int = 0
    prefilled_tokens: int = 0
    sampled_tokens: int = 0
    analysis_tokens: int = 0
    commentary_tokens: int = 0
    final_tokens: int = 0
    tool_output_tokens: int = 0
    context_window: int = 0
    context_tokens: int = 0
    compactions: int = 0

    def to_dict(self) -> dict[str, int]:
        """JSON-serialisable form."""
        return dict(self.__dict__)

    @property
    def context_fill(self) -> float | None:
        """The fraction of the window the history fills, or ``None`` if the window is unknown."""
        return self.context_tokens / self.context_window if self.context_window else None


@dataclass(frozen=True)
class Incident:
    """A repair the parser made or an error the model was told about.

    Attributes:
        kind: e.g. ``double_start``, ``unknown_tool``, ``invalid_arguments``.
        detail: What happened.
        repaired: ``True`` if fixed silently, ``False`` if the model had to retry.
        generation: Which generation of the run it happened in (1-based).
    """

    kind: str
    detail: str
    repaired: bool
    generation: int


@dataclass(frozen=True)
class RunResult:
    """The outcome of one run: one user message (a turn) and everything it led to.

    Attributes:
        final_text: The final answer, or ``None`` when the run stopped without one.
        stop_reason: Why the loop stopped.
        messages: Every message of the session so far, in order.
        new_messages: The messages this run added.
        usage: Token counts of this run.
        incidents: Repairs and model errors, in order.
        tool_calls: How many tool calls were dispatched.
        tool_errors: How many of them returned an error.
        error: For ``backend_error``, what failed.
        final_content_type: ``json`` when the final answer was constrained to JSON.
        reviews: What tools that review answers said about the final answer, by their
            review key (the browser's checked citations under ``citations``).
        output: With a structured output type, the final answer as that type (a
            pydantic model, a dataclass, plain JSON for a raw schema); else ``None``.
    """

    final_text: str | None
    stop_reason: StopReason
    messages: tuple[ChatMessage, ...]
    new_messages: tuple[ChatMessage, ...]
    usage: Usage
    incidents: tuple[Incident, ...] = ()
    tool_calls: int = 0
    tool_errors: int = 0
    error: str | None = None
    final_content_type: str | None = None
    reviews: Mapping[str, Any] = field(default_factory=dict)
    output: Any = None

    @property
    def ok(self) -> bool:
        """Whether the run produced a final answer."""
        return self.stop_reason.is_success

    @property
    def repairs(self) -> tuple[Incident, ...]:
        """Incidents the parser fixed."""
        return tuple(incident for incident in self.incidents if incident.repaired)

    @property
    def model_errors(self) -> tuple[Incident, ...]:
        """Incidents the model was told about."""
        return tuple(incident for incident in self.incidents if not incident.repaired)

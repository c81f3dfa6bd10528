"""The values the stream parser produces: message headers, messages and completions.

Everything here is a frozen value; :mod:`~.parser` builds them, the run reads them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from gptoss_agent.agent.harmony.issues import FormatIssue

VALID_CHANNELS: tuple[str, ...] = ("analysis", "commentary", "final")
Terminator = Literal["end", "call", "return"]


@dataclass(frozen=True)
class ParsedMessage:
    """One assistant message as sampled.

    Attributes:
        channel: ``analysis``, ``commentary`` or ``final`` (``None`` if missing).
        recipient: The ``to=`` address, for tool calls.
        content_type: ``json`` for ``<|constrain|>json``, or another declared type.
        text: The message body.
        terminator: ``end``, ``call`` or ``return``; ``None`` when truncated.
        tokens: The exact tokens from ``<|start|>`` to the terminator, as sampled
            (for the first message, the prompt's ``<|start|>assistant`` is included).
    """

    channel: str | None
    recipient: str | None
    content_type: str | None
    text: str
    terminator: Terminator | None
    tokens: tuple[int, ...]

    @property
    def is_call(self) -> bool:
        """Whether this message addresses a tool."""
        return self.recipient is not None

    @property
    def is_preamble(self) -> bool:
        """A commentary message to the user (an action plan before tool calls)."""
        return self.channel == "commentary" and self.recipient is None


@dataclass(frozen=True)
class ParsedCompletion:
    """Everything one generation produced.

    Attributes:
        messages: Well-formed messages, in order.
        issues: Repairs and errors found.
        sampled_tokens: How many tokens were sampled.
    """

    messages: tuple[ParsedMessage, ...]
    issues: tuple[FormatIssue, ...]
    sampled_tokens: int

    @property
    def errors(self) -> tuple[FormatIssue, ...]:
        """The issues the model must be told about."""
        return tuple(issue for issue in self.issues if not issue.is_repair)

    @property
    def repairs(self) -> tuple[FormatIssue, ...]:
        """The issues the parser fixed."""
        return tuple(issue for issue in self.issues if issue.is_repair)


@dataclass(frozen=True)
class MessageHeader:
    """The parsed header of a message whose content is now streaming."""

    channel: str | None
    recipient: str | None
    content_type: str | None


DeltaCallback = Callable[[MessageHeader, str], None]

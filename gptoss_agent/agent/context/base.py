"""The compaction seam: what a strategy is given and what it returns.

A :class:`CompactionStrategy` gets the history as segments (:class:`CompactionJob`) and
returns a shorter list of whole segments, or ``None`` when it can free nothing. Strategies
only ever replace or remove whole messages between the protected head (system,
developer, the task) and the protected tail (the most recent exchanges), so call/result
pairs stay well-formed and everything before the first changed message stays as it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from gptoss_agent.agent.harmony.codec import HarmonyCodec
from gptoss_agent.agent.harmony.conversation import Conversation, Segment


@dataclass(frozen=True)
class CompactionJob:
    """One strategy's input.

    Attributes:
        segments: The history now (earlier strategies of the chain already applied).
        conversation: The conversation, for rendering messages exactly as it does.
        codec: The Harmony codec.
        to_free: Tokens the strategy should free (it may free more, or fewer).
        head: Segments before this index are never touched.
        tail: Segments from this index on are never touched.
        session_id: The agent session (a summariser keys its own session on it).
        keeper: Keeps the full text of a result that is elided and that nothing kept
            yet (the session's tool-output store); ``None``: such text is let go.
    """

    segments: tuple[Segment, ...]
    conversation: Conversation
    codec: HarmonyCodec
    to_free: int
    head: int
    tail: int
    session_id: str
    keeper: TextKeeper | None = None


@runtime_checkable
class TextKeeper(Protocol):
    """Where a strategy keeps the text it takes out of the prompt, for the model to read.

    Only the texts whose place a segment of the final history names are kept for good
    (and recorded in the ``compaction`` record); the others are dropped with the
    strategy's result.
    """

    def next_place(self) -> str:
        """The place (a pager call) the next :meth:`keep` will return."""
        ...

    def keep(self, recipient: str, text: str) -> str:
        """Keep ``text``, written by ``recipient``; the place the model reads it back at."""
        ...


@runtime_checkable
class CompactionStrategy(Protocol):
    """Something that shortens a history by whole messages."""

    name: str

    async def compact(self, job: CompactionJob) -> tuple[Segment, ...] | None:
        """The shorter history, or ``None`` when nothing can be freed."""
        ...


def protected_bounds(segments: Sequence[Segment], keep_recent: int) -> tuple[int, int]:
    """``(head, tail)``: the first segment after the task, the start of the recent tail.

    The head is the header plus the first user message. The tail starts at the first
    message of the ``keep_recent``-th most recent generation (everything after it, its
    tool results included, stays verbatim).
    """
    head = next((index + 1 for index, segment in enumerate(segments)
                 if segment.kind == "user"), len(segments))
    starts = [index for index in range(head, len(segments))
              if segments[index].kind == "assistant"
              and segments[index - 1].kind != "assistant"]
    tail = starts[-keep_recent] if len(starts) >= keep_recent else head
    return head, max(head, tail)


def message_body(codec: HarmonyCodec, segment: Segment) -> str:
    """The text of a segment's message, between ``<|message|>`` and its closing token."""
    tokens = segment.tokens
    marker = codec.special.message
    start = tokens.index(marker) + 1 if marker in tokens else 0
    return codec.decode(tokens[start:-1])


def tool_author(codec: HarmonyCodec, segment: Segment) -> str:
    """Who wrote a tool message (``functions.run_tests``), read from its header."""
    tokens = segment.tokens
    channel = codec.special.channel
    end = tokens.index(channel) if channel in tokens else len(tokens)
    header = codec.decode(tokens[1:end])
    return header.split(" to=")[0].strip() or "tool"

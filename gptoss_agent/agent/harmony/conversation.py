"""Token-exact conversation history and the chain-of-thought policy.

The conversation is a list of segments of token ids: the system and developer header,
user messages and tool results (rendered exactly as openai-harmony does), and assistant messages
*exactly as sampled* (harmony would re-render a past call with the recipient before the
channel, which the model never wrote). Appending is O(appended tokens): the flat prompt
is extended in place, so a backend that keeps a KV cache sees an unchanged prefix.

Chain of thought: analysis is kept while the model works inside a tool loop and dropped
once the turn ends with a ``final`` message (:attr:`AnalysisPolicy.PER_TURN`, the
gpt-oss recommendation). Dropped means every ``analysis``-channel message of that turn:
the reasoning, calls made from analysis (e.g. to ``python``) and their results. The
other policies keep everything or drop analysis as soon as a generation ends.
Harmony's ``auto_drop_analysis`` only drops analysis before the first final, which is
wrong for multi-turn chats.

Compaction (``agent/context/``) rewrites the history through :meth:`Conversation.rewrite`,
which keeps every segment before the first changed one and reports the rest to the
observer as one ``compaction`` record, so a transcript replays exactly what the model saw.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Literal

from gptoss_agent.agent.harmony.codec import HarmonyCodec
from gptoss_agent.agent.harmony.parser import ParsedMessage

SegmentKind = Literal["header", "user", "assistant", "tool"]
ConversationObserver = Callable[[dict[str, Any]], None]


class AnalysisPolicy(str, Enum):
    """When past ``analysis`` messages leave the prompt."""

    PER_TURN = "per_turn"
    KEEP_ALL = "keep_all"
    DROP_ALL = "drop_all"


@dataclass(frozen=True)
class Segment:
    """A run of prompt tokens that belongs to one message.

    Attributes:
        kind: ``header`` (system/developer), ``user``, ``assistant`` or ``tool``.
        tokens: The exact tokens, from ``<|start|>`` to the closing special token.
        channel: The channel of assistant and tool messages.
        turn: Index of the user turn the segment belongs to (0 for the header).
        answer: Whether it is a final answer that was not cut off (recorded as
            ``final`` in transcripts).
        full_text_at: For a tool result, where its full text is kept when the tool
            says so (a file, a paging handle), or where compaction kept it when it
            elided the result; named by the elision stub.
    """

    kind: SegmentKind
    tokens: tuple[int, ...]
    channel: str | None
    turn: int
    answer: bool = False
    full_text_at: str | None = None


def _is_answer(message: ParsedMessage) -> bool:
    """A final answer that was not cut off (a truncated one does not end the turn)."""
    return message.channel == "final" and not message.is_call and message.terminator is not None


def names_recipient(codec: HarmonyCodec, segment: Segment) -> bool:
    """Whether an assistant message is addressed to a tool: a call, whole or cut off.

    A call cut off at the token budget ends with ``<|end|>``, not ``<|call|>``, and is
    still answered (with what went wrong), so it must stay wherever its answer stays.
    """
    tokens = segment.tokens
    message = codec.special.message
    end = tokens.index(message) if message in tokens else len(tokens)
    return " to=" in codec.decode(tokens[:end])


def segment_record(segment: Segment) -> dict[str, Any]:
    """A segment as JSON data."""
    record: dict[str, Any] = {
        "kind": segment.kind,
        "tokens": list(segment.tokens),
        "channel": segment.channel,
        "turn": segment.turn,
    }
    if segment.answer:
        record["final"] = True
    if segment.full_text_at is not None:
        record["full_text_at"] = segment.full_text_at
    return record


def segment_from_record(record: dict[str, Any]) -> Segment:
    """A segment saved with :func:`segment_record`."""
    tokens = record["tokens"]
    channel = record["channel"]
    turn = record["turn"]
    kind = record["kind"]
    where = record.get("full_text_at")
    assert isinstance(tokens, list) and isinstance(turn, int)
    assert kind in ("header", "user", "assistant", "tool")
    return Segment(kind, tuple(int(t) for t in tokens),
                   channel if isinstance(channel, str) else None, turn,
                   bool(record.get("final", False)),
                   where if isinstance(where, str) else None)


class Conversation:
    """The prompt of an agent session, kept as tokens.

    Args:
        codec: The Harmony codec.
        header_texts: ``(role, text)`` pairs for the system and developer messages.
        policy: The chain-of-thought policy.
    """

    def __init__(
        self,
        codec: HarmonyCodec,
        header_texts: Sequence[tuple[str, str]],
        policy: AnalysisPolicy = AnalysisPolicy.PER_TURN,
        observer: ConversationObserver | None = None,
    ) -> None:
        self._codec = codec
        self.policy = policy
        self.observer = observer
        self._segments: list[Segment] = []
        self._flat: list[int] = []
        self._turn = 0
        start = codec.special.start
        self._assistant_start = (start, *codec.encode_text("assistant"))
        for role, text in header_texts:
            self._push(Segment("header", self._render_plain(role, text), None, 0))

    # ------------------------------------------------------------------ reading
    @property
    def segments(self) -> tuple[Segment, ...]:
        """All segments, in order."""
        return tuple(self._segments)

    @property
    def turn(self) -> int:
        """The current user turn (1-based once a user message was added)."""
        return self._turn

    @property
    def assistant_start(self) -> tuple[int, ...]:
        """The tokens of ``<|start|>assistant`` that end every prompt."""
        return self._assistant_start

    def tokens(self) -> list[int]:
        """The history as one token list (a copy)."""
        return list(self._flat)

    def prompt(self) -> tuple[int, ...]:
        """The prompt for the next assistant generation: history + ``<|start|>assistant``."""
        return (*self._flat, *self._assistant_start)

    def __len__(self) -> int:
        return len(self._flat)

    # ------------------------------------------------------------------ writing
    def _push(self, segment: Segment) -> None:
        self._segments.append(segment)
        self._flat.extend(segment.tokens)
        if self.observer is not None:
            self.observer({"type": "segment", **segment_record(segment)})

    def _render_plain(self, role: str, text: str) -> tuple[int, ...]:
        special = self._codec.special
        return (
            special.start,
            *self._codec.encode_header(role),
            special.message,
            *self._codec.encode_text(text),
            special.end,
        )

    def render_user(self, text: str) -> tuple[int, ...]:
        """Tokens of a user message (identical to harmony's rendering, tested)."""
        return self._render_plain("user", text)

    def render_tool_result(self, author: str, channel: str, text: str) -> tuple[int, ...]:
        """Tokens of a tool message addressed to the assistant.

        Identical to ``encoding.render`` of the harmony ``Message`` (a test compares them),
        but assembled here: harmony's per-message render costs about 0.3 ms of fixed
        overhead, an order of magnitude more than encoding a short result.
        """
        special = self._codec.special
        return (
            special.start,
            *self._codec.encode_header(f"{author} to=assistant"),
            special.channel,
            *self._codec.encode_header(channel),
            special.message,
            *self._codec.encode_text(text),
            special.end,
        )

    def add_user(self, text: str) -> None:
        """Start a new user turn with ``text`` (encoded as ordinary text)."""
        self._turn += 1
        self._push(Segment("user", self.render_user(text), None, self._turn))

    def add_assistant(self, messages: Sequence[ParsedMessage]) -> None:
        """Append the messages of one generation verbatim.

        A ``final`` that ended with ``<|return|>`` is stored with ``<|end|>`` instead, as
        gpt-oss expects when the conversation continues.
        """
        special = self._codec.special
        for message in messages:
            tokens = message.tokens
            if tokens and tokens[-1] == special.return_:
                tokens = (*tokens[:-1], special.end)
            self._push(Segment("assistant", tokens, message.channel, self._turn,
                               _is_answer(message)))
        if any(_is_answer(m) for m in messages):
            self.end_turn()
        elif self.policy is AnalysisPolicy.DROP_ALL:
            # Reasoning only: a call made from analysis stays with its result.
            self._drop_analysis(
                lambda segment: segment.kind == "assistant"
                and not names_recipient(self._codec, segment)
            )

    def add_tool_result(self, author: str, channel: str, text: str,
                        full_text_at: str | None = None) -> None:
        """Append a tool's answer, addressed to the assistant on ``channel``.

        ``full_text_at`` says where the untruncated output is kept, if anywhere.
        """
        tokens = self.render_tool_result(author, channel, text)
        self._push(Segment("tool", tokens, channel, self._turn, full_text_at=full_text_at))

    def rewrite(self, segments: Sequence[Segment], details: dict[str, Any]) -> int:
        """Replace the history with ``segments`` (a compaction); return the first changed index.

        Segments before the first one that differs are kept as they are (a KV cache
        reuses them); the observer gets one ``compaction`` record with ``keep`` (how
        many leading segments stay), the segments after them, and ``details``.
        """
        keep = 0
        limit = min(len(segments), len(self._segments))
        while keep < limit and segments[keep] == self._segments[keep]:
            keep += 1
        self._segments = list(segments)
        self._flat = [token for segment in self._segments for token in segment.tokens]
        if self.observer is not None:
            self.observer({"type": "compaction", **details, "keep": keep,
                           "segments": [segment_record(s) for s in self._segments[keep:]]})
        return keep

    def end_turn(self) -> None:
        """Apply the policy after a turn ended with a final answer."""
        if self.policy is AnalysisPolicy.KEEP_ALL:
            return
        turn = self._turn
        self._drop_analysis(lambda segment: segment.turn == turn)

    def _drop_analysis(self, predicate: Callable[[Segment], bool]) -> None:
        removed = [
            index
            for index, segment in enumerate(self._segments)
            if segment.channel == "analysis"
            and segment.kind in ("assistant", "tool")
            and predicate(segment)
        ]
        if removed:
            dropped = set(removed)
            kept = [s for i, s in enumerate(self._segments) if i not in dropped]
            if self.observer is not None:
                self.observer({"type": "drop", "indices": removed})
            self._segments = kept
            self._flat = [token for segment in kept for token in segment.tokens]

    # ------------------------------------------------------------------ persistence
    def to_records(self) -> list[dict[str, Any]]:
        """JSON-serialisable segments (for transcripts and resume)."""
        return [segment_record(segment) for segment in self._segments]

    @classmethod
    def from_records(
        cls,
        codec: HarmonyCodec,
        records: Sequence[dict[str, Any]],
        policy: AnalysisPolicy = AnalysisPolicy.PER_TURN,
        observer: ConversationObserver | None = None,
    ) -> Conversation:
        """Rebuild a conversation saved with :meth:`to_records`.

        The observer is attached after the rebuild, so restored segments are not
        reported again.
        """
        conversation = cls(codec, (), policy)
        for record in records:
            segment = segment_from_record(record)
            conversation._push(segment)
            conversation._turn = max(conversation._turn, segment.turn)
        conversation.observer = observer
        return conversation

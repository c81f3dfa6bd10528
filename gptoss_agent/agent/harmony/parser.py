"""Stream-parsing what the model samples into Harmony messages, malformed output included.

The parser is fed token ids one at a time (it starts just after the prompt's
``<|start|>assistant``) and reports text deltas as they arrive, so the loop can stream
reasoning, preambles and the answer. When the completion ends it yields the list of
messages, each with the exact tokens that make it up, plus every irregularity found.

Irregularities come in two kinds:

* **repairs**: the intent is unambiguous and the parser fixes it (a doubled
  ``<|start|>``, stray text between messages, the recipient written before the channel,
  a message left open by a new ``<|start|>``). Repairs are counted, never hidden.
* **errors**: something the model must redo (no ``<|message|>``, no or an unknown
  channel, a role other than assistant, output truncated at the token budget). The loop
  tells the model what was wrong as a tool-style message and lets it retry.

Unlike openai-harmony's ``StreamableParser``, nothing here raises on malformed input, and a
``final`` message carrying ``<|constrain|>json`` is parsed as a final answer with content
type ``json``, not as a call to the recipient ``<|constrain|>json``.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Literal

from gptoss_agent.agent.harmony.codec import HarmonyCodec

VALID_CHANNELS: tuple[str, ...] = ("analysis", "commentary", "final")
Terminator = Literal["end", "call", "return"]

_RECIPIENT = re.compile(r"\bto=([^\s<]+)")
_CONSTRAIN = re.compile(r"<\|constrain\|>\s*([^\s<]+)")
_BARE_TYPE = re.compile(r"^\s*(json|code|text|python)\s*$")


class IssueKind(str, Enum):
    """Every irregularity the parser recognises."""

    DOUBLE_START = "double_start"
    STRAY_TEXT = "stray_text"
    RECIPIENT_BEFORE_CHANNEL = "recipient_before_channel"
    MISSING_END = "missing_end"
    MISSING_MESSAGE = "missing_message"
    EMPTY_CHANNEL = "empty_channel"
    UNKNOWN_CHANNEL = "unknown_channel"
    WRONG_ROLE = "wrong_role"
    TRUNCATED = "truncated"


REPAIRS = frozenset(
    {
        IssueKind.DOUBLE_START,
        IssueKind.STRAY_TEXT,
        IssueKind.RECIPIENT_BEFORE_CHANNEL,
        IssueKind.MISSING_END,
    }
)


@dataclass(frozen=True)
class FormatIssue:
    """One irregularity in a completion.

    Attributes:
        kind: What went wrong.
        detail: A sentence for the model (errors) or the run log (repairs).
        recipient: The recipient of the message concerned, when known.
    """

    kind: IssueKind
    detail: str
    recipient: str | None = None

    @property
    def is_repair(self) -> bool:
        """Whether the parser fixed it (no need to bother the model)."""
        return self.kind in REPAIRS


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


class _State(Enum):
    HEADER = "header"
    CONTENT = "content"
    BETWEEN = "between"
    ROLE = "role"


@dataclass
class _Draft:
    tokens: list[int]
    header: list[int] = field(default_factory=list)
    content: list[int] = field(default_factory=list)
    parsed_header: MessageHeader | None = None
    decoder: codecs.IncrementalDecoder = field(
        default_factory=lambda: codecs.getincrementaldecoder("utf-8")(errors="replace")
    )
    text_parts: list[str] = field(default_factory=list)
    role_checked: bool = False
    foreign_role: bool = False


class CompletionParser:
    """Incremental parser for one assistant completion.

    Args:
        codec: The Harmony codec (special token ids, token bytes).
        on_delta: Called with the message header and each decoded text delta.
    """

    def __init__(self, codec: HarmonyCodec, on_delta: DeltaCallback | None = None) -> None:
        self._codec = codec
        self._special = codec.special
        self._on_delta = on_delta
        self._assistant_tokens = tuple(codec.encode_text("assistant"))
        self._messages: list[ParsedMessage] = []
        self._issues: list[FormatIssue] = []
        self._count = 0
        self._stray: list[int] = []
        self._state = _State.HEADER
        # The prompt ended with <|start|>assistant: the first header starts now.
        self._draft: _Draft | None = _Draft(
            tokens=[self._special.start, *self._assistant_tokens], role_checked=True
        )
        self._finished = False

    # ------------------------------------------------------------------ feeding
    def feed(self, token: int) -> None:
        """Process one sampled token."""
        if self._finished:
            raise RuntimeError("feed() after finish()")
        self._count += 1
        special = self._special
        if self._state is _State.BETWEEN:
            if token == special.start:
                self._flush_stray()
                self._draft = _Draft(tokens=[token])
                self._state = _State.ROLE
            else:
                self._stray.append(token)
            return
        draft = self._draft
        assert draft is not None
        if self._state is _State.ROLE:
            if token == special.start:
                self._issue(IssueKind.DOUBLE_START, "a doubled <|start|> was ignored")
                return
            draft.tokens.append(token)
            if token in (special.channel, special.message) or self._codec.is_special(token):
                self._state = _State.HEADER
                self._feed_header(draft, token)
            else:
                draft.header.append(token)
            return
        draft.tokens.append(token)
        if self._state is _State.HEADER:
            self._feed_header(draft, token)
        else:
            self._feed_content(draft, token)

    def _feed_header(self, draft: _Draft, token: int) -> None:
        special = self._special
        if token == special.message:
            draft.parsed_header = self._parse_header(draft)
            self._state = _State.CONTENT
            return
        if token in (special.end, special.call, special.return_):
            header_text = self._codec.decode(draft.header).strip()
            self._issue(
                IssueKind.MISSING_MESSAGE,
                "the message header was never followed by <|message|>, so its content "
                f"could not be read (header: {header_text[:80]!r})",
            )
            self._draft = None
            self._state = _State.BETWEEN
            return
        if token == special.start and not draft.header:
            self._issue(IssueKind.DOUBLE_START, "a doubled <|start|> was ignored")
            self._draft = _Draft(tokens=[token])
            self._state = _State.ROLE
            return
        if token == special.start:
            self._issue(IssueKind.MISSING_MESSAGE, "a message header was cut off by <|start|>")
            self._draft = _Draft(tokens=[token])
            self._state = _State.ROLE
            return
        draft.header.append(token)

    def _feed_content(self, draft: _Draft, token: int) -> None:
        special = self._special
        terminators: dict[int, Terminator] = {
            special.end: "end",
            special.call: "call",
            special.return_: "return",
        }
        terminator = terminators.get(token)
        if terminator is not None:
            self._close(draft, terminator, tuple(draft.tokens))
            self._state = _State.BETWEEN
            return
        if token == special.start:
            self._issue(
                IssueKind.MISSING_END,
                "a message was not closed with <|end|> before the next <|start|>",
            )
            self._close(draft, "end", (*draft.tokens[:-1], special.end))
            self._draft = _Draft(tokens=[token])
            self._state = _State.ROLE
            return
        draft.content.append(token)
        delta = draft.decoder.decode(self._codec.token_bytes(token))
        if delta:
            draft.text_parts.append(delta)
            if self._on_delta is not None and draft.parsed_header is not None:
                self._on_delta(draft.parsed_header, delta)

    # ------------------------------------------------------------------ helpers
    def _parse_header(self, draft: _Draft) -> MessageHeader:
        text = self._codec.decode(draft.header)
        role_part, has_channel, after = text.partition("<|channel|>")
        role_words = role_part.split()
        if not draft.role_checked:
            role = role_words[0] if role_words else ""
            if role != "assistant":
                draft.foreign_role = True
                self._issue(
                    IssueKind.WRONG_ROLE,
                    f"you wrote a message as {role or 'an unnamed role'!r}; only assistant "
                    "messages may be written, tool results come from the tools",
                )
        recipient = None
        before = _RECIPIENT.search(role_part)
        if before:
            recipient = before.group(1)
            self._issue(
                IssueKind.RECIPIENT_BEFORE_CHANNEL,
                "the recipient was written before the channel",
                recipient,
            )
        channel: str | None = None
        content_type: str | None = None
        if has_channel:
            constrain = _CONSTRAIN.search(after)
            if constrain:
                content_type = constrain.group(1)
                after = after[: constrain.start()] + after[constrain.end() :]
            found = _RECIPIENT.search(after)
            if found:
                recipient = found.group(1)
                after = after[: found.start()] + after[found.end() :]
            words = after.split()
            channel = words[0] if words else ""
            rest = " ".join(words[1:])
            if content_type is None and rest:
                bare = _BARE_TYPE.match(rest)
                content_type = bare.group(1) if bare else rest
        if not channel:
            self._issue(
                IssueKind.EMPTY_CHANNEL,
                "the message has no channel; every message needs <|channel|> with one of "
                + ", ".join(VALID_CHANNELS),
                recipient,
            )
        elif channel not in VALID_CHANNELS:
            self._issue(
                IssueKind.UNKNOWN_CHANNEL,
                f"channel {channel!r} does not exist; valid channels: "
                + ", ".join(VALID_CHANNELS),
                recipient,
            )
        return MessageHeader(channel or None, recipient, content_type)

    def _close(self, draft: _Draft, terminator: Terminator | None, tokens: tuple[int, ...]) -> None:
        header = draft.parsed_header or MessageHeader(None, None, None)
        tail = draft.decoder.decode(b"", final=True)
        if tail:
            draft.text_parts.append(tail)
            if self._on_delta is not None:
                self._on_delta(header, tail)
        valid_channel = header.channel in VALID_CHANNELS
        if not valid_channel or draft.foreign_role:
            # Unreadable, or written in another role's name (a made-up tool result):
            # reported to the model, and kept out of the history.
            self._draft = None
            return
        self._messages.append(
            ParsedMessage(
                channel=header.channel,
                recipient=header.recipient,
                content_type=header.content_type,
                text="".join(draft.text_parts),
                terminator=terminator,
                tokens=tokens,
            )
        )
        self._draft = None

    def _flush_stray(self) -> None:
        if self._stray:
            text = self._codec.decode(self._stray).strip()
            if text:
                self._issue(
                    IssueKind.STRAY_TEXT,
                    f"text outside any message was ignored: {text[:80]!r}",
                )
            self._stray = []

    def _issue(self, kind: IssueKind, detail: str, recipient: str | None = None) -> None:
        self._issues.append(FormatIssue(kind, detail, recipient))

    # ------------------------------------------------------------------ ending
    def finish(self, max_tokens_hit: bool) -> ParsedCompletion:
        """End the completion.

        Args:
            max_tokens_hit: ``True`` when the backend stopped because the token budget
                ran out (no stop token was sampled).
        """
        if self._finished:
            raise RuntimeError("finish() called twice")
        self._finished = True
        self._flush_stray()
        draft = self._draft
        if draft is not None:
            recipient = draft.parsed_header.recipient if draft.parsed_header else None
            where = {
                _State.HEADER: "while writing a message header",
                _State.ROLE: "while writing a message header",
                _State.CONTENT: (
                    f"in the middle of a message to {recipient}"
                    if recipient
                    else "in the middle of a message"
                ),
                _State.BETWEEN: "between messages",
            }[self._state]
            reason = "at the token budget" if max_tokens_hit else "without a stop token"
            self._issue(
                IssueKind.TRUNCATED,
                f"your output was cut off {reason} {where}; write a shorter message",
                recipient,
            )
            if self._state is _State.CONTENT and draft.parsed_header is not None:
                self._close(draft, None, (*draft.tokens, self._special.end))
        return ParsedCompletion(tuple(self._messages), tuple(self._issues), self._count)


def parse_completion(codec: HarmonyCodec, tokens: list[int] | tuple[int, ...]) -> ParsedCompletion:
    """Parse a whole completion at once (tests, transcripts, replays)."""
    parser = CompletionParser(codec)
    for token in tokens:
        parser.feed(token)
    stop = bool(tokens) and tokens[-1] in codec.assistant_stop_tokens
    return parser.finish(max_tokens_hit=not stop)

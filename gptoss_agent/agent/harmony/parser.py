"""Stream-parsing what the model samples into Harmony messages, malformed output included.

The parser is fed token ids one at a time (it starts just after the prompt's
``<|start|>assistant``) and reports text deltas as they arrive, so the loop can stream
reasoning, preambles and the answer. When the completion ends it yields the list of
messages, each with the exact tokens that make it up, plus every irregularity found
(repairs it made and errors the model must redo; see :mod:`~.issues`).

This module owns the token-level state machine. Reading a header is :mod:`~.header`'s
job, the values produced are in :mod:`~.parsed`; their names are re-exported here, so
``from gptoss_agent.agent.harmony.parser import ParsedMessage`` keeps working.

Unlike openai-harmony's ``StreamableParser``, nothing here raises on malformed input, and a
``final`` message carrying ``<|constrain|>json`` is parsed as a final answer with content
type ``json``, not as a call to the recipient ``<|constrain|>json``.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from enum import Enum

from gptoss_agent.agent.harmony.codec import HarmonyCodec
from gptoss_agent.agent.harmony.header import read_header
from gptoss_agent.agent.harmony.issues import REPAIRS, FormatIssue, IssueKind
from gptoss_agent.agent.harmony.parsed import (
    VALID_CHANNELS,
    DeltaCallback,
    MessageHeader,
    ParsedCompletion,
    ParsedMessage,
    Terminator,
)

__all__ = [
    "REPAIRS",
    "VALID_CHANNELS",
    "CompletionParser",
    "DeltaCallback",
    "FormatIssue",
    "IssueKind",
    "MessageHeader",
    "ParsedCompletion",
    "ParsedMessage",
    "Terminator",
    "parse_completion",
]


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
        self._unknown: dict[int, tuple[int, int]] = {}  # id -> (issue index, count)
        self._state = _State.HEADER
        # The prompt ended with <|start|>assistant: the first header starts now.
        self._draft: _Draft | None = _Draft(
            tokens=[self._special.start, *self._assistant_tokens], role_checked=True
        )
        self._finished = False

    # ------------------------------------------------------------------ feeding
    def feed(self, token: int) -> None:
        """Process one sampled token.

        A token id outside the vocabulary is read as U+FFFD (its tokens take its place
        in the message) and reported once per id as an ``unknown_token`` repair.
        """
        if self._finished:
            raise RuntimeError("feed() after finish()")
        self._count += 1
        if self._codec.is_known(token):
            self._feed_known(token)
            return
        self._note_unknown(token)
        for replacement in self._codec.replacement_tokens:
            self._feed_known(replacement)

    def _note_unknown(self, token: int) -> None:
        """Report an id outside the vocabulary: one issue per id, with its count."""
        seen = self._unknown.get(token)
        count = 1 if seen is None else seen[1] + 1
        index = len(self._issues) if seen is None else seen[0]
        times = "" if count == 1 else f" ({count} times)"
        issue = FormatIssue(
            IssueKind.UNKNOWN_TOKEN,
            f"token id {token} is not in the vocabulary and was read as U+FFFD{times}",
            token_id=token,
        )
        if seen is None:
            self._issues.append(issue)
        else:
            self._issues[index] = issue
        self._unknown[token] = (index, count)

    def _feed_known(self, token: int) -> None:
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
            self._issue(
                IssueKind.MISSING_MESSAGE,
                "a message header was followed by <|start|> instead of <|message|>, so "
                "its content could not be read",
            )
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
        reading = read_header(self._codec.decode(draft.header), role_checked=draft.role_checked)
        if reading.foreign_role:
            draft.foreign_role = True
        self._issues.extend(reading.issues)
        return reading.header

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
            self._issue(IssueKind.TRUNCATED, _truncation_detail(max_tokens_hit, where), recipient)
            if self._state is _State.CONTENT and draft.parsed_header is not None:
                self._close(draft, None, (*draft.tokens, self._special.end))
        return ParsedCompletion(tuple(self._messages), tuple(self._issues), self._count)


def _truncation_detail(max_tokens_hit: bool, where: str) -> str:
    """What to tell the model about output that ended without a stop token."""
    if max_tokens_hit:
        return f"your output was cut off at the token budget {where}; write a shorter message"
    return (
        f"your output ended without a stop token {where}; end every message with "
        "<|end|>, a tool call with <|call|> and the final answer with <|return|>"
    )


def parse_completion(
    codec: HarmonyCodec, tokens: list[int] | tuple[int, ...], *, max_tokens_hit: bool = False
) -> ParsedCompletion:
    """Parse a whole completion at once (tests, transcripts, replays).

    Args:
        codec: The Harmony codec.
        tokens: The sampled tokens, from after the prompt's ``<|start|>assistant``.
        max_tokens_hit: The generation stopped at its token budget (only the caller can
            know; an unfinished end is otherwise reported as ending without a stop token).
    """
    parser = CompletionParser(codec)
    for token in tokens:
        parser.feed(token)
    return parser.finish(max_tokens_hit=max_tokens_hit)

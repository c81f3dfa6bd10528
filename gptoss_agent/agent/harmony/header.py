"""Reading one message header: its role, channel, recipient and content type.

A header is the text between ``<|start|>`` and ``<|message|>``, e.g. ``assistant
<|channel|>commentary to=functions.get_weather <|constrain|>json``. Reading it never
fails: what is irregular (a foreign role, the recipient before the channel, a missing or
unknown channel) comes back as :class:`~.issues.FormatIssue` values, in the order found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gptoss_agent.agent.harmony.issues import FormatIssue, IssueKind
from gptoss_agent.agent.harmony.parsed import VALID_CHANNELS, MessageHeader

_RECIPIENT = re.compile(r"\bto=([^\s<]+)")
_CONSTRAIN = re.compile(r"<\|constrain\|>\s*([^\s<]+)")
_BARE_TYPE = re.compile(r"^\s*(json|code|text|python)\s*$")


@dataclass(frozen=True)
class HeaderReading:
    """What one header says, and what is wrong with it.

    Attributes:
        header: The channel, recipient and content type (``None`` where missing).
        foreign_role: The message was written in another role's name.
        issues: The irregularities found, in order.
    """

    header: MessageHeader
    foreign_role: bool
    issues: tuple[FormatIssue, ...]


def read_header(text: str, *, role_checked: bool) -> HeaderReading:
    """Read a decoded message header.

    Args:
        text: The header as decoded text, from after ``<|start|>`` up to ``<|message|>``.
        role_checked: The role is already known to be assistant (the prompt wrote it), so
            ``text`` starts after it.
    """
    role_part, has_channel, after = text.partition("<|channel|>")
    issues: list[FormatIssue] = []
    foreign_role = False
    if not role_checked:
        role_issue = _role_issue(role_part)
        if role_issue is not None:
            foreign_role = True
            issues.append(role_issue)
    recipient = None
    before = _RECIPIENT.search(role_part)
    if before:
        recipient = before.group(1)
        issues.append(
            FormatIssue(
                IssueKind.RECIPIENT_BEFORE_CHANNEL,
                "the recipient was written before the channel",
                recipient,
            )
        )
    channel: str | None = None
    content_type: str | None = None
    if has_channel:
        channel, found_recipient, content_type = _read_channel_part(after)
        recipient = found_recipient or recipient
    channel_issue = _channel_issue(channel, recipient)
    if channel_issue is not None:
        issues.append(channel_issue)
    header = MessageHeader(channel or None, recipient, content_type)
    return HeaderReading(header, foreign_role, tuple(issues))


def _role_issue(role_part: str) -> FormatIssue | None:
    """An issue when the header names a role other than assistant."""
    role_words = role_part.split()
    role = role_words[0] if role_words else ""
    if role == "assistant":
        return None
    return FormatIssue(
        IssueKind.WRONG_ROLE,
        f"you wrote a message as {repr(role) if role else 'an unnamed role'}; only "
        "assistant messages may be written, tool results come from the tools",
    )


def _read_channel_part(after: str) -> tuple[str, str | None, str | None]:
    """The channel, recipient and content type written after ``<|channel|>``."""
    content_type: str | None = None
    constrain = _CONSTRAIN.search(after)
    if constrain:
        content_type = constrain.group(1)
        after = after[: constrain.start()] + after[constrain.end() :]
    recipient: str | None = None
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
    return channel, recipient, content_type


def _channel_issue(channel: str | None, recipient: str | None) -> FormatIssue | None:
    """An issue when the channel is missing or is not one of the valid channels."""
    if not channel:
        return FormatIssue(
            IssueKind.EMPTY_CHANNEL,
            "the message has no channel; every message needs <|channel|> with one of "
            + ", ".join(VALID_CHANNELS),
            recipient,
        )
    if channel not in VALID_CHANNELS:
        return FormatIssue(
            IssueKind.UNKNOWN_CHANNEL,
            f"channel {channel!r} does not exist; valid channels: " + ", ".join(VALID_CHANNELS),
            recipient,
        )
    return None

"""The stream parser's split: the old import path still works, and headers read as before."""

from __future__ import annotations

import pytest

from gptoss_agent.agent.harmony import header, issues, parsed, parser
from gptoss_agent.agent.harmony.codec import HarmonyCodec
from gptoss_agent.agent.harmony.header import read_header
from gptoss_agent.agent.harmony.issues import IssueKind


@pytest.mark.parametrize(
    ("name", "home"),
    [
        ("CompletionParser", parser),
        ("parse_completion", parser),
        ("MessageHeader", parsed),
        ("ParsedCompletion", parsed),
        ("ParsedMessage", parsed),
        ("DeltaCallback", parsed),
        ("Terminator", parsed),
        ("VALID_CHANNELS", parsed),
        ("FormatIssue", issues),
        ("IssueKind", issues),
        ("REPAIRS", issues),
    ],
)
def test_every_name_stays_importable_from_parser(name: str, home: object) -> None:
    assert name in parser.__all__
    assert getattr(parser, name) is getattr(home, name)


def test_a_function_call_header() -> None:
    reading = read_header(
        "<|channel|>commentary to=functions.add <|constrain|>json", role_checked=True
    )
    assert reading.header == parsed.MessageHeader("commentary", "functions.add", "json")
    assert reading.issues == ()
    assert not reading.foreign_role


def test_a_bare_content_type_and_a_recipient_before_the_channel() -> None:
    reading = read_header(" to=python<|channel|>analysis code", role_checked=True)
    assert reading.header == parsed.MessageHeader("analysis", "python", "code")
    assert [issue.kind for issue in reading.issues] == [IssueKind.RECIPIENT_BEFORE_CHANNEL]
    assert reading.issues[0].is_repair


def test_a_foreign_role_without_a_channel_reports_both_in_order() -> None:
    reading = read_header("tool to=functions.add", role_checked=False)
    assert reading.foreign_role
    assert reading.header == parsed.MessageHeader(None, "functions.add", None)
    assert [issue.kind for issue in reading.issues] == [
        IssueKind.WRONG_ROLE,
        IssueKind.RECIPIENT_BEFORE_CHANNEL,
        IssueKind.EMPTY_CHANNEL,
    ]
    assert "'tool'" in reading.issues[0].detail
    assert reading.issues[2].recipient == "functions.add"


def test_an_unknown_channel_is_an_error() -> None:
    reading = read_header("assistant<|channel|>thoughts", role_checked=False)
    assert not reading.foreign_role
    assert reading.header.channel == "thoughts"
    (issue,) = reading.issues
    assert issue.kind is IssueKind.UNKNOWN_CHANNEL and not issue.is_repair
    assert "analysis, commentary, final" in issue.detail


def test_the_parser_uses_the_header_reading(codec: HarmonyCodec) -> None:
    tokens = codec.encode_with_special(
        " to=functions.add<|channel|>commentary <|constrain|>json<|message|>{}<|call|>"
    )
    completion = parser.parse_completion(codec, tokens)
    (message,) = completion.messages
    assert (message.channel, message.recipient, message.content_type) == (
        "commentary",
        "functions.add",
        "json",
    )
    assert message.terminator == "call" and message.is_call
    assert [issue.kind for issue in completion.repairs] == [IssueKind.RECIPIENT_BEFORE_CHANNEL]
    assert completion.errors == ()
    assert header.HeaderReading is type(read_header("", role_checked=True))

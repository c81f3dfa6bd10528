"""Token ids outside the vocabulary, and the sentences the parser writes for the model."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest

from gptoss_agent.agent.agent import Agent
from gptoss_agent.agent.backends.base import GenerationRequest, GenerationStats
from gptoss_agent.agent.harmony.codec import REPLACEMENT_CHARACTER, HarmonyCodec
from gptoss_agent.agent.harmony.header import read_header
from gptoss_agent.agent.harmony.issues import FormatIssue, IssueKind
from gptoss_agent.agent.harmony.parser import CompletionParser, parse_completion

OUT_OF_VOCABULARY = (201_089, 250_000, 2**31, -1)


def feed_all(codec: HarmonyCodec, tokens: list[int], max_tokens_hit: bool = False):
    parser = CompletionParser(codec)
    for token in tokens:
        parser.feed(token)
    return parser.finish(max_tokens_hit=max_tokens_hit)


@pytest.mark.parametrize("token", OUT_OF_VOCABULARY)
def test_an_unknown_id_decodes_as_the_replacement_character(codec: HarmonyCodec,
                                                            token: int) -> None:
    assert not codec.is_known(token)
    assert codec.decode([token]) == REPLACEMENT_CHARACTER
    assert codec.token_bytes(token) == REPLACEMENT_CHARACTER.encode()
    hello = codec.encode_text("hello")
    assert codec.decode([*hello, token, *hello]) == f"hello{REPLACEMENT_CHARACTER}hello"


def test_every_vocabulary_id_is_known(codec: HarmonyCodec) -> None:
    assert all(codec.is_known(t) for t in (0, codec.vocab_size - 1, codec.special.start,
                                           codec.special.call, 201_088))


def test_an_unknown_id_in_a_message_is_replaced_and_reported(codec: HarmonyCodec) -> None:
    head = codec.encode_with_special("<|channel|>final<|message|>The sum")
    tail = codec.encode_with_special(" is 5.<|return|>")
    deltas: list[str] = []
    parser = CompletionParser(codec, on_delta=lambda header, delta: deltas.append(delta))
    for token in [*head, 250_000, *tail]:
        parser.feed(token)
    completion = parser.finish(max_tokens_hit=False)
    (message,) = completion.messages
    assert message.text == f"The sum{REPLACEMENT_CHARACTER} is 5."
    assert "".join(deltas) == message.text
    # The history keeps a token every backend can read, never the unknown id.
    assert 250_000 not in message.tokens
    assert codec.decode(message.tokens).endswith(f"The sum{REPLACEMENT_CHARACTER} is 5.<|return|>")
    (issue,) = completion.issues
    assert issue.kind is IssueKind.UNKNOWN_TOKEN and issue.is_repair
    assert issue.token_id == 250_000
    assert issue.detail == "token id 250000 is not in the vocabulary and was read as U+FFFD"
    assert completion.errors == () and completion.sampled_tokens == len(head) + 1 + len(tail)


def test_each_unknown_id_is_reported_once_with_its_count(codec: HarmonyCodec) -> None:
    body = codec.encode_with_special("<|channel|>final<|message|>a")
    end = codec.encode_with_special("<|return|>")
    completion = feed_all(codec, [*body, 250_000, -1, 250_000, 250_000, *end])
    assert [(i.kind, i.token_id) for i in completion.issues] == [
        (IssueKind.UNKNOWN_TOKEN, 250_000), (IssueKind.UNKNOWN_TOKEN, -1)]
    assert completion.issues[0].detail.endswith("read as U+FFFD (3 times)")
    assert "<|unknown" not in completion.messages[0].text


def test_an_unknown_id_in_a_header_never_spells_a_made_up_name(codec: HarmonyCodec) -> None:
    tokens = [*codec.encode_with_special("<|channel|>fin"), 250_000,
              *codec.encode_with_special("<|message|>x<|end|>")]
    completion = feed_all(codec, tokens)
    kinds = [issue.kind for issue in completion.issues]
    assert kinds == [IssueKind.UNKNOWN_TOKEN, IssueKind.UNKNOWN_CHANNEL]
    assert REPLACEMENT_CHARACTER in completion.issues[1].detail
    assert all("unknown:" not in issue.detail for issue in completion.issues)


class TokenBackend:
    """Yields fixed token lists, one per generation (ids the vocabulary may lack)."""

    def __init__(self, completions: list[list[int]]) -> None:
        self._completions = list(completions)

    async def generate(self, request: GenerationRequest) -> AsyncIterator[int]:
        for token in self._completions.pop(0):
            yield token

    def last_stats(self, session_id: str) -> GenerationStats | None:
        return None

    async def release(self, session_id: str) -> None:
        return None

    async def aclose(self) -> None:
        return None


async def test_the_loop_records_an_unknown_id_as_a_repair(codec: HarmonyCodec) -> None:
    answer = [*codec.encode_with_special("<|channel|>final<|message|>Five"), 250_000,
              *codec.encode_with_special("<|return|>")]
    agent = Agent(TokenBackend([answer]), [], codec=codec, conversation_start_date="")
    session = agent.session("oov")
    result = await session.send("2+3?")
    assert result.ok and result.final_text == f"Five{REPLACEMENT_CHARACTER}"
    assert [(i.kind, i.repaired) for i in result.incidents] == [("unknown_token", True)]
    history = session.conversation.tokens()
    assert 250_000 not in history and "<|unknown" not in codec.decode(history)


# ---------------------------------------------------------------- what the model reads
DOUBLED = re.compile(r"\b(\w+)\W+\1\b", re.IGNORECASE)


def model_reads(issue: FormatIssue) -> str:
    """The sentence the loop sends (outcome.py wraps every parser error this way)."""
    return f"Your last message could not be used: {issue.detail}."


def every_issue(codec: HarmonyCodec) -> list[FormatIssue]:
    """At least one issue of every kind, from malformed completions."""
    texts_and_budget = [
        ("<|start|><|start|>assistant<|channel|>final<|message|>a<|return|>", False),
        ("<|channel|>analysis<|message|>a<|end|>stray words<|start|>assistant"
         "<|channel|>final<|message|>b<|return|>", False),
        (" to=functions.add<|channel|>commentary<|message|>{}<|call|>", False),
        ("<|channel|>analysis<|message|>a<|start|>assistant<|channel|>final<|message|>b"
         "<|return|>", False),
        ("<|channel|>final<|end|>", False),
        ("<|channel|>analysis<|start|>assistant<|channel|>final<|message|>b<|return|>", False),
        ("<|message|>a<|end|>", False),
        ("<|channel|>thoughts<|message|>a<|end|>", False),
        ("<|channel|>analysis<|message|>a<|end|><|start|>tool<|channel|>commentary"
         "<|message|>b<|end|>", False),
        ("<|channel|>commentary to=functions.add<|message|>{\"a\": 1", True),
        ("<|channel|>commentary to=functions.add<|message|>{\"a\": 1", False),
        ("<|channel|>final<|message|>unfinished answer", False),
        ("<|channel|>fin", False),
        ("<|channel|>fin", True),
    ]
    issues = [issue for text, budget in texts_and_budget
              for issue in parse_completion(codec, codec.encode_with_special(text),
                                            max_tokens_hit=budget).issues]
    issues.extend(read_header("<|channel|>final", role_checked=False).issues)
    body = codec.encode_with_special("<|channel|>final<|message|>a")
    issues.extend(feed_all(codec, [*body, -5, *codec.encode_with_special("<|return|>")]).issues)
    return issues


def test_every_issue_kind_is_produced(codec: HarmonyCodec) -> None:
    assert {issue.kind for issue in every_issue(codec)} == set(IssueKind)


def test_no_diagnosis_doubles_a_word(codec: HarmonyCodec) -> None:
    for issue in every_issue(codec):
        sentence = model_reads(issue)
        assert not DOUBLED.search(sentence), sentence
        assert not issue.detail.endswith("."), "the loop adds the period"
        assert "<|unknown" not in sentence


def test_truncation_names_the_budget_only_when_it_was_hit(codec: HarmonyCodec) -> None:
    cut = codec.encode_with_special("<|channel|>commentary to=functions.add<|message|>{\"a\":")
    at_budget = parse_completion(codec, cut, max_tokens_hit=True).errors[0].detail
    early = parse_completion(codec, cut).errors[0].detail
    assert at_budget == ("your output was cut off at the token budget in the middle of a "
                         "message to functions.add; write a shorter message")
    assert early.startswith("your output ended without a stop token in the middle of a "
                            "message to functions.add; ")
    assert "budget" not in early and "shorter" not in early and "cut off" not in early


def test_an_unnamed_role_is_not_quoted(codec: HarmonyCodec) -> None:
    (issue,) = read_header("<|channel|>final", role_checked=False).issues
    assert issue.detail.startswith("you wrote a message as an unnamed role; ")
    (issue, *_) = read_header("tool<|channel|>commentary", role_checked=False).issues
    assert issue.detail.startswith("you wrote a message as 'tool'; ")

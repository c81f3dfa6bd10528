"""Re-encoding streamed text into token ids, and telling which invisible stop ended it."""

from __future__ import annotations

import random

import pytest

from gptoss_agent.agent.backends.server.text_tokens import IncrementalEncoder, infer_stop_token
from gptoss_agent.agent.harmony.codec import HarmonyCodec

TEXTS = [
    "<|channel|>analysis<|message|>We need to compute 12345 * 678. Let's do it.<|end|>"
    "<|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json"
    '<|message|>{"city": "Zürich", "unit": "celsius"}',
    "Hello   world!\n\n  indented line\twith tab's and it'll work   \n\ntrailing   ",
    "日本語のテキスト and émojis 🎉🎉 mixed with numbers 3.14159 and URLs https://x.test/a?b=1",
    "def f(x):\n    return x ** 2  # comment\n\n\nprint(f(3))\n",
    "<|start|>assistant<|chan",  # a special token cut in half at the end
]


@pytest.mark.parametrize("text", TEXTS)
def test_any_chunking_gives_the_full_encoding(codec: HarmonyCodec, text: str) -> None:
    expected = codec.encode_with_special(text)
    rng = random.Random(7)
    for _ in range(25):
        encoder = IncrementalEncoder(codec)
        tokens: list[int] = []
        position = 0
        while position < len(text):
            step = rng.randint(1, 6)
            tokens += encoder.feed(text[position : position + step])
            position += step
        tokens += encoder.finish()
        assert tokens == expected
        assert encoder.text == text


def test_tokens_are_emitted_before_the_stream_ends(codec: HarmonyCodec) -> None:
    encoder = IncrementalEncoder(codec)
    early = encoder.feed("<|channel|>final<|message|>The answer is forty two and more words ")
    assert early, "nothing was emitted although safe cuts exist"
    rest = encoder.feed("follow") + encoder.finish()
    assert early + rest == codec.encode_with_special(encoder.text)


def test_half_a_special_token_is_held_back(codec: HarmonyCodec) -> None:
    encoder = IncrementalEncoder(codec)
    first = encoder.feed("hello <|ret")
    second = encoder.feed("urn|>")
    assert codec.special.return_ not in first
    assert (first + second + encoder.finish())[-1] == codec.special.return_


def test_recipient_means_call(codec: HarmonyCodec) -> None:
    completion = codec.encode_with_special(
        '<|channel|>commentary to=functions.lookup <|constrain|>json<|message|>{"q": 1}'
    )
    assert infer_stop_token(completion, codec) == codec.special.call


def test_recipient_before_channel_means_call(codec: HarmonyCodec) -> None:
    completion = codec.encode_with_special(
        "<|channel|>analysis<|message|>think<|end|><|start|>assistant to=python"
        "<|channel|>analysis<|message|>print(1)"
    )
    assert infer_stop_token(completion, codec) == codec.special.call


def test_final_message_means_return(codec: HarmonyCodec) -> None:
    completion = codec.encode_with_special(
        "<|channel|>analysis<|message|>the user wants to=know<|end|>"
        "<|start|>assistant<|channel|>final<|message|>Call me to=morrow."
    )
    assert infer_stop_token(completion, codec) == codec.special.return_

"""Deciding that a huge output does not fit costs about the budget, not the whole text."""

from __future__ import annotations

from gptoss_agent.agent.harmony.codec import HarmonyCodec
from gptoss_agent.tools.output_text import CHUNK_CHARS, count_tokens, head_lines, tail_lines


class Counting:
    """A codec that counts the characters it was asked to encode."""

    def __init__(self, codec: HarmonyCodec) -> None:
        self.codec, self.encoded = codec, 0

    def encode_text(self, text: str) -> list[int]:
        self.encoded += len(text)
        return self.codec.encode_text(text)

    def token_bytes(self, token: int) -> bytes:
        return self.codec.token_bytes(token)


FLOOD = "x" * (1 << 20)  # one megabyte on one line: the slowest text to encode


def test_counting_stops_once_past_the_budget(codec: HarmonyCodec) -> None:
    counting = Counting(codec)
    assert count_tokens(counting, FLOOD, stop_above=1000) > 1000
    assert counting.encoded <= 2 * CHUNK_CHARS  # not the whole megabyte
    exact = Counting(codec)
    assert count_tokens(exact, FLOOD[:50_000]) == count_tokens(codec, FLOOD[:50_000], 10**9)
    assert exact.encoded == 50_000


def test_cutting_one_huge_line_reads_only_its_ends(codec: HarmonyCodec) -> None:
    counting = Counting(codec)
    head = head_lines(counting, [FLOOD], 500)
    tail = tail_lines(counting, [FLOOD], 500)
    assert head.partial and tail.partial and 0 < head.tokens <= 500 and 0 < tail.tokens <= 500
    assert counting.encoded < 8 * CHUNK_CHARS

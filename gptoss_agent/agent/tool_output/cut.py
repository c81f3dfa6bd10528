"""Cutting a long text to a token budget at line boundaries, keeping its head and tail.

Both ends are kept because both matter in tool output: the head says what ran and shows
the first problem, the tail holds the summary, the last traceback and the exit status
(a test run, a build, a log). The head gets half the room; what it leaves goes to the
tail. A single line too long for its share is cut at a token boundary.
"""

from __future__ import annotations

from dataclasses import dataclass

from gptoss_agent.tools.output_text import (
    Edge,
    TokenCodec,
    count_tokens,
    head_lines,
    last_tokens,
    split_lines,
    tail_lines,
)


@dataclass(frozen=True)
class Cut:
    """Where a text was cut: what is kept of each end and what is not shown.

    Attributes:
        head: The start of the text that is kept.
        tail: The end of the text that is kept.
        first_cut_line: 1-based number of the first line not shown whole.
        last_cut_line: 1-based number of the last line not shown whole.
        total_lines: Lines of the whole text.
        total_tokens: Tokens of the whole text.
        kept_tokens: Tokens of the head and tail, counted line by line.
    """

    head: str
    tail: str
    first_cut_line: int
    last_cut_line: int
    total_lines: int
    total_tokens: int
    kept_tokens: int

    @property
    def cut_tokens(self) -> int:
        """About how many tokens are not shown."""
        return max(self.total_tokens - self.kept_tokens, 0)

    def join(self, marker: str) -> str:
        """Head, the marker on its own line, tail: what the model reads."""
        head = self.head if not self.head or self.head.endswith("\n") else self.head + "\n"
        return f"{head}{marker}\n{self.tail}" if self.tail else f"{head}{marker}"


def cut_text(codec: TokenCodec, text: str, budget: int, reserve: int,
             total_tokens: int | None = None) -> Cut:
    """Keep the head and tail of ``text`` within ``budget - reserve`` tokens.

    Args:
        codec: Counts tokens.
        text: The whole text (longer than ``budget``).
        budget: The result's token budget.
        reserve: Tokens left for the marker.
        total_tokens: What ``text`` costs, when the caller counted it already.
    """
    total = count_tokens(codec, text) if total_tokens is None else total_tokens
    lines = split_lines(text)
    room = max(budget - reserve, 0)
    head = head_lines(codec, lines, room - room // 2)
    rest = lines[head.whole_lines + int(head.partial):]
    if not rest and head.partial:  # one huge line: keep its end as well
        end = last_tokens(codec, lines[0], room - head.tokens)
        tail = Edge(end, 0, bool(end), count_tokens(codec, end))
    else:
        tail = tail_lines(codec, rest, room - head.tokens)
    first = head.whole_lines + 1
    last = max(len(lines) - tail.whole_lines, first)
    return Cut(head.text, tail.text, first, last, len(lines), total,
               head.tokens + tail.tokens)

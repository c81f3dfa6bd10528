"""Token-aware slicing of long tool output: counting, cutting lines, splitting into pages.

The pieces here know only text and a tokenizer (anything with ``encode_text`` and
``token_bytes``, such as the agent's Harmony codec): :func:`head_lines` and
:func:`tail_lines` take whole lines from either end within a token budget, cutting a
single line that is too long at a token boundary; :func:`iter_pages` splits a whole text
into pages that each fit a budget, for the pager.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol


class TokenCodec(Protocol):
    """The two things slicing needs from a tokenizer."""

    def encode_text(self, text: str) -> list[int]:
        """Token ids of ``text`` read as ordinary text."""
        ...

    def token_bytes(self, token: int) -> bytes:
        """The bytes one token stands for."""
        ...


CHUNK_CHARS = 4096
"""Text is encoded in pieces of at most this many characters, cut after a newline where
one is near: byte-pair encoding of one long run without breaks (``\\n`` * 50,000, a
minified blob) costs time quadratic in its length, pieces keep it linear."""


def chunks(text: str, size: int = CHUNK_CHARS) -> Iterator[str]:
    """``text`` in pieces of at most ``size`` characters, each ending at a newline if it can."""
    start = 0
    while len(text) - start > size:
        cut = text.rfind("\n", start, start + size) + 1
        end = cut if cut > start else start + size
        yield text[start:end]
        start = end
    if start < len(text):
        yield text[start:]


def count_tokens(codec: TokenCodec, text: str, stop_above: int | None = None) -> int:
    """How many tokens ``text`` costs (exact up to :data:`CHUNK_CHARS`, else by pieces).

    With ``stop_above``, counting stops once the count passes it (the figure returned is
    then only known to be larger): deciding that a megabyte does not fit a budget costs
    no more than encoding the budget's worth of it.
    """
    if len(text) <= CHUNK_CHARS:
        return len(codec.encode_text(text))
    total = 0
    for piece in chunks(text):
        total += len(codec.encode_text(piece))
        if stop_above is not None and total > stop_above:
            break
    return total


def split_lines(text: str) -> list[str]:
    r"""The lines of ``text``, each with its ``\n`` (only ``\n`` ends a line, as in a file)."""
    lines = text.split("\n")
    found = [line + "\n" for line in lines[:-1]]
    if lines[-1]:
        found.append(lines[-1])
    return found


def _decode(codec: TokenCodec, tokens: Sequence[int]) -> str:
    return b"".join(codec.token_bytes(t) for t in tokens).decode("utf-8", "ignore")


def first_tokens(codec: TokenCodec, text: str, budget: int) -> str:
    """The longest start of ``text`` that is at most ``budget`` whole tokens."""
    tokens: list[int] = []
    for piece in chunks(text):
        if len(tokens) >= budget:
            break
        tokens.extend(codec.encode_text(piece))
    return _decode(codec, tokens[:max(budget, 0)])


def last_tokens(codec: TokenCodec, text: str, budget: int) -> str:
    """The longest end of ``text`` that is at most ``budget`` whole tokens."""
    pieces = list(chunks(text))
    tokens: list[int] = []
    while pieces and len(tokens) < budget:
        tokens[:0] = codec.encode_text(pieces.pop())
    return _decode(codec, tokens[len(tokens) - budget:] if budget > 0 else [])


@dataclass(frozen=True)
class Edge:
    """What one end of a cut text keeps.

    Attributes:
        text: The kept text.
        whole_lines: How many lines are kept whole.
        partial: Whether one more line is kept in part (cut at a token boundary).
        tokens: What the kept lines cost, counted line by line.
    """

    text: str
    whole_lines: int
    partial: bool
    tokens: int


def head_lines(codec: TokenCodec, lines: Sequence[str], budget: int) -> Edge:
    """Whole lines from the start within ``budget``; a first line too long is cut."""
    used, taken = 0, 0
    for line in lines:
        cost = count_tokens(codec, line, stop_above=budget - used)
        if used + cost > budget:
            break
        used, taken = used + cost, taken + 1
    if taken or not lines:
        return Edge("".join(lines[:taken]), taken, False, used)
    part = first_tokens(codec, lines[0], budget)
    return Edge(part, 0, bool(part), count_tokens(codec, part))


def tail_lines(codec: TokenCodec, lines: Sequence[str], budget: int) -> Edge:
    """Whole lines from the end within ``budget``; a last line too long is cut."""
    used, taken = 0, 0
    for line in reversed(lines):
        cost = count_tokens(codec, line, stop_above=budget - used)
        if used + cost > budget:
            break
        used, taken = used + cost, taken + 1
    if taken or not lines:
        return Edge("".join(lines[len(lines) - taken:]), taken, False, used)
    part = last_tokens(codec, lines[-1], budget)
    return Edge(part, 0, bool(part), count_tokens(codec, part))


@dataclass(frozen=True)
class Page:
    """One page of a long text.

    Attributes:
        number: 1-based page number.
        first_line: 1-based number of the page's first line.
        last_line: 1-based number of its last line.
        text: The page's text.
        part: ``(k, n)`` when the page is part ``k`` of ``n`` of one long line.
    """

    number: int
    first_line: int
    last_line: int
    text: str
    part: tuple[int, int] | None = None


def _valid_prefix(data: bytes) -> tuple[str, bytes]:
    """The longest start of ``data`` that is whole UTF-8, and the bytes left over."""
    for keep in range(len(data), max(len(data) - 4, -1), -1):
        try:
            return data[:keep].decode("utf-8"), data[keep:]
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", "replace"), b""


def _line_parts(codec: TokenCodec, line: str, budget: int) -> list[str]:
    """A line too long for one page, split at token boundaries into whole characters."""
    tokens = [t for piece in chunks(line) for t in codec.encode_text(piece)]
    parts: list[str] = []
    pending = b""
    for start in range(0, len(tokens), budget):
        data = pending + b"".join(codec.token_bytes(t) for t in tokens[start:start + budget])
        text, pending = _valid_prefix(data)
        if text:
            parts.append(text)
    if pending:
        parts.append(pending.decode("utf-8", "replace"))
    return parts


def iter_pages(codec: TokenCodec, text: str, budget: int, break_after: int = 0
               ) -> Iterator[Page]:
    """Split ``text`` into pages of at most ``budget`` tokens, at line boundaries.

    A line longer than a page fills several pages of its own, cut at token boundaries.

    Args:
        codec: Counts tokens.
        text: The whole text.
        budget: Tokens per page.
        break_after: A page also ends after this line (the last line a cut result
            showed from its head, so the next page starts where the cut does).
    """
    number, first, chunk, used = 0, 1, "", 0
    for index, line in enumerate(split_lines(text), start=1):
        cost = count_tokens(codec, line)
        if chunk and (used + cost > budget or cost > budget or index == break_after + 1):
            number += 1
            yield Page(number, first, index - 1, chunk)
            chunk, used = "", 0
        if cost > budget:
            parts = _line_parts(codec, line, budget)
            for k, part in enumerate(parts, start=1):
                number += 1
                yield Page(number, index, index, part, (k, len(parts)))
            continue
        if not chunk:
            first = index
        chunk, used = chunk + line, used + cost
    if chunk:
        number += 1
        yield Page(number, first, first + chunk.count("\n") - chunk.endswith("\n"), chunk)

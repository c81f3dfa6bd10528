"""Turning pages into what the model reads: sanitised, wrapped, numbered, windowed lines.

This module owns the display format gpt-oss was trained on::

    [3] Title (https://example.com/page)
    **viewing lines [0 - 38] of 120**

    L0: first line
    L1: a line with a link 【4†link text】

and the rules that keep page text from forging it: ``【``/``】`` in page text become
``〖``/``〗`` (so only the tool writes citation-shaped markers), and control characters
are dropped. Harmony special-token strings such as ``<|start|>`` are left as plain text:
the agent encodes tool output as ordinary text, so they cannot act as tokens.
Windows are sized in approximate tokens (:func:`estimate_tokens`), never importing a
tokenizer here.
"""

from __future__ import annotations

import re
import unicodedata

from gptoss_agent.tools.browser.page import Page

DEFAULT_VIEW_TOKENS = 1024
DEFAULT_LINE_WIDTH = 100

MARKER_RE = re.compile(r"【(\d+)†([^【】]*)】")
_CONTROL_RE = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff\ue000\ue001]"
)
_WORD_RE = re.compile(r"\w{3,}")


def sanitize(text: str) -> str:
    """Make page text safe to show: no citation brackets, no control characters.

    Args:
        text: Text that came from a page, a search engine or the model's pattern.

    Returns:
        The text with ``【``/``】`` replaced by ``〖``/``〗``, tabs as spaces and
        control/invisible formatting characters removed.
    """
    text = text.replace("【", "〖").replace("】", "〗").replace("\t", "    ")
    return _CONTROL_RE.sub("", text)


def sanitize_inline(text: str) -> str:
    """Sanitise and collapse whitespace to single spaces (titles, link texts, snippets)."""
    return " ".join(sanitize(text).split())


def link_marker(link_id: int, text: str, domain: str | None = None) -> str:
    """The marker for a link: ``【id†text】`` or ``【id†text†domain】`` for other sites."""
    clean = sanitize_inline(text).replace("†", "+") or "link"
    if domain:
        return f"【{link_id}†{clean}†{domain}】"
    return f"【{link_id}†{clean}】"


def estimate_tokens(text: str) -> int:
    """A cheap token estimate for window sizing: about four characters per token.

    Non-ASCII characters count double (CJK and similar text tokenises densely).
    """
    extra = sum(1 for ch in text if ord(ch) > 127)
    return 1 + (len(text) + extra + 3) // 4


def wrap_line(line: str, width: int = DEFAULT_LINE_WIDTH) -> list[str]:
    """Wrap one logical line to ``width`` characters without splitting link markers.

    Leading indentation is kept on the first piece only; a word or marker longer than
    ``width`` stays whole on its own line.
    """
    line = line.rstrip()
    if len(line) <= width:
        return [line]
    indent = len(line) - len(line.lstrip(" "))
    # Spaces inside markers become NUL (sanitize() removed any real NUL) so that the
    # split below keeps each marker whole.
    protected = MARKER_RE.sub(lambda m: m.group(0).replace(" ", "\x00"), line[indent:])
    out: list[str] = []
    current = " " * indent
    for word in protected.split(" "):
        if not word:
            continue
        if current.strip() and len(current) + 1 + len(word) > width:
            out.append(current.rstrip())
            current = word
        else:
            current = f"{current} {word}" if current.strip() else current + word
    if current.strip():
        out.append(current.rstrip())
    return [piece.replace("\x00", " ") for piece in out] or [""]


def text_to_lines(text: str, width: int = DEFAULT_LINE_WIDTH) -> tuple[str, ...]:
    """Split text into display lines: wrap long lines, keep at most one blank in a row."""
    lines: list[str] = []
    for raw in text.splitlines():
        if not raw.strip():
            if lines and lines[-1] != "":
                lines.append("")
            continue
        lines.extend(wrap_line(raw, width))
    while lines and lines[-1] == "":
        lines.pop()
    return tuple(lines)


def window(
    page: Page, start: int, num_lines: int = -1, view_tokens: int = DEFAULT_VIEW_TOKENS
) -> tuple[int, int]:
    """The inclusive line range to show from ``start``.

    Args:
        page: The page being shown.
        start: First line (clamped into the page).
        num_lines: Exact number of lines when positive; otherwise the window holds as
            many lines as fit in ``view_tokens`` (at least one).
        view_tokens: Token budget of a window.

    Returns:
        ``(start, end)`` with ``end`` inclusive; ``end == start - 1`` for an empty page.
    """
    total = len(page.lines)
    if total == 0:
        return 0, -1
    start = min(max(start, 0), total - 1)
    if num_lines > 0:
        return start, min(total - 1, start + num_lines - 1)
    used = 0
    end = start
    for index in range(start, total):
        cost = estimate_tokens(f"L{index}: {page.lines[index]}")
        if index > start and used + cost > view_tokens:
            break
        used += cost
        end = index
    return start, end


def most_relevant_line(page: Page, snippet: str) -> int | None:
    """The line sharing the most words with ``snippet``, if it shares enough to matter."""
    words = {w.lower() for w in _WORD_RE.findall(snippet)}
    if len(words) < 2:
        return None
    best, best_score = None, 0
    for index, line in enumerate(page.lines):
        score = len(words & {w.lower() for w in _WORD_RE.findall(line)})
        if score > best_score:
            best, best_score = index, score
    if best is None or best_score < max(2, len(words) // 3):
        return None
    return best


def render_view(cursor: int, page: Page, start: int, end: int) -> str:
    """The text the model reads for one display of ``page``."""
    url = f" ({page.url})" if page.url else ""
    last = max(len(page.lines) - 1, 0)
    header = f"[{cursor}] {page.title or page.url}{url}\n"
    if end < start:
        return header + "**viewing lines [0 - 0] of 0**\n\n(empty page)"
    header += f"**viewing lines [{start} - {end}] of {last}**\n\n"
    body = "\n".join(f"L{i}: {page.lines[i]}" for i in range(start, end + 1))
    if page.truncated and end == last:
        body += "\n(the document was cut off at the size limit)"
    return header + body


def normalize_unicode(text: str) -> str:
    """NFC-normalise text so ``find`` matches what the model types."""
    return unicodedata.normalize("NFC", text)

"""Turning a server's streamed *text* back into Harmony token ids, and telling which stop hit.

Servers such as llama.cpp's answer with text only (special tokens spelled out in it), and
end on ``<|call|>`` / ``<|return|>`` without showing which. The backend protocol streams
token ids, so this module re-encodes the text as it arrives.

:class:`IncrementalEncoder` emits tokens only up to a *safe cut*: a point where the
tokenization of the text so far can no longer change whatever text follows. Two kinds of
point are safe for o200k: either side of a complete special token (tiktoken encodes the
ordinary text between special tokens piece by piece), and a whitespace character right
after a letter (the pre-tokenizer's letter-run piece always ends there). Text past the
last safe cut is held back until more arrives or the stream ends.

:func:`infer_stop_token` decides which stop token ended a completion whose stop was
invisible: a message addressed to a recipient (``to=...`` in its header) ends with
``<|call|>``, any other with ``<|return|>``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from gptoss_agent.agent.harmony.codec import HarmonyCodec

_SPECIAL_SHAPE = re.compile(r"<\|[A-Za-z0-9_]+\|>")
_RECIPIENT = re.compile(r"(?:^|\s)to=\S")


class IncrementalEncoder:
    """Re-encode streamed completion text into token ids, emitting only final tokens.

    The tokens emitted over a whole stream equal ``codec.encode_with_special(full_text)``.

    Args:
        codec: The Harmony codec.
    """

    def __init__(self, codec: HarmonyCodec) -> None:
        self._codec = codec
        self._specials = {
            name for name in codec.encoding.special_tokens_set if _SPECIAL_SHAPE.fullmatch(name)
        }
        self._text = ""
        self._done = 0

    @property
    def text(self) -> str:
        """All text received so far."""
        return self._text

    def feed(self, delta: str) -> list[int]:
        """Add ``delta``; return the tokens that became final."""
        self._text += delta
        cut = self._safe_cut()
        if cut <= self._done:
            return []
        tokens = self._codec.encode_with_special(self._text[self._done : cut])
        self._done = cut
        return tokens

    def finish(self) -> list[int]:
        """The stream ended: return the tokens of the held-back tail."""
        if self._done >= len(self._text):
            return []
        tokens = self._codec.encode_with_special(self._text[self._done :])
        self._done = len(self._text)
        return tokens

    def _safe_cut(self) -> int:
        text, best = self._text, self._done
        # Look back from the end for the last safe point beyond what was emitted.
        for match in _SPECIAL_SHAPE.finditer(text, max(self._done - 1, 0)):
            if match.group() in self._specials:
                best = max(best, match.end())
        for index in range(len(text) - 1, best, -1):
            if text[index].isspace() and text[index - 1].isalpha():
                return index
        return best


def infer_stop_token(completion: Sequence[int], codec: HarmonyCodec) -> int:
    """Which of ``<|call|>`` / ``<|return|>`` ended ``completion`` (stop not shown).

    The header of the completion's last message (after its last ``<|start|>``, or from the
    beginning) is read up to ``<|message|>``: a recipient means a tool call.
    """
    special = codec.special
    start = 0
    for index in range(len(completion) - 1, -1, -1):
        if completion[index] == special.start:
            start = index + 1
            break
    header: list[int] = []
    for token in completion[start:]:
        if token == special.message:
            break
        header.append(token)
    text = codec.decode(header).replace("<|channel|>", " ").replace("<|constrain|>", " ")
    return special.call if _RECIPIENT.search(text) else special.return_

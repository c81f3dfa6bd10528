"""The Harmony encoding, loaded offline, and the token-level facts the rest of agent/ uses.

``HarmonyCodec`` wraps ``openai_harmony``'s encoding: it knows the ids of the Harmony
special tokens, encodes untrusted text as *ordinary* text (a tool output that says
``<|start|>`` can never become a structural token), and decodes token ids to bytes so
that streamed text deltas are exact even when a character spans several tokens.

A token id outside the vocabulary (a backend whose output layer is wider than the
vocabulary can sample one) decodes as U+FFFD, the Unicode replacement character, never as
a made-up spelling; the stream parser reports it (``unknown_token``).
"""

from __future__ import annotations

import base64
import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gptoss_agent.agent.harmony.vocab import VOCAB_FILENAME, ensure_vocabulary

REPLACEMENT_CHARACTER = "\ufffd"
_REPLACEMENT_BYTES = REPLACEMENT_CHARACTER.encode()

if TYPE_CHECKING:
    from openai_harmony import HarmonyEncoding


@dataclass(frozen=True)
class SpecialTokens:
    """Ids of the Harmony special tokens gpt-oss uses."""

    start: int
    end: int
    message: int
    channel: int
    constrain: int
    return_: int
    call: int
    endoftext: int


class HarmonyCodec:
    """Token-level access to the gpt-oss Harmony encoding.

    Build it with :func:`load_codec` (cached per process).
    """

    def __init__(
        self, encoding: HarmonyEncoding, token_bytes: Callable[[], list[bytes]]
    ) -> None:
        self.encoding = encoding
        self._load_token_bytes = token_bytes
        self._token_table: list[bytes] | None = None
        self._header_cache: dict[str, tuple[int, ...]] = {}
        ids = {
            name: encoding.encode(name, allowed_special="all")[0]
            for name in sorted(encoding.special_tokens_set)
        }
        self._special_text = {token_id: name.encode() for name, token_id in ids.items()}
        self.special = SpecialTokens(
            start=ids["<|start|>"],
            end=ids["<|end|>"],
            message=ids["<|message|>"],
            channel=ids["<|channel|>"],
            constrain=ids["<|constrain|>"],
            return_=ids["<|return|>"],
            call=ids["<|call|>"],
            endoftext=ids["<|endoftext|>"],
        )
        self.assistant_stop_tokens = frozenset(encoding.stop_tokens_for_assistant_actions())
        self.replacement_tokens: tuple[int, ...] = tuple(
            encoding.encode(REPLACEMENT_CHARACTER, disallowed_special=())
        )

    def encode_text(self, text: str) -> list[int]:
        """Encode untrusted text; special-token strings become ordinary text tokens."""
        return self.encoding.encode(text, disallowed_special=())

    def encode_header(self, text: str) -> tuple[int, ...]:
        """:meth:`encode_text`, memoised, for the short strings of message headers.

        Roles, channels, ``author to=assistant``: they recur in every message.
        """
        cached = self._header_cache.get(text)
        if cached is None:
            cached = tuple(self.encode_text(text))
            if len(self._header_cache) < 4096:
                self._header_cache[text] = cached
        return cached

    def encode_with_special(self, text: str) -> list[int]:
        """Encode text in which special-token strings *are* structure (scripts, goldens)."""
        return self.encoding.encode(text, allowed_special="all")

    def is_special(self, token: int) -> bool:
        """Whether ``token`` is a Harmony special or reserved token."""
        return token in self._special_text

    def is_known(self, token: int) -> bool:
        """Whether ``token`` is in the vocabulary (ordinary, special or reserved)."""
        return token in self._special_text or 0 <= token < len(self._token_bytes)

    def token_bytes(self, token: int) -> bytes:
        """The bytes a token stands for (special tokens as their literal name).

        A token outside the vocabulary stands for U+FFFD.
        """
        special = self._special_text.get(token)
        if special is not None:
            return special
        table = self._token_bytes
        if 0 <= token < len(table):
            return table[token]
        return _REPLACEMENT_BYTES

    def decode(self, tokens: list[int] | tuple[int, ...]) -> str:
        """Decode tokens to text; special tokens spelled out, bad UTF-8 and unknown ids U+FFFD."""
        return b"".join(self.token_bytes(token) for token in tokens).decode(
            "utf-8", errors="replace"
        )

    @property
    def _token_bytes(self) -> list[bytes]:
        if self._token_table is None:
            self._token_table = self._load_token_bytes()
        return self._token_table

    @property
    def vocab_size(self) -> int:
        """Number of ordinary (non-special) tokens."""
        return len(self._token_bytes)


def _read_token_bytes(path: os.PathLike[str] | str) -> list[bytes]:
    table: list[bytes] = []
    with open(path, "rb") as handle:
        for rank, line in enumerate(handle):
            encoded, rank_text = line.split(b" ")
            if int(rank_text) != rank:
                raise ValueError(f"{path}: rank {int(rank_text)} out of order at line {rank + 1}")
            table.append(base64.b64decode(encoded))
    return table


@functools.lru_cache(maxsize=1)
def load_codec() -> HarmonyCodec:
    """Load the gpt-oss Harmony encoding without touching the network.

    Raises:
        VocabularyError: The vocabulary could not be found or rebuilt.
    """
    location = ensure_vocabulary()
    os.environ["TIKTOKEN_ENCODINGS_BASE"] = str(location.folder)
    from openai_harmony import HarmonyEncodingName, load_harmony_encoding

    encoding = load_harmony_encoding(HarmonyEncodingName.HARMONY_GPT_OSS)
    vocab_file = location.folder / VOCAB_FILENAME
    return HarmonyCodec(encoding, lambda: _read_token_bytes(vocab_file))

"""One task instance of any family (:class:`Case`), and the key that tells cases apart."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Case:
    """One task instance.

    Attributes:
        family: Which family it belongs to.
        prompt: The user message.
        answer: The exact final answer a correct run gives.
        data: What the tools need to answer it (the page HTML, the URL, the project, ...).
    """

    family: str
    prompt: str
    answer: str
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """What makes two cases the same case: the prompt, unless the family names a key
        (the coding family's prompts repeat; its bugged module does not)."""
        return str(self.data.get("key", self.prompt))

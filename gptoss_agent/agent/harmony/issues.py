"""The irregularities the stream parser finds in a completion: repairs and errors.

Irregularities come in two kinds:

* **repairs**: the intent is unambiguous and the parser fixes it (a doubled
  ``<|start|>``, stray text between messages, the recipient written before the channel,
  a message left open by a new ``<|start|>``, a token id outside the vocabulary read as
  U+FFFD). Repairs are counted, never hidden.
* **errors**: something the model must redo (no ``<|message|>``, no or an unknown
  channel, a role other than assistant, output that ended without a stop token, at the
  token budget or not). The loop tells the model what was wrong as a tool-style message
  (``Your last message could not be used: {detail}.``) and lets it retry.

A ``detail`` is one clause without a final period, naming the real fault.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class IssueKind(str, Enum):
    """Every irregularity the parser recognises."""

    DOUBLE_START = "double_start"
    STRAY_TEXT = "stray_text"
    RECIPIENT_BEFORE_CHANNEL = "recipient_before_channel"
    MISSING_END = "missing_end"
    MISSING_MESSAGE = "missing_message"
    EMPTY_CHANNEL = "empty_channel"
    UNKNOWN_CHANNEL = "unknown_channel"
    WRONG_ROLE = "wrong_role"
    TRUNCATED = "truncated"
    UNKNOWN_TOKEN = "unknown_token"


REPAIRS = frozenset(
    {
        IssueKind.DOUBLE_START,
        IssueKind.STRAY_TEXT,
        IssueKind.RECIPIENT_BEFORE_CHANNEL,
        IssueKind.MISSING_END,
        IssueKind.UNKNOWN_TOKEN,
    }
)


@dataclass(frozen=True)
class FormatIssue:
    """One irregularity in a completion.

    Attributes:
        kind: What went wrong.
        detail: A sentence for the model (errors) or the run log (repairs).
        recipient: The recipient of the message concerned, when known.
        token_id: The token id concerned (``unknown_token``).
    """

    kind: IssueKind
    detail: str
    recipient: str | None = None
    token_id: int | None = None

    @property
    def is_repair(self) -> bool:
        """Whether the parser fixed it (no need to bother the model)."""
        return self.kind in REPAIRS

"""The irregularities the stream parser finds in a completion: repairs and errors.

Irregularities come in two kinds:

* **repairs**: the intent is unambiguous and the parser fixes it (a doubled
  ``<|start|>``, stray text between messages, the recipient written before the channel,
  a message left open by a new ``<|start|>``). Repairs are counted, never hidden.
* **errors**: something the model must redo (no ``<|message|>``, no or an unknown
  channel, a role other than assistant, output truncated at the token budget). The loop
  tells the model what was wrong as a tool-style message and lets it retry.
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


REPAIRS = frozenset(
    {
        IssueKind.DOUBLE_START,
        IssueKind.STRAY_TEXT,
        IssueKind.RECIPIENT_BEFORE_CHANNEL,
        IssueKind.MISSING_END,
    }
)


@dataclass(frozen=True)
class FormatIssue:
    """One irregularity in a completion.

    Attributes:
        kind: What went wrong.
        detail: A sentence for the model (errors) or the run log (repairs).
        recipient: The recipient of the message concerned, when known.
    """

    kind: IssueKind
    detail: str
    recipient: str | None = None

    @property
    def is_repair(self) -> bool:
        """Whether the parser fixed it (no need to bother the model)."""
        return self.kind in REPAIRS

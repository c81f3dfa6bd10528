"""Keeping what elision takes out of the prompt, so the model can read it back.

A tool result that was cut already has its full text kept (a file, or the session's
:class:`~gptoss_agent.tools.output_pages.ToolOutputStore`), and its stub names that
place. One that fit its budget has none: when compaction elides it, its text goes into
the same store under a new id (``elided_1``, ``elided_2``...) and the stub names the
pager call that reads it, ``functions.read_tool_output(id="elided_1", page=1)``.

A :class:`ShelfKeeper` serves one compaction: strategies ask it for places while they
work, and :meth:`ShelfKeeper.commit` keeps for good only the texts the final history
still names, returning them as the ``compaction`` record's ``kept_outputs``
(:meth:`ToolOutputStore.restore` holds them again on resume, so a resumed session's
pager answers the same ids).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gptoss_agent.agent.harmony.conversation import Segment
from gptoss_agent.tools.output_pages import (
    StoredOutput,
    ToolOutputStore,
    pager_call,
    stored_record,
)

KEPT_OUTPUTS = "kept_outputs"
"""The key, in a ``compaction`` record, of the texts that compaction kept."""

ELIDED_ID_PREFIX = "elided_"
"""How the ids of kept elided results start (``elided_1``)."""


@dataclass(frozen=True)
class OutputShelf:
    """Where a session's compaction keeps elided text.

    Attributes:
        store: The session's tool-output store (the one the pager reads).
        session_id: The session.
        page_tokens: Tokens of text per page when the model reads a kept text back.
    """

    store: ToolOutputStore
    session_id: str
    page_tokens: int


class ShelfKeeper:
    """One compaction's :class:`~gptoss_agent.agent.context.base.TextKeeper`.

    Ids are the first ``elided_N`` the session never used, so the same history and store
    give the same ids (a resumed run's compactions name what the uninterrupted run's
    would have).
    """

    def __init__(self, shelf: OutputShelf) -> None:
        self.shelf = shelf
        self._used = shelf.store.used_ids(shelf.session_id)
        self._pending: dict[str, StoredOutput] = {}
        self._number = 1

    def _next_id(self) -> str:
        while f"{ELIDED_ID_PREFIX}{self._number}" in self._used:
            self._number += 1
        return f"{ELIDED_ID_PREFIX}{self._number}"

    def next_place(self) -> str:
        """The pager call the next :meth:`keep` will return."""
        return pager_call(self._next_id(), 1)

    def keep(self, recipient: str, text: str) -> str:
        """Hold ``text`` (until :meth:`commit`); the pager call that reads its first page."""
        output_id = self._next_id()
        self._used.add(output_id)
        place = pager_call(output_id, 1)
        self._pending[place] = StoredOutput(output_id, recipient, text,
                                            self.shelf.page_tokens)
        return place

    def commit(self, segments: Sequence[Segment]) -> list[dict[str, Any]]:
        """Put into the store the texts ``segments`` name; their records, in order."""
        named = {segment.full_text_at for segment in segments}
        records: list[dict[str, Any]] = []
        for place, output in self._pending.items():
            if place in named:
                self.shelf.store.put(self.shelf.session_id, output)
                records.append(stored_record(output))
        self._pending.clear()
        return records

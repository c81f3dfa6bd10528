"""The full text of tool results that were cut, and the pager the model reads it with.

When a result is longer than its token budget the model sees its head and tail and a
marker; the whole text goes into a :class:`ToolOutputStore` (per session, in memory) and,
for a tool that keeps it itself (``python``: a file under ``/mnt/data``), also there. The
model reads the rest page by page with ``functions.read_tool_output(id=..., page=...)``:
:meth:`ToolOutputStore.pager` is that function. It is answered whether or not it is
declared in the developer message, so prompts of runs whose outputs fit never change; a
declared one (any store's pager, registered as a function tool, :func:`is_pager`) is
answered from the session's store too. Compaction keeps the results it elides here as
well (those nothing kept yet), so their stubs name the same pager call.

After a run the full texts are in the transcript (the ``tool_result`` event's
``metadata.full_text``; an elided result's in its ``compaction`` record's
``kept_outputs``, :func:`stored_record`) and :meth:`ToolOutputStore.restore` puts them
back on resume.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gptoss_agent.tools.base import ToolContext, ToolResult
from gptoss_agent.tools.function import FunctionTool
from gptoss_agent.tools.output_text import Page, TokenCodec, iter_pages

PAGER_NAME = "read_tool_output"
PAGER_ADDRESS = f"functions.{PAGER_NAME}"
PAGE_HEADER_TOKENS = 64
"""Tokens a page's header and footer may take on top of its text."""

OUTPUTS_FOLDER = ".tool_outputs"
"""Where, under ``/mnt/data``, the python tool keeps full outputs."""

DEFAULT_MAX_CHARS_PER_SESSION = 32_000_000
"""Most characters of full text held per session; the oldest are let go first."""

PAGER_DESCRIPTION = (
    "Read a tool result that was cut because it was too long: its marker names the id "
    "and the page where the cut starts."
)
_IDS_SHOWN = 20  # ids a wrong id's answer lists

_PAGER_PARAMETERS: Mapping[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "description": "The id the cut result's marker names."},
        "page": {"type": "integer", "minimum": 1, "default": 1,
                 "description": "Which page, from 1."},
    },
    "required": ["id"],
}


@dataclass(frozen=True)
class StoredOutput:
    """The full text of one cut result.

    Attributes:
        output_id: The id the marker names (the call's id, made unique in the session).
        recipient: The tool that produced it (``functions.fetch_log``).
        text: The whole text, as the tool returned it (made encodable).
        page_tokens: Tokens of text per page.
        kept_at: Where the tool itself keeps it (``/mnt/data/.tool_outputs/x.txt``), or
            ``None`` when only the session holds it.
        head_lines: Whole lines the cut result showed from the start; the first page
            ends there, so the page after it starts where the cut does.
    """

    output_id: str
    recipient: str
    text: str
    page_tokens: int
    kept_at: str | None = None
    head_lines: int = 0


class ToolOutputStore:
    """Full texts of cut results, per session, with the pager that reads them.

    Args:
        codec: Counts tokens and cuts at token boundaries (the session's Harmony codec).
        max_chars_per_session: Most characters held per session; older texts are let go
            (they stay in the transcript and, for python, in ``/mnt/data``).
    """

    def __init__(self, codec: TokenCodec,
                 max_chars_per_session: int = DEFAULT_MAX_CHARS_PER_SESSION) -> None:
        self.codec = codec
        self.max_chars_per_session = max_chars_per_session
        self._sessions: dict[str, OrderedDict[str, StoredOutput]] = {}
        self._pages: dict[tuple[str, str], list[Page]] = {}
        self._let_go: dict[str, set[str]] = {}
        self._lock = threading.Lock()
        self._pager: FunctionTool | None = None

    def used_ids(self, session_id: str) -> set[str]:
        """Every id the session used: held, or let go (an id is never used twice)."""
        return set(self._sessions.get(session_id, ())) | self._let_go.get(session_id, set())

    def unique_id(self, session_id: str, wanted: str) -> str:
        """``wanted``, or ``wanted_2``, ``wanted_3``... if the session already used it."""
        taken = self.used_ids(session_id)
        candidate, n = wanted, 1
        while candidate in taken:
            n += 1
            candidate = f"{wanted}_{n}"
        return candidate

    def put(self, session_id: str, output: StoredOutput) -> None:
        """Hold ``output`` for ``session_id``, letting the oldest go beyond the cap."""
        with self._lock:
            held = self._sessions.setdefault(session_id, OrderedDict())
            held[output.output_id] = output
            total = sum(len(item.text) for item in held.values())
            while len(held) > 1 and total > self.max_chars_per_session:
                old_id, old = held.popitem(last=False)
                self._pages.pop((session_id, old_id), None)
                self._let_go.setdefault(session_id, set()).add(old_id)
                total -= len(old.text)

    def get(self, session_id: str, output_id: str) -> StoredOutput | None:
        """The held output ``output_id`` of ``session_id``, if any."""
        held = self._sessions.get(session_id)
        return held.get(output_id) if held is not None else None

    def outputs(self, session_id: str) -> tuple[StoredOutput, ...]:
        """Every output held for ``session_id``, oldest first."""
        held = self._sessions.get(session_id)
        return tuple(held.values()) if held is not None else ()

    def forget(self, session_id: str) -> None:
        """Let go of everything held for ``session_id`` (when the session closes)."""
        with self._lock:
            for output_id in self._sessions.pop(session_id, {}):
                self._pages.pop((session_id, output_id), None)
            self._let_go.pop(session_id, None)

    def pages(self, session_id: str, output: StoredOutput) -> list[Page]:
        """The pages of ``output`` (computed once)."""
        key = (session_id, output.output_id)
        found = self._pages.get(key)
        if found is None:
            found = list(iter_pages(self.codec, output.text, output.page_tokens,
                                    output.head_lines))
            self._pages[key] = found
        return found

    def restore(self, session_id: str, records: Iterable[Mapping[str, Any]]) -> int:
        """Hold again the full texts a transcript recorded; returns how many.

        Args:
            session_id: The session being resumed.
            records: The transcript's records (``tool_result`` events carry the cut
                results' texts, ``compaction`` records the elided ones'), in order.
        """
        restored = 0
        for record in records:
            if record.get("type") == "compaction":
                for kept in record.get("kept_outputs") or ():
                    self.put(session_id, stored_from_record(kept))
                    restored += 1
                continue
            event = record.get("event") if record.get("type") == "event" else None
            if not isinstance(event, Mapping) or event.get("type") != "tool_result":
                continue
            metadata = event.get("metadata") or {}
            cut = metadata.get("output_cut")
            text = metadata.get("full_text")
            if not isinstance(cut, Mapping) or not isinstance(text, str):
                continue
            self.put(session_id, StoredOutput(
                str(cut["id"]), str(event.get("recipient", "")), text,
                int(cut["page_tokens"]), None, int(cut.get("head_lines", 0))))
            restored += 1
        return restored

    def pager(self) -> FunctionTool:
        """``functions.read_tool_output``: one page of a held output."""
        if self._pager is None:
            self._pager = FunctionTool(PAGER_NAME, PAGER_DESCRIPTION, dict(_PAGER_PARAMETERS),
                                       self._read, timeout_s=None, context_param="context",
                                       idempotent=True)  # reading: a lost page is read again
        return self._pager

    def _read(self, context: ToolContext, id: str, page: int = 1) -> ToolResult:
        """The pager's handler (runs in a worker thread)."""
        output = self.get(context.session_id, id)
        if output is None:
            return self._missing(context.session_id, id)
        pages = self.pages(context.session_id, output)
        if not 1 <= page <= len(pages):
            return ToolResult.invalid(
                f"Error: {id} has {len(pages)} page(s); ask for page 1 to {len(pages)}.",
                kind="invalid_arguments", output_page=True)
        return ToolResult(text=page_text(output, pages[page - 1], len(pages)),
                          metadata={"output_page": True, "id": id, "page": page})

    def _missing(self, session_id: str, output_id: str) -> ToolResult:
        if output_id in self._let_go.get(session_id, set()):
            return ToolResult.error(
                f"Error: the full text of {output_id} is no longer held (too much output "
                "was kept in this session); it remains in the run's transcript.",
                kind="output_let_go", output_page=True)
        ids = list(self._sessions.get(session_id, {}))
        held = ", ".join(ids[-_IDS_SHOWN:]) or "none"  # the answer is never cut: bounded here
        if len(ids) > _IDS_SHOWN:
            held = f"{held} (the {_IDS_SHOWN} most recent of {len(ids)})"
        return ToolResult.invalid(
            f"Error: no kept tool output has the id {output_id!r}. Ids held: {held}.",
            kind="invalid_arguments", output_page=True)


def is_pager(tool: object) -> bool:
    """Whether ``tool`` is a :meth:`ToolOutputStore.pager` (of any store).

    An application declares the pager by registering one; the loop answers it from the
    session's own store, which holds the session's cut outputs.
    """
    return isinstance(tool, FunctionTool) and isinstance(
        getattr(tool.handler, "__self__", None), ToolOutputStore)


def pager_call(output_id: str, page: int = 1) -> str:
    """The call that reads page ``page`` of a held output, as markers and stubs name it."""
    return f'{PAGER_ADDRESS}(id="{output_id}", page={page})'


def stored_record(output: StoredOutput) -> dict[str, Any]:
    """A held output as JSON data (a ``compaction`` record's ``kept_outputs`` entry)."""
    return {"id": output.output_id, "recipient": output.recipient, "text": output.text,
            "page_tokens": output.page_tokens, "head_lines": output.head_lines}


def stored_from_record(record: Mapping[str, Any]) -> StoredOutput:
    """An output saved with :func:`stored_record` (the session holds it; no file does)."""
    return StoredOutput(str(record["id"]), str(record.get("recipient", "")),
                        str(record["text"]), int(record["page_tokens"]), None,
                        int(record.get("head_lines", 0)))


def page_text(output: StoredOutput, page: Page, count: int) -> str:
    """A page as the model reads it: a header line, the text, a line saying what next."""
    lines = (f"line {page.first_line:,}, part {page.part[0]} of {page.part[1]}"
             if page.part is not None else
             f"lines {page.first_line:,}–{page.last_line:,}")
    header = f"[{output.output_id} ({output.recipient}), page {page.number} of {count}: {lines}]"
    body = page.text if page.text.endswith("\n") else page.text + "\n"
    footer = (f"[next: {pager_call(output.output_id, page.number + 1)}]"
              if page.number < count else f"[end of {output.output_id}]")
    return f"{header}\n{body}{footer}"


def keep_in_drive(put_file: Callable[[str, str, bytes], Path], session_id: str,
                  output_id: str, text: str) -> str:
    """Write a full output into a session's ``/mnt/data``; the path the model opens.

    Args:
        put_file: ``PythonTool.put_file`` (session id, relative name, data).
        session_id: The session whose drive gets the file.
        output_id: Names the file (``call_7`` -> ``.tool_outputs/call_7.txt``).
        text: The whole output.
    """
    name = f"{OUTPUTS_FOLDER}/{output_id}.txt"
    put_file(session_id, name, text.encode("utf-8", "backslashreplace"))
    return f"/mnt/data/{name}"

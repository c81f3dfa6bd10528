"""Crash-safe JSONL transcripts: written as a run goes, read back to show, resume or export.

Every record is one JSON object on one line, flushed and fsynced before the run moves on,
so a crash loses at most the record being written. Records:

* ``header``: format version, creation time, session id, and what the writer's owner
  recorded with it (a task run records the task's path and content);
* ``segment``: a run of conversation tokens appended (token-exact Harmony, with its kind,
  channel and user turn), in order;
* ``drop``: conversation segments removed by the chain-of-thought policy (their indices);
* ``compaction``: the history rewritten to fit the context window: ``keep`` leading
  segments stay, ``segments`` replace the rest, with what was done (strategies, tokens
  before and after, the first changed token) and the full texts of the results it
  elided that nothing kept before (``kept_outputs``, held again on resume);
* ``event``: a loop event (parsed messages, tool inputs and outputs, timings, usage);
* ``run_started`` / ``run_finished``: one per user message, the latter with the result;
* ``tool_state``: after each call to a stateful tool, its per-session state (the
  browser's page stack), restored on resume;
* ``call_started``: a call's code is about to run (after any approval); with no result
  after it, a resume knows the call may have taken effect (``call_id``, ``recipient``).

Text that UTF-8 cannot hold (a lone surrogate from a tool or a user message) is stored
with U+FFFD in its place, as the tokenizer saw it, and the record says so
(``"text_repaired"``) instead of the run ending with a lost record.

A torn last line (a crash mid-write) is detected and cut off when the file is opened for
appending (:func:`repair_torn_tail`); a damaged line in the middle is an error naming the
line, because silently skipping it would lose a record. One process writes a transcript
at a time: the writer holds an ``flock`` on it (:class:`TranscriptBusyError` for a
second one).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from gptoss_agent.agent.errors import AgentError
from gptoss_agent.agent.file_lock import hold_exclusively

TRANSCRIPT_VERSION = 1


class TranscriptError(AgentError, ValueError):
    """A transcript cannot be read: damage in the middle, or not a transcript at all."""


class TranscriptBusyError(TranscriptError):
    """Another process is writing this transcript (a run, or a resume of it)."""


@dataclass(frozen=True)
class RepairReport:
    """What :func:`repair_torn_tail` did.

    Attributes:
        records: Complete records in the file after the repair.
        removed_bytes: Bytes of the torn last line that were cut off (0 if none).
    """

    records: int
    removed_bytes: int


def _parse_lines(data: bytes, path: Path) -> tuple[list[dict[str, Any]], int]:
    """Complete records and the byte offset where the intact part ends."""
    records: list[dict[str, Any]] = []
    offset = 0
    lines = data.split(b"\n")
    for number, line in enumerate(lines, start=1):
        if number == len(lines):
            # Text after the last newline is a record the writer did not finish.
            return records, offset
        if not line.strip():
            offset += len(line) + 1
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise TranscriptError(
                f"{path}:{number}: damaged record in the middle of the transcript ({exc}); "
                "refusing to continue, since records after it would be misread"
            ) from exc
        if not isinstance(record, dict) or "type" not in record:
            raise TranscriptError(f"{path}:{number}: not a transcript record")
        records.append(record)
        offset += len(line) + 1
    return records, offset


def read_records(path: str | Path) -> list[dict[str, Any]]:
    """All complete records; a torn last line is ignored (not modified).

    Raises:
        TranscriptError: Damage before the last line, or no header.
    """
    file_path = Path(path)
    try:
        data = file_path.read_bytes()
    except OSError as exc:
        raise TranscriptError(f"{file_path}: cannot read: {exc.strerror}") from exc
    records, _ = _parse_lines(data, file_path)
    if not records or records[0].get("type") != "header":
        raise TranscriptError(f"{file_path}: not a gptoss-agent transcript (no header record)")
    version = records[0].get("version")
    if version != TRANSCRIPT_VERSION:
        raise TranscriptError(f"{file_path}: transcript version {version} is not supported")
    return records


def repair_torn_tail(path: str | Path) -> RepairReport:
    """Cut a torn last line off the file, in place.

    Raises:
        TranscriptError: Damage before the last line.
    """
    file_path = Path(path)
    data = file_path.read_bytes()
    records, offset = _parse_lines(data, file_path)
    removed = len(data) - offset
    if removed:
        with file_path.open("r+b") as handle:
            handle.truncate(offset)
            handle.flush()
            os.fsync(handle.fileno())
    return RepairReport(records=len(records), removed_bytes=removed)


class TranscriptWriter:
    """Appends records durably (flush + fsync per record).

    The file is locked for this writer (``flock``, released when it closes or the process
    dies), so two processes never append to one transcript.

    Args:
        path: The JSONL file; created with its folder if missing, repaired if torn.
        metadata: JSON-serialisable fields the header record carries besides its own
            (a task run records ``task_path`` and ``task``).
    """

    def __init__(self, path: str | Path, metadata: Mapping[str, Any] | None = None) -> None:
        self.path = Path(path)
        self.metadata = dict(metadata or {})
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle: BinaryIO | None = self.path.open("ab")
        except OSError as exc:
            raise TranscriptError(f"cannot open the transcript {self.path}: "
                                  f"{exc.strerror or exc}") from exc
        try:
            held = hold_exclusively(self._handle)
        except OSError as exc:  # a file system without locks (ENOLCK on some NFS mounts)
            self._handle.close()
            self._handle = None
            raise TranscriptError(f"cannot lock the transcript {self.path}: "
                                  f"{exc.strerror or exc}") from exc
        if not held:
            self._handle.close()
            self._handle = None
            raise TranscriptBusyError(
                f"the transcript {self.path} is being written by another gptoss-agent "
                "process (a run or a resume of it); wait for it to end or stop it first")
        try:  # repaired only once it is ours: the other writer may be mid-line
            self.repair = repair_torn_tail(self.path)
        except OSError as exc:
            self.close()
            raise TranscriptError(f"cannot repair the transcript {self.path}: "
                                  f"{exc.strerror or exc}") from exc
        except TranscriptError:
            self.close()
            raise
        self._started = time.monotonic()

    def write(self, record: Mapping[str, Any]) -> None:
        """Append one record and make it durable before returning.

        Raises:
            TranscriptError: The writer is closed, or the disk refused the record.
        """
        if self._handle is None:
            raise TranscriptError(f"transcript {self.path} is closed")
        line = _encode(record)
        try:
            self._handle.write(line + b"\n")
            self._handle.flush()
            os.fsync(self._handle.fileno())
        except OSError as exc:
            raise TranscriptError(f"cannot write to the transcript {self.path}: "
                                  f"{exc.strerror or exc}") from exc

    def write_event(self, event: Mapping[str, Any]) -> None:
        """Append a loop event with its time since the writer opened."""
        self.write({"type": "event", "t": round(time.monotonic() - self._started, 4),
                    "event": dict(event)})

    def close(self) -> None:
        """Close the file. Idempotent."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def write_header(self, session_id: str) -> None:
        """Write the first record: version, time, session id and :attr:`metadata`."""
        self.write(header_record(session_id, self.metadata))


_REPAIRED = "text that UTF-8 cannot hold (lone surrogates) was replaced by U+FFFD"


def _encode(record: Mapping[str, Any]) -> bytes:
    """One record as a UTF-8 JSON line; lone surrogates replaced (and said so)."""
    try:
        return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode()
    except UnicodeEncodeError:
        repaired = {**_without_surrogates(dict(record)), "text_repaired": _REPAIRED}
        return json.dumps(repaired, ensure_ascii=False, separators=(",", ":")).encode()


def _without_surrogates(value: Any) -> Any:
    """``value`` with every string's lone surrogates replaced by U+FFFD."""
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, Mapping):
        return {_without_surrogates(k): _without_surrogates(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_without_surrogates(item) for item in value]
    return value


def header_record(session_id: str, metadata: Mapping[str, Any] | None = None
                  ) -> dict[str, Any]:
    """The first record of a transcript."""
    return {
        **(metadata or {}),
        "type": "header",
        "version": TRANSCRIPT_VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "session_id": session_id,
    }


@dataclass(frozen=True)
class ReplayedConversation:
    """The conversation a transcript describes, rebuilt from its segment records.

    Attributes:
        segments: Segment records still in the conversation, in order.
        finished: Whether the last run recorded ``run_finished`` (a cancelled run does
            not count: it is resumed like a crashed one).
        runs: How many runs were started.
        last_prompt: The text of the last ``run_started`` record.
        prompt_recorded: Whether the last run's user message reached the conversation
            (a crash right after ``run_started`` leaves it out; a resume sends it again).
        tool_states: The last recorded state of each stateful tool, by namespace.
        generations: How many generations the transcript records (a scripted backend
            skips that many of its completions on resume).
        calls: How many calls were dispatched (call ids continue from there).
        lost_call: The last call's code started (a ``call_started`` record) but its
            result never reached the conversation: it may have taken effect.
    """

    segments: tuple[dict[str, Any], ...]
    finished: bool
    runs: int
    last_prompt: str | None
    prompt_recorded: bool
    tool_states: Mapping[str, Mapping[str, Any]]
    generations: int
    calls: int = 0
    lost_call: bool = False


def _without(segments: list[dict[str, Any]], indices: list[int]) -> list[dict[str, Any]]:
    """Apply a ``drop`` record: the segments whose positions are not listed."""
    removed = set(indices)
    return [segment for index, segment in enumerate(segments) if index not in removed]


def _compacted(segments: list[dict[str, Any]], record: dict[str, Any]
               ) -> list[dict[str, Any]]:
    """Apply a ``compaction`` record: the kept leading segments, then its own."""
    return [*segments[: int(record["keep"])], *record["segments"]]


@dataclass
class _Replay:
    """What :func:`replay_conversation` has gathered so far."""

    segments: list[dict[str, Any]] = field(default_factory=list)
    finished: bool = True
    runs: int = 0
    last_prompt: str | None = None
    prompt_recorded: bool = True
    tool_states: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    generations: int = 0
    calls: int = 0
    started: int = 0  # calls whose code started and that have no result yet

    def segment(self, record: dict[str, Any]) -> None:
        self.segments.append(record)
        if record["kind"] == "user":
            self.prompt_recorded = True
        elif record["kind"] == "tool":
            self.started = 0

    def run_started(self, record: dict[str, Any]) -> None:
        self.finished = False
        self.runs += 1
        self.last_prompt = record.get("prompt")
        self.prompt_recorded = self.last_prompt is None  # a resumed run adds no user message

    def run_finished(self, record: dict[str, Any]) -> None:
        # A cancelled run (Ctrl-C, a cancelled task) is left to be resumed.
        self.finished = record.get("result", {}).get("stop_reason") != "cancelled"

    def event(self, record: dict[str, Any]) -> None:
        kind = record["event"].get("type")
        if kind == "usage":
            self.generations += 1
        elif kind == "tool_call":  # ToolCallStarted: a call id was taken
            self.calls += 1

    def apply(self, record: dict[str, Any]) -> None:
        kind = record["type"]
        if kind == "drop":
            self.segments = _without(self.segments, record["indices"])
        elif kind == "compaction":
            self.segments = _compacted(self.segments, record)
        elif kind == "tool_state":
            self.tool_states[str(record["tool"])] = record["state"]
        elif kind == "call_started":
            self.started += 1
        elif kind in ("segment", "run_started", "run_finished", "event"):
            getattr(self, kind)(record)


def replay_conversation(records: list[dict[str, Any]]) -> ReplayedConversation:
    """Apply ``segment``, ``drop`` and ``compaction`` records in order."""
    replay = _Replay()
    for record in records:
        replay.apply(record)
    return ReplayedConversation(tuple(replay.segments), replay.finished, replay.runs,
                                replay.last_prompt, replay.prompt_recorded,
                                replay.tool_states, replay.generations, replay.calls,
                                replay.started > 0)


def iter_training_examples(records: list[dict[str, Any]], return_token: int,
                           end_token: int) -> Iterator[tuple[list[int], list[int]]]:
    """Token-exact training examples, one per turn that ended with a final answer.

    Each is the conversation as the model saw it at that moment plus everything it
    sampled in the turn, the final closed with ``<|return|>`` as in training. Yields
    ``(tokens, mask)`` where ``mask`` is 1 on tokens the assistant wrote against the
    context the example shows. An assistant message after the first token a compaction
    changed was sampled against the history before it, so it is context (0) from then
    on: an example never teaches a message against a context it was not written from.
    """
    segments: list[dict[str, Any]] = []
    trained: list[bool] = []  # per segment: sampled against the context before it here
    for record in records:
        kind = record["type"]
        if kind == "segment":
            segments.append(record)
            trained.append(record["kind"] == "assistant")
            if record["kind"] == "assistant" and record.get("channel") == "final" and (
                record.get("final")
            ):
                yield _example(segments, trained, return_token, end_token)
        elif kind == "drop":
            gone = set(record["indices"])
            trained = [t for index, t in enumerate(trained) if index not in gone]
            segments = _without(segments, record["indices"])
        elif kind == "compaction":
            keep = int(record["keep"])
            segments = _compacted(segments, record)
            trained = [*trained[:keep], *([False] * (len(segments) - keep))]


def _example(segments: list[dict[str, Any]], trained: list[bool], return_token: int,
             end_token: int) -> tuple[list[int], list[int]]:
    """The tokens of ``segments`` (the last final closed with ``<|return|>``), masked."""
    tokens: list[int] = []
    mask: list[int] = []
    for index, (segment, weight) in enumerate(zip(segments, trained, strict=True)):
        seg_tokens = list(segment["tokens"])
        if index == len(segments) - 1 and seg_tokens and seg_tokens[-1] == end_token:
            seg_tokens[-1] = return_token
        tokens.extend(seg_tokens)
        mask.extend([int(weight)] * len(seg_tokens))
    return tokens, mask

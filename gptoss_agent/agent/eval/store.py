"""The eval's record file: one JSON line per finished attempt, appended as it finishes.

``<out>/attempts.jsonl`` is append-only: a line is written and flushed to disk the moment
its attempt ends, so a crash or Ctrl-C loses at most the attempts still running. A rerun
reads it back and skips every attempt whose key has a pass or fail recorded; attempts
recorded as infrastructure failures run again (the last line of a key wins). A torn
last line, left by a crash mid-write, is ignored. One eval writes a folder at a time: the
store holds an ``flock`` on the record file until :meth:`AttemptStore.close` (or the
process ends), and a second one is refused.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TextIO

from gptoss_agent.agent.eval.attempt import AttemptRecord
from gptoss_agent.agent.eval.errors import EvalError
from gptoss_agent.agent.file_lock import hold_exclusively

RECORD_FILE = "attempts.jsonl"


class AttemptStore:
    """The records of one eval folder.

    Args:
        folder: The eval's output folder (made if missing).

    Raises:
        EvalError: The folder cannot be made, the record file cannot be read, or another
            eval is writing the folder.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / RECORD_FILE
        self.skipped_lines = 0
        self._torn_end = False
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self._stream: TextIO | None = self.path.open("a", encoding="utf-8")
        except OSError as exc:
            raise EvalError(f"--out {folder}: cannot make the folder or its records: "
                            f"{exc.strerror or exc}") from exc
        if not hold_exclusively(self._stream):
            self.close()
            raise EvalError(f"--out {folder}: another gptoss-agent eval is writing this "
                            "folder; wait for it to end or choose another --out")
        try:
            self._records = self._read()
        except EvalError:
            self.close()
            raise

    def close(self) -> None:
        """Let go of the folder (idempotent)."""
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    def _read(self) -> dict[str, AttemptRecord]:
        if not self.path.exists():
            return {}
        try:
            text = self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise EvalError(f"{self.path}: cannot read the eval records: {exc}") from exc
        self._torn_end = bool(text) and not text.endswith("\n")
        records: dict[str, AttemptRecord] = {}
        for line in text.splitlines():
            if not line.strip():
                continue
            try:
                record = AttemptRecord.from_dict(json.loads(line))
            except (ValueError, TypeError, AttributeError):
                self.skipped_lines += 1
                continue
            records[record.key] = record
        return records

    @property
    def records(self) -> dict[str, AttemptRecord]:
        """The latest record of every key, read back or appended since."""
        return dict(self._records)

    def finished(self, key: str) -> AttemptRecord | None:
        """The recorded pass or fail of ``key``; ``None`` if it must (still) run."""
        record = self._records.get(key)
        return record if record is not None and record.counted else None

    def append(self, record: AttemptRecord) -> None:
        """Write ``record`` as one line and flush it to disk.

        Raises:
            EvalError: The record file cannot be written.
        """
        line = json.dumps(record.to_dict(), ensure_ascii=False) + "\n"
        if self._torn_end:  # end the torn line, so this record starts on its own
            line = "\n" + line
        if self._stream is None:
            raise EvalError(f"{self.path}: the eval records are closed")
        try:
            self._stream.write(line)
            self._stream.flush()
            os.fsync(self._stream.fileno())
            self._torn_end = False
        except OSError as exc:
            raise EvalError(f"{self.path}: cannot write the eval record: "
                            f"{exc.strerror or exc}") from exc
        self._records[record.key] = record

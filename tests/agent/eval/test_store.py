"""The append-only record file: read back, torn lines, and what a rerun skips."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gptoss_agent.agent.eval.errors import EvalError
from gptoss_agent.agent.eval.store import AttemptStore
from tests.agent.eval.records import record


def test_records_survive_a_new_store(tmp_path: Path) -> None:
    store = AttemptStore(tmp_path / "out")
    store.append(record("a", "s", 0, "pass"))
    store.append(record("a", "s", 1, "fail"))
    store.close()
    again = AttemptStore(tmp_path / "out")
    assert sorted(again.records) == ["a-s-0", "a-s-1"]
    assert again.records["a-s-1"] == record("a", "s", 1, "fail")
    assert again.finished("a-s-0") is not None and again.finished("a-s-9") is None


def test_infra_failures_run_again_and_the_last_line_of_a_key_wins(tmp_path: Path) -> None:
    store = AttemptStore(tmp_path)
    store.append(record("a", "s", 0, "infra"))
    assert store.finished("a-s-0") is None
    store.append(record("a", "s", 0, "pass"))
    store.close()
    again = AttemptStore(tmp_path)
    assert again.finished("a-s-0") == record("a", "s", 0, "pass")
    assert len(again.path.read_text().splitlines()) == 2  # appended, never rewritten


def test_a_torn_last_line_is_skipped_and_the_next_record_starts_a_new_line(
        tmp_path: Path) -> None:
    store = AttemptStore(tmp_path)
    store.append(record("a", "s", 0, "pass"))
    with store.path.open("a") as stream:
        stream.write('{"key": "a-s-1", "task": "a", "sta')  # a crash mid-write
    store.close()
    again = AttemptStore(tmp_path)
    assert again.skipped_lines == 1 and list(again.records) == ["a-s-0"]
    again.append(record("a", "s", 1, "fail"))
    again.close()
    third = AttemptStore(tmp_path)
    assert sorted(third.records) == ["a-s-0", "a-s-1"] and third.skipped_lines == 1
    assert json.loads(third.path.read_text().splitlines()[-1])["key"] == "a-s-1"


def test_an_output_folder_that_cannot_be_made_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(EvalError, match="cannot make the folder"):
        AttemptStore(blocker / "out")


def test_a_second_eval_on_the_same_folder_is_refused(tmp_path: Path) -> None:
    store = AttemptStore(tmp_path)
    with pytest.raises(EvalError, match="another gptoss-agent eval is writing"):
        AttemptStore(tmp_path)
    store.close()
    AttemptStore(tmp_path).close()  # free again once the first one let go

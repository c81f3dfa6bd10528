"""The transcript lock is exclusive across processes and dies with its holder."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from gptoss_agent.agent.file_lock import hold_exclusively

HOLDER = """
import sys
from gptoss_agent.agent.file_lock import hold_exclusively
handle = open(sys.argv[1], "ab")
print("held" if hold_exclusively(handle) else "busy", flush=True)
sys.stdin.read()
"""


def start_holder(path: Path) -> subprocess.Popen[str]:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_second_process_cannot_hold_it(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    holder = start_holder(path)
    try:
        with path.open("ab") as handle:
            assert hold_exclusively(handle) is False
    finally:
        holder.communicate("")
    with path.open("ab") as handle:  # released when the holder exited
        assert hold_exclusively(handle) is True


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    holder = start_holder(path)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    with path.open("ab") as handle:
        assert hold_exclusively(handle) is True


def test_a_second_handle_in_the_same_process_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    with path.open("ab") as first, path.open("ab") as second:
        assert hold_exclusively(first) is True
        assert hold_exclusively(second) is False
    with path.open("ab") as again:
        assert hold_exclusively(again) is True

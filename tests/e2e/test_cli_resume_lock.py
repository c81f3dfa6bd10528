"""Two real ``gptoss-agent resume`` processes on one transcript: the second refuses with a
clear message while the first holds it, and the lock goes with the first, whether it
finishes or is killed (a crash)."""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import subprocess
import time
from pathlib import Path

from gptoss_agent.agent.transcript import TranscriptWriter, read_records
from tests.e2e.test_cli_lifecycle import blocked_in_its_tool, cli, run_blocked_in_its_tool

ANSWER = "The value is value-of-k1."
BUSY = ("is being written by another gptoss-agent process (a run or a resume of it); "
        "wait for it to end or stop it first")


def crashed_mid_call(folder: Path, name: str) -> Path:
    """A transcript whose run was SIGKILLed inside its (idempotent) lookup."""
    with run_blocked_in_its_tool(folder, name) as process:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    return folder / f"{name}.jsonl"


def resume_blocked_in_its_tool(transcript: Path
                               ) -> contextlib.AbstractContextManager[
                                   tuple[subprocess.Popen[str], Path]]:
    """``resume`` ``transcript``; yields once the re-run lookup blocks, with its release fifo."""
    return blocked_in_its_tool(transcript.parent, "resume", "resume", str(transcript),
                               "--quiet")


def release(hold: Path, timeout_s: float = 30.0) -> None:
    """Let the blocked lookup return: open its fifo for writing (once it reads) and close."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            os.close(os.open(hold, os.O_WRONLY | os.O_NONBLOCK))
            return
        except OSError as exc:  # ENXIO: the lookup has not opened its end yet
            if exc.errno != errno.ENXIO or time.monotonic() > deadline:
                raise
        time.sleep(0.01)


def assert_refused(transcript: Path) -> None:
    """A second ``resume`` now exits 2 naming the other process, and writes nothing."""
    before = transcript.read_bytes()
    refused = cli("resume", str(transcript), "--quiet", cwd=transcript.parent)
    assert refused.returncode == 2, (refused.stdout, refused.stderr)
    message = " ".join(refused.stderr.split())
    assert f"error: the transcript {transcript} {BUSY}" in message, refused.stderr
    assert "Traceback" not in refused.stderr
    assert refused.stdout == ""
    assert transcript.read_bytes() == before, "the refused resume wrote to the transcript"


def assert_finished_once(transcript: Path) -> None:
    records = read_records(transcript)
    assert [r["type"] for r in records[-2:]] == ["run_finished", "task_finished"]
    assert records[-2]["result"]["stop_reason"] == "final"
    assert sum(1 for r in records if r["type"] == "task_finished") == 1
    assert sum(1 for r in records if r["type"] == "segment" and r.get("final")) == 1
    segments = [r for r in records if r["type"] == "segment"]
    assert sum(1 for s in segments if s["kind"] == "tool") == 1


def test_a_second_resume_is_refused_until_the_first_finishes(tmp_path: Path) -> None:
    transcript = crashed_mid_call(tmp_path, "twice")
    with resume_blocked_in_its_tool(transcript) as (first, hold):
        assert_refused(transcript)
        assert_refused(transcript)  # refusing takes nothing: still refused, still clean
        assert first.poll() is None, "the first resume must go on undisturbed"
        release(hold)
        stdout, stderr = first.communicate(timeout=120)
    assert first.returncode == 0, stderr
    assert stdout.strip() == ANSWER
    assert_finished_once(transcript)
    # The lock went with the first resume: the file can be taken again, and resuming a
    # finished run is a plain "nothing to resume", not a refusal.
    TranscriptWriter(transcript).close()
    again = cli("resume", str(transcript), "--quiet", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "nothing to resume" in again.stderr and "another gptoss-agent" not in again.stderr


def test_a_resume_killed_mid_call_leaves_no_stale_lock(tmp_path: Path) -> None:
    transcript = crashed_mid_call(tmp_path, "crashed")
    with resume_blocked_in_its_tool(transcript) as (first, _):
        assert_refused(transcript)
        first.send_signal(signal.SIGKILL)  # a crash of the resume holding the lock
        first.wait(timeout=30)
    assert first.returncode == -signal.SIGKILL
    resumed = cli("resume", str(transcript), "--quiet", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.strip() == ANSWER
    assert "another gptoss-agent" not in resumed.stderr
    assert_finished_once(transcript)

"""The CLI as a user meets it: transcripts that survive SIGKILL, resume, show, export,
approval, batches and chat, each driven in a subprocess."""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from gptoss_agent.agent.transcript import (
    TranscriptError,
    TranscriptWriter,
    read_records,
    repair_torn_tail,
)
from tests.support import cli_command, run_cli

FIXTURES = Path(__file__).parent / "fixtures"
CALL = ('<|channel|>commentary to=functions.{name} <|constrain|>json<|message|>'
        '{args}<|call|>')
FINAL = "<|channel|>final<|message|>{text}<|return|>"


def cli(*args: str, stdin: str | None = None, env: dict[str, str] | None = None,
        cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, cwd=cwd, timeout=180, input=stdin, env=env)


def write_task(folder: Path, name: str, completions: list[str],
               extra: dict[str, object] | None = None) -> Path:
    task = {
        "name": name,
        "model": {"backend": "scripted", "completions": completions},
        "prompt": "do the thing",
        "tools": {"functions": [
            {"file": str(FIXTURES / "lifecycle_tools.py"), "function": "slow_lookup"},
            {"file": str(FIXTURES / "lifecycle_tools.py"), "function": "delete_file"},
        ]},
        "output": {"transcript": f"{name}.jsonl"},
        **(extra or {}),
    }
    path = folder / f"{name}.yaml"
    path.write_text(json.dumps(task))
    return path


def lookup_script(answer: str = "The value is value-of-k1.") -> list[str]:
    return [CALL.format(name="slow_lookup", args='{"key": "k1"}'), FINAL.format(text=answer)]


@contextlib.contextmanager
def blocked_in_its_tool(folder: Path, tag: str, *args: str
                        ) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    """Start ``gptoss-agent ARGS`` in ``folder`` with the lookup blocking on a fifo.

    Yields once the lookup has started, with the fifo that releases it (see
    ``release`` in test_cli_resume_lock.py); the process is killed if still running.
    """
    ready, hold = folder / f"{tag}-ready.fifo", folder / f"{tag}-hold.fifo"
    os.mkfifo(ready)
    os.mkfifo(hold)
    env = {**os.environ, "BLOCK_READY_FIFO": str(ready), "BLOCK_FOREVER_FIFO": str(hold)}
    reader = os.open(ready, os.O_RDONLY | os.O_NONBLOCK)
    process = subprocess.Popen(cli_command(*args), env=env, cwd=folder,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        readable, _, _ = select.select([reader], [], [], 120)
        if not readable:
            process.kill()
            _, stderr = process.communicate(timeout=30)
            pytest.fail(f"the lookup never started: {stderr}")
        assert os.read(reader, 100) == b"ready\n"
        yield process, hold
    finally:
        os.close(reader)
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)


@contextlib.contextmanager
def run_blocked_in_its_tool(folder: Path, name: str) -> Iterator[subprocess.Popen[str]]:
    """``run`` a task whose lookup blocks forever; yields once the tool has started."""
    task = write_task(folder, name, lookup_script())
    with blocked_in_its_tool(folder, "run", "run", str(task), "--quiet") as (process, _):
        yield process


def test_sigkill_mid_run_then_resume_loses_no_record(tmp_path: Path) -> None:
    with run_blocked_in_its_tool(tmp_path, "killed") as process:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    transcript = tmp_path / "killed.jsonl"
    before = read_records(transcript)
    kinds = [r["event"]["type"] for r in before if r["type"] == "event"]
    assert kinds[-1] == "tool_call" and "tool_result" not in kinds
    # Simulate the crash tearing a record mid-write, too.
    with transcript.open("ab") as handle:
        handle.write(b'{"type": "event", "event": {"type": "tool_res')

    resumed = cli("resume", str(transcript), "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.strip() == "The value is value-of-k1."
    assert "repaired a torn last record" in resumed.stderr
    after = read_records(transcript)
    assert after[: len(before)] == before, "every record written before the kill survives"
    new_events = [r["event"]["type"] for r in after[len(before):] if r["type"] == "event"]
    assert "tool_result" in new_events and "final" in new_events
    assert [r["type"] for r in after[-2:]] == ["run_finished", "task_finished"]
    assert after[-2]["result"]["stop_reason"] == "final"
    assert after[-1]["outcome"]["passed"] is True
    # The resumed conversation carries the call and its result exactly once.
    segments = [r for r in after if r["type"] == "segment"]
    assert sum(1 for s in segments if s["kind"] == "tool") == 1


def test_a_second_process_cannot_resume_a_transcript_in_use(tmp_path: Path) -> None:
    transcript = tmp_path / "busy.jsonl"
    with run_blocked_in_its_tool(tmp_path, "busy") as process:
        refused = cli("resume", str(transcript), "--quiet")  # the run still holds it
        assert refused.returncode == 2
        assert "being written by another gptoss-agent process" in refused.stderr
        assert "Traceback" not in refused.stderr
        process.send_signal(signal.SIGKILL)  # a crash releases the lock with the process
        process.wait(timeout=30)
    resumed = cli("resume", str(transcript), "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.strip() == "The value is value-of-k1."


def test_damage_in_the_middle_fails_loudly(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    writer = TranscriptWriter(path)
    writer.write({"type": "header", "version": 1, "session_id": "s", "created": "x"})
    writer.write({"type": "run_started", "prompt": "p"})
    writer.close()
    lines = path.read_bytes().split(b"\n")
    lines.insert(1, b'{"type": "eve')
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(TranscriptError, match=r"t.jsonl:2: damaged record in the middle"):
        read_records(path)
    with pytest.raises(TranscriptError, match="damaged record"):
        repair_torn_tail(path)
    completed = cli("show", str(path))
    assert completed.returncode == 2 and "damaged record in the middle" in completed.stderr


def test_torn_tail_is_repaired_on_open(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    writer = TranscriptWriter(path)
    writer.write({"type": "header", "version": 1, "session_id": "s", "created": "x"})
    writer.close()
    with path.open("ab") as handle:
        handle.write(b'{"type": "run_sta')
    assert len(read_records(path)) == 1  # reading ignores the torn tail
    reopened = TranscriptWriter(path)
    assert reopened.repair.removed_bytes == len(b'{"type": "run_sta')
    reopened.write({"type": "run_started", "prompt": "again"})
    reopened.close()
    assert [r["type"] for r in read_records(path)] == ["header", "run_started"]


def test_show_renders_a_transcript_like_the_live_view(tmp_path: Path) -> None:
    task = write_task(tmp_path, "shown", lookup_script())
    assert cli("run", str(task), "--quiet").returncode == 0
    shown = cli("show", str(tmp_path / "shown.jsonl"))
    assert shown.returncode == 0, shown.stderr
    for expected in ("do the thing", "→ functions.slow_lookup", "value-of-k1",
                     "The value is value-of-k1.", "run finished: final"):
        assert expected in shown.stdout


def test_export_writes_token_exact_training_examples(tmp_path: Path) -> None:
    from gptoss_agent.agent.harmony.codec import load_codec

    task = write_task(tmp_path, "exported", lookup_script())
    assert cli("run", str(task), "--quiet").returncode == 0
    out = tmp_path / "train.jsonl"
    exported = cli("export", str(tmp_path / "exported.jsonl"), "-o", str(out), "--with-text")
    assert exported.returncode == 0, exported.stderr
    examples = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(examples) == 1
    example = examples[0]
    codec = load_codec()
    assert codec.decode(example["tokens"]) == example["text"]
    assert example["text"].endswith(
        "<|start|>assistant<|channel|>final<|message|>The value is value-of-k1.<|return|>")
    assert "<|start|>functions.slow_lookup to=assistant" in example["text"]
    assert len(example["mask"]) == len(example["tokens"])
    # Only assistant tokens carry loss: the user's words do not.
    user_start = example["text"].index("do the thing")
    assert sum(example["mask"]) > 0
    masked_text = codec.decode([t for t, m in zip(example["tokens"], example["mask"],
                                                  strict=True) if m])
    assert "do the thing" not in masked_text and user_start > 0
    assert "The value is value-of-k1." in masked_text


@pytest.mark.parametrize(("answer", "deleted"), [("y\n", True), ("n\n", False)])
def test_approval_yes_and_no(tmp_path: Path, answer: str, deleted: bool) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("x")
    script = [CALL.format(name="delete_file", args=json.dumps({"path": str(victim)})),
              FINAL.format(text="finished")]
    task = write_task(tmp_path, "approve", script, extra={"approval": ["functions.delete_file"]})
    completed = cli("run", str(task), "--json", stdin=answer)
    assert completed.returncode == 0, completed.stderr
    assert "approval needed: functions.delete_file" in completed.stderr
    assert victim.exists() is not deleted
    events = [json.loads(line) for line in completed.stdout.splitlines()]
    result = next(e for e in events if e["type"] == "tool_result")
    if deleted:
        assert result["text"].startswith("deleted ") and not result["is_error"]
    else:
        assert result["is_error"] and "The user declined this call" in result["text"]


def test_batch_runs_tasks_concurrently_with_a_summary(tmp_path: Path) -> None:
    good = write_task(tmp_path, "good", lookup_script("ok"))
    also_good = write_task(tmp_path, "also_good", [FINAL.format(text="fine")])
    exhausted = write_task(tmp_path, "exhausted", lookup_script(),
                           extra={"budgets": {"max_generations": 1}})
    summary = tmp_path / "summary.json"
    completed = cli("run", str(good), str(also_good), str(exhausted), "--concurrency", "2",
                    "--summary", str(summary))
    assert completed.returncode == 1, completed.stderr  # the worst outcome: a budget
    assert "batch summary" in completed.stdout
    data = json.loads(summary.read_text())
    rows = {row["task"]: row for row in data["tasks"]}
    assert rows["good"]["outcome"] == "final" and rows["good"]["tool_calls"] == 1
    assert rows["also_good"]["final_text"] == "fine"
    assert rows["exhausted"]["outcome"] == "max_generations" and rows["exhausted"]["exit_code"] == 1
    assert (data["succeeded"], data["failed"]) == (2, 1)


def test_chat_takes_follow_up_messages(tmp_path: Path) -> None:
    script = [FINAL.format(text="Hello there."), FINAL.format(text="Still here.")]
    task = tmp_path / "chat.yaml"
    task.write_text(json.dumps({"model": {"backend": "scripted", "completions": script},
                                "output": {"transcript": "chat.jsonl"}}))
    completed = cli("chat", str(task), stdin="hi\nare you there?\n/exit\n")
    assert completed.returncode == 0, completed.stderr
    assert "Hello there." in completed.stdout and "Still here." in completed.stdout
    records = read_records(tmp_path / "chat.jsonl")
    prompts = [r["prompt"] for r in records if r["type"] == "run_started"]
    assert prompts == ["hi", "are you there?"]


CHAT_CHECK = """
def check(ctx):
    placed = (ctx.data_dir / "notes.txt").read_text()
    assert ctx.result.final_text == "Still here.", ctx.result.final_text
    return f"inputs placed ({placed.strip()}), last answer checked"
"""


def test_chat_lives_the_task_lifecycle(tmp_path: Path, needs_docker: None) -> None:
    """chat places the inputs, checks the last answer and writes the outputs."""
    (tmp_path / "notes.txt").write_text("seven\n")
    (tmp_path / "check.py").write_text(CHAT_CHECK)
    script = [FINAL.format(text="Hello there."), FINAL.format(text="Still here.")]
    task = tmp_path / "chat.yaml"
    task.write_text(json.dumps({
        "model": {"backend": "scripted", "completions": script},
        "inputs": ["notes.txt"], "tools": {"python": True}, "check": "check.py:check",
        "output": {"transcript": "chat.jsonl", "final": "answer.txt"}}))
    completed = cli("chat", str(task), stdin="hi\nare you there?\n/exit\n")
    assert completed.returncode == 0, completed.stderr
    assert "check passed: inputs placed (seven), last answer checked" in completed.stderr
    assert (tmp_path / "answer.txt").read_text() == "Still here.\n"
    finished = [r for r in read_records(tmp_path / "chat.jsonl") if r["type"] == "task_finished"]
    assert finished[0]["outcome"]["check"]["passed"] is True


def test_doctor_reports_vocabulary_and_model(tmp_path: Path) -> None:
    task = write_task(tmp_path, "doc", [FINAL.format(text="x")])
    completed = cli("doctor", str(task), "--skip-docker", "--skip-browser")
    assert completed.returncode == 0, completed.stdout
    assert "vocabulary" in completed.stdout and "scripted backend" in completed.stdout
    missing = tmp_path / "bad.yaml"
    missing.write_text("model: {backend: transformers, path: nowhere}\n")
    failed = cli("doctor", str(missing), "--skip-docker", "--skip-browser")
    assert failed.returncode == 4
    assert "holds no config.json" in failed.stdout


def test_resume_after_a_crash_past_the_answer_does_not_ask_again(tmp_path: Path) -> None:
    task = write_task(tmp_path, "answered", lookup_script("Answer one."))
    assert cli("run", str(task), "--quiet").returncode == 0
    transcript = tmp_path / "answered.jsonl"
    lines = transcript.read_bytes().splitlines(keepends=True)
    last_final = max(i for i, line in enumerate(lines) if b'"final":true' in line)
    transcript.write_bytes(b"".join(lines[: last_final + 1]))  # crash right after it
    resumed = cli("resume", str(transcript), "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.strip() == "Answer one."
    records = read_records(transcript)
    assert [r["type"] for r in records[-2:]] == ["run_finished", "task_finished"]
    assert sum(1 for r in records if r["type"] == "segment" and r.get("final")) == 1


def test_resume_of_a_missing_file_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "t.jsonl"
    completed = cli("resume", str(missing))
    assert completed.returncode == 2 and "cannot read" in completed.stderr
    assert not missing.parent.exists()


LOG_TOOL = '''
def read_log(part: int) -> str:
    """Read one part of the build log.

    Args:
        part: Which part.
    """
    return "\\n".join(f"part {part} line {n}: all tests passed so far" for n in range(12))
'''


def test_a_long_run_compacts_and_show_draws_it(tmp_path: Path) -> None:
    (tmp_path / "log_tool.py").write_text(LOG_TOOL)
    calls = [CALL.format(name="read_log", args=f'{{"part": {part}}}') for part in range(30)]
    task = {
        "name": "long", "prompt": "did anything fail?",
        "model": {"backend": "scripted", "context_window": 2500,
                  "completions": [*calls, FINAL.format(text="Nothing failed.")]},
        "tools": {"functions": [{"file": "log_tool.py", "function": "read_log"}]},
        "compaction": {"strategies": ["elide_tool_outputs"], "threshold": 0.8},
        "budgets": {"max_generations": 40},
        "output": {"transcript": "long.jsonl"},
    }
    path = tmp_path / "long.yaml"
    path.write_text(json.dumps(task))
    completed = cli("run", str(path), "--quiet")
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "Nothing failed."
    records = read_records(tmp_path / "long.jsonl")
    assert any(r["type"] == "compaction" for r in records)
    shown = cli("show", str(tmp_path / "long.jsonl"))
    assert shown.returncode == 0, shown.stderr
    assert "compacted (elide_tool_outputs)" in shown.stdout
    assert "2,500" in shown.stdout and "run finished: final" in shown.stdout
    # Live, the status line after each generation says how full the window is.
    live = cli("run", str(path), "--set", "output.transcript=live.jsonl")
    assert live.returncode == 0, live.stderr
    fills = re.findall(r"context\s+([\d,]+)/2,500\s+\((\d+)%\)", live.stdout)
    assert len(fills) == 31, live.stdout[-2000:]  # one per generation
    for used, percent in fills:
        assert 0 < int(used.replace(",", "")) <= 2500
        assert abs(int(used.replace(",", "")) / 2500 * 100 - int(percent)) <= 1

"""TaskRun.restore resumes only the transcript as it is once its writer holds it."""

from __future__ import annotations

from pathlib import Path

import pytest

from gptoss_agent.agent.task.build import TaskAgent, build_agent
from gptoss_agent.agent.task.lifecycle import TaskRun
from gptoss_agent.agent.task.load import load_task
from gptoss_agent.agent.task.settings import task_settings
from gptoss_agent.agent.transcript import TranscriptBusyError, TranscriptWriter, read_records

TASK = ('model:\n  backend: scripted\n'
        '  completions: ["<|channel|>final<|message|>ok<|return|>"]\n'
        "prompt: hi\noutput:\n  transcript: t.jsonl\n")


def scripted_task(folder: Path) -> TaskAgent:
    task_path = folder / "task.yaml"
    task_path.write_text(TASK)
    return build_agent(task_settings(load_task(task_path)))


def crashed_transcript(folder: Path) -> Path:
    """A transcript whose run started and never finished."""
    path = folder / "t.jsonl"
    writer = TranscriptWriter(path)
    writer.write_header("s1")
    writer.write({"type": "run_started", "prompt": "hi", "resumed": False})
    writer.close()
    return path


async def test_records_read_before_another_writer_went_on_are_refused(tmp_path: Path) -> None:
    task = scripted_task(tmp_path)
    path = crashed_transcript(tmp_path)
    stale = read_records(path)
    other = TranscriptWriter(path)  # the run was still going: it records its end
    other.write({"type": "run_finished", "result": {"stop_reason": "final"}})
    other.close()
    writer = TranscriptWriter(path)
    with pytest.raises(TranscriptBusyError, match="written to after it was read"):
        await TaskRun.restore(task, stale, writer)
    TranscriptWriter(path).close()  # the refused resume let go of its lock


async def test_records_still_whole_are_resumed(tmp_path: Path) -> None:
    task = scripted_task(tmp_path)
    path = crashed_transcript(tmp_path)
    records = read_records(path)
    async with await TaskRun.restore(task, records, TranscriptWriter(path)) as run:
        result = await run.resume(records)
    assert result.final_text == "ok"

"""``gptoss-agent resume TRANSCRIPT``: continue a crashed run from its last complete record.

The transcript's header records the task; it is rebuilt, the session restored token for
token (stateful tools included) and the run continued through the task lifecycle, so the
check and outputs happen as in ``run``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from gptoss_agent.agent.cli.common import (
    CommandFailed,
    build_task,
    fail,
    make_sink,
    print_error,
    run_command,
)
from gptoss_agent.agent.cli.exit_codes import EXIT_CONFIG, EXIT_OK
from gptoss_agent.agent.cli.run import add_output_arguments, report
from gptoss_agent.agent.task.lifecycle import TaskOutcome, TaskRun
from gptoss_agent.agent.task.load import recorded_task
from gptoss_agent.agent.task.settings import task_settings
from gptoss_agent.agent.transcript import (
    TranscriptError,
    TranscriptWriter,
    read_records,
    replay_conversation,
)


def add_resume_command(commands: argparse._SubParsersAction) -> None:
    """Register ``resume``."""
    resume = commands.add_parser("resume", help="continue a crashed run from its transcript")
    resume.add_argument("transcript", type=Path)
    add_output_arguments(resume)
    resume.set_defaults(handler=cmd_resume)


def cmd_resume(args: argparse.Namespace) -> int:
    """``gptoss-agent resume TRANSCRIPT``."""
    err = Console(stderr=True)
    try:
        # Read first, so a wrong path creates nothing; the writer's repair then cuts
        # only a torn tail, which reading already ignored.
        records = read_records(args.transcript)
    except TranscriptError as exc:
        print_error(err, str(exc))
        return EXIT_CONFIG
    header = records[0]
    if not header.get("task") or not header.get("task_path"):
        print_error(err, f"{args.transcript}: the transcript records no task to resume")
        return EXIT_CONFIG
    if replay_conversation(records).finished:
        err.print("the transcript's last run already finished; nothing to resume")
        return EXIT_OK
    try:
        settings = task_settings(recorded_task(Path(header["task_path"]), header["task"]))
        task = build_task(settings, err, args.yes)
    except CommandFailed as failed:
        return failed.code
    except Exception as exc:
        return fail(err, exc).code
    try:
        writer = TranscriptWriter(args.transcript)
    except TranscriptError as exc:
        print_error(err, str(exc))
        return EXIT_CONFIG
    if writer.repair.removed_bytes:
        err.print(f"repaired a torn last record ({writer.repair.removed_bytes} bytes cut)",
                  style="yellow")
    sink = make_sink(args, Console())

    async def go() -> TaskOutcome:
        async with await TaskRun.restore(task, records, writer) as run:
            return await run.finish(await run.resume(records, sink))

    try:
        outcome = run_command(task, go, err)
    except CommandFailed as failed:
        return failed.code
    return report(outcome, args, err)

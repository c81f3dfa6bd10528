"""``gptoss-agent run``: one task with the live view (or JSON events, or only the answer).

Several task files make a batch (:mod:`.batch`). Every run records a crash-safe
transcript that ``gptoss-agent resume`` (:mod:`.resume`) continues.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console

from gptoss_agent.agent.cli.common import (
    CommandFailed,
    build_task,
    load_settings,
    make_sink,
    print_check,
    print_error,
    run_command,
)
from gptoss_agent.agent.cli.exit_codes import EXIT_CONFIG, task_exit_code
from gptoss_agent.agent.task.lifecycle import TaskOutcome, run_task


def add_run_arguments(run: argparse.ArgumentParser) -> None:
    """The options of ``run``."""
    run.add_argument("tasks", type=Path, nargs="+", help="task file(s) (YAML)")
    run.add_argument("--set", dest="overrides", action="append", default=[],
                     metavar="KEY=VALUE", help="override a key of the task file (repeatable)")
    add_output_arguments(run)
    run.add_argument("--concurrency", type=int, default=1, metavar="N",
                     help="tasks run at once in a batch (default 1)")
    run.add_argument("--summary", type=Path, default=None,
                     help="batch summary JSON path (default runs/summary-<time>.json)")


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    """How a run is shown, and who approves calls (``run`` and ``resume``)."""
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="one JSON event per line")
    output.add_argument("--quiet", action="store_true", help="print only the final answer")
    parser.add_argument("--hide-reasoning", action="store_true", help="do not show analysis")
    parser.add_argument("--yes", action="store_true",
                        help="approve every call that needs approval (non-interactive)")


def cmd_run(args: argparse.Namespace) -> int:
    """``gptoss-agent run``."""
    err = Console(stderr=True)
    if args.concurrency < 1:
        print_error(err, "--concurrency must be at least 1")
        return EXIT_CONFIG
    try:
        tasks = [load_settings(path, args.overrides, err) for path in args.tasks]
        if len(tasks) > 1:
            from gptoss_agent.agent.cli.batch import run_batch

            return run_batch(tasks, args, err)
        task = build_task(tasks[0], err, args.yes)
        sink = make_sink(args, Console())
        outcome = run_command(task, lambda: run_task(task, sink), err)
    except CommandFailed as failed:
        return failed.code
    return report(outcome, args, err)


def report(outcome: TaskOutcome, args: argparse.Namespace, err: Console) -> int:
    """Print how a task ended and return its exit code.

    The answer with ``--quiet``, a JSON line with ``--json``; the stop reason, the
    transcript and the check otherwise.
    """
    result = outcome.result
    code = task_exit_code(outcome)
    if args.quiet and result.final_text is not None:
        print(result.final_text)
    if args.json:
        line = {"type": "task_finished", "exit_code": code, **outcome.to_dict()}
        print(json.dumps(line, ensure_ascii=False), flush=True)
    if not result.ok:
        detail = f" ({result.error})" if result.error else ""
        err.print(f"stopped: {result.stop_reason.value}{detail}", highlight=False,
                  soft_wrap=True)
    if not args.json and not args.quiet:
        err.print(f"transcript: {outcome.transcript}", style="dim", highlight=False,
                  soft_wrap=True)
    print_check(err, outcome.check)
    return code

"""Batch runs: several task files at once, with a progress bar and a summary.

The summary is a table and a JSON file. Tasks that name the same model share its backend
(:mod:`~gptoss_agent.agent.task.shared`); one task's failure is its row, not the batch's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from gptoss_agent.agent.approval import Approver
from gptoss_agent.agent.cli.common import print_error, terminal_approver
from gptoss_agent.agent.cli.exit_codes import (
    EXIT_CONFIG,
    EXIT_INFRA,
    EXIT_INTERRUPTED,
    EXIT_OK,
    exit_code_for_error,
    task_exit_code,
)
from gptoss_agent.agent.task.build import build_backend
from gptoss_agent.agent.task.lifecycle import TaskOutcome, run_shared_task
from gptoss_agent.agent.task.settings import TaskSettings
from gptoss_agent.agent.task.shared import SharedBackends


@dataclass(frozen=True)
class BatchRow:
    """One task's line in the batch summary."""

    task: str
    path: str
    outcome: str
    exit_code: int
    generations: int
    tokens: int
    tool_calls: int
    errors: int
    seconds: float
    transcript: str | None
    final_text: str | None
    error: str | None


def run_batch(tasks: list[TaskSettings], args: argparse.Namespace, err: Console) -> int:
    """Run ``tasks`` concurrently; print the summary and write it as JSON."""
    rows: list[BatchRow] = []
    models = SharedBackends(build_backend, tasks, sessions=args.concurrency)
    approver = terminal_approver(err, args.yes)

    async def one(task: TaskSettings, progress: Progress, bar: Any,
                  limit: asyncio.Semaphore) -> None:
        async with limit:
            try:
                rows.append(await _attempt(task, models, approver, time.monotonic()))
            finally:
                await models.done(task)  # the last task on a model closes it
                progress.advance(bar)

    async def go() -> None:
        limit = asyncio.Semaphore(args.concurrency)
        try:
            with Progress(TextColumn("[bold]tasks"), BarColumn(), MofNCompleteColumn(),
                          TimeElapsedColumn(), console=err, transient=False) as progress:
                bar = progress.add_task("tasks", total=len(tasks))
                await asyncio.gather(*(one(task, progress, bar, limit) for task in tasks))
        finally:
            await models.aclose()

    try:
        asyncio.run(go())
    except KeyboardInterrupt:
        print_error(err, "interrupted")
        return EXIT_INTERRUPTED
    order = {str(task.path): index for index, task in enumerate(tasks)}
    rows.sort(key=lambda row: order.get(row.path, 0))
    _print_table(rows)
    _write_summary(rows, args.summary, err)
    return max((row.exit_code for row in rows), default=EXIT_OK)


async def _attempt(task: TaskSettings, models: SharedBackends, approver: Approver,
                   started: float) -> BatchRow:
    """One task of the batch, whatever happens to it, as its row."""
    try:
        return _row(task, await run_shared_task(task, models, approver), started)
    except Exception as exc:  # one task's failure must not stop the others
        return _error_row(task, exc, started)


def _row(task: TaskSettings, outcome: TaskOutcome, started: float) -> BatchRow:
    result = outcome.result
    failed_check = outcome.check is not None and not outcome.check.passed
    name = "check_failed" if result.ok and failed_check else result.stop_reason.value
    return BatchRow(
        task=task.name, path=str(task.path), outcome=name,
        exit_code=task_exit_code(outcome), generations=result.usage.generations,
        tokens=result.usage.sampled_tokens, tool_calls=result.tool_calls,
        errors=len(result.model_errors) + result.tool_errors,
        seconds=round(time.monotonic() - started, 3), transcript=str(outcome.transcript),
        final_text=result.final_text, error=result.error)


def _error_row(task: TaskSettings, error: Exception, started: float) -> BatchRow:
    code = exit_code_for_error(error) or EXIT_INFRA
    detail = str(error) if code == EXIT_CONFIG else f"{type(error).__name__}: {error}"
    return _failed_row(task, code, detail, started)


def _failed_row(task: TaskSettings, code: int, error: str, started: float) -> BatchRow:
    outcome = "bad_config" if code == EXIT_CONFIG else "infrastructure"
    return BatchRow(task=task.name, path=str(task.path), outcome=outcome, exit_code=code,
                    generations=0, tokens=0, tool_calls=0, errors=0,
                    seconds=round(time.monotonic() - started, 3), transcript=None,
                    final_text=None, error=error)


def _print_table(rows: list[BatchRow]) -> None:
    table = Table(title="batch summary")
    columns = ("task", "outcome", "generations", "tokens", "tool calls", "errors", "seconds")
    for column in columns:
        table.add_column(column, justify="left" if column in ("task", "outcome") else "right")
    for row in rows:
        style = "green" if row.exit_code == EXIT_OK else "red"
        table.add_row(row.task, Text(row.outcome, style=style), str(row.generations),
                      str(row.tokens), str(row.tool_calls), str(row.errors),
                      f"{row.seconds:.2f}")
    Console().print(table)


def _write_summary(rows: list[BatchRow], path: Path | None, err: Console) -> None:
    summary_path = path or Path("runs") / f"summary-{time.strftime('%Y%m%d-%H%M%S')}.json"
    summary_path.parent.mkdir(parents=True, exist_ok=True)
    summary = {"tasks": [asdict(row) for row in rows],
               "succeeded": sum(row.exit_code == EXIT_OK for row in rows),
               "failed": sum(row.exit_code != EXIT_OK for row in rows)}
    summary_path.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    err.print(f"summary: {summary_path}", style="dim", highlight=False, soft_wrap=True)

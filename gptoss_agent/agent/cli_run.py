"""``gptoss-agent run`` (one task or a batch) and ``gptoss-agent resume``.

One task draws the live view (or JSON events, or only the answer). Several tasks run
concurrently with a progress bar and end with a summary table, also written as JSON.
Every run records a crash-safe transcript; ``resume`` continues one from its last
complete record.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from gptoss_agent.agent.agent import Agent, AgentSession
from gptoss_agent.agent.approval import ApprovalPolicy
from gptoss_agent.agent.backend import ModelBackend
from gptoss_agent.agent.backends.errors import BackendError
from gptoss_agent.agent.event_json import event_to_dict
from gptoss_agent.agent.events import Event
from gptoss_agent.agent.exit_codes import (
    EXIT_CHECK,
    EXIT_CONFIG,
    EXIT_INFRA,
    EXIT_INTERRUPTED,
    EXIT_OK,
    exit_code_for,
)
from gptoss_agent.agent.result import RunResult
from gptoss_agent.agent.scripted import ScriptedBackend
from gptoss_agent.agent.taskfile import TaskFile, TaskFileError, load_task
from gptoss_agent.agent.transcript import TranscriptError, TranscriptWriter, read_records
from gptoss_agent.agent.vocab import VocabularyError
from gptoss_agent.tools.base import ToolCall
from gptoss_agent.tools.errors import ToolError

INFRA_ERRORS = (OSError, RuntimeError, VocabularyError, ToolError, BackendError)
"""Errors that mean the machine, not the task, is at fault (exit code 4)."""


def print_error(console: Console, message: str) -> None:
    """One error line on ``console``, never wrapped or marked up."""
    console.print(Text.assemble(("error: ", "bold red"), message), soft_wrap=True)


def add_run_arguments(run: argparse.ArgumentParser) -> None:
    """The options of ``run``."""
    run.add_argument("tasks", type=Path, nargs="+", help="task file(s) (YAML)")
    run.add_argument("--set", dest="overrides", action="append", default=[],
                     metavar="KEY=VALUE", help="override a key of the task file (repeatable)")
    output = run.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="one JSON event per line")
    output.add_argument("--quiet", action="store_true", help="print only the final answer")
    run.add_argument("--hide-reasoning", action="store_true", help="do not show analysis")
    run.add_argument("--concurrency", type=int, default=1, metavar="N",
                     help="tasks run at once in a batch (default 1)")
    run.add_argument("--summary", type=Path, default=None,
                     help="batch summary JSON path (default runs/summary-<time>.json)")
    run.add_argument("--yes", action="store_true",
                     help="approve every call that needs approval (non-interactive)")


def transcript_path_for(task: TaskFile, session_id: str) -> Path:
    """Where a run's transcript goes: the task's ``output.transcript`` or ``runs/``."""
    explicit = task.data.get("output", {}).get("transcript")
    if explicit:
        return task.resolve(explicit)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{task.name}-{stamp}-{session_id}.jsonl"


def terminal_approver(err: Console, auto_yes: bool) -> Callable[[ToolCall], Any]:
    """Asks at the terminal (on stderr; the answer from stdin). EOF means no. One question
    at a time for the whole process, so concurrent tasks never take each other's answers."""

    async def approve(call: ToolCall) -> bool:
        if auto_yes:
            return True
        async with _approval_lock():
            preview = call.arguments if len(call.arguments) < 400 else call.arguments[:400] + "…"
            err.print(Text.assemble(("approval needed: ", "bold yellow"), call.recipient,
                                    "\n", preview), soft_wrap=True)
            err.print("allow this call? [y/N] ", end="")
            try:
                answer = await asyncio.to_thread(sys.stdin.readline)
            except (OSError, ValueError):
                answer = ""
            allowed = answer.strip().lower() in ("y", "yes")
            err.print("allowed" if allowed else "declined", style="dim")
            return allowed

    return approve


_APPROVAL_LOCKS: dict[int, asyncio.Lock] = {}


def _approval_lock() -> asyncio.Lock:
    """The process's one approval lock for the running event loop."""
    key = id(asyncio.get_running_loop())
    lock = _APPROVAL_LOCKS.get(key)
    if lock is None:
        lock = _APPROVAL_LOCKS[key] = asyncio.Lock()
    return lock


def make_sink(args: argparse.Namespace, console: Console) -> Callable[[Event], None]:
    """How events are shown for one interactive run."""
    if args.json:
        def write_json(event: Event) -> None:
            sys.stdout.write(json.dumps(event_to_dict(event), ensure_ascii=False) + "\n")
            sys.stdout.flush()
        return write_json
    if args.quiet:
        return lambda event: None
    from gptoss_agent.agent.view import TerminalView

    return TerminalView(console, show_reasoning=not args.hide_reasoning)


def build_for(task: TaskFile, err: Console, auto_yes: bool,
              backend: ModelBackend | None = None) -> Agent:
    """The task's agent, with the terminal approver when it lists calls to approve (on
    ``backend`` if given, else on the backend the task names)."""
    from gptoss_agent.agent.factory import build_agent

    approval = ApprovalPolicy.of(task.data.get("approval", []), terminal_approver(err, auto_yes))
    return build_agent(task, backend=backend, approval=approval)


def build_or_exit_code(task: TaskFile, err: Console, auto_yes: bool) -> Agent | int:
    """:func:`build_for`, or the exit code after printing why the agent cannot be built
    (a bad task is a config error, a machine problem an infrastructure error)."""
    try:
        return build_for(task, err, auto_yes)
    except TaskFileError as exc:
        print_error(err, str(exc))
        return EXIT_CONFIG
    except (ValueError, TypeError) as exc:
        print_error(err, f"{task.path}: {exc}")
        return EXIT_CONFIG
    except INFRA_ERRORS as exc:
        print_error(err, f"cannot start: {exc}")
        return EXIT_INFRA


def write_final(task: TaskFile, result: RunResult) -> None:
    """Write the answer where ``output.final`` says."""
    final_path = task.data.get("output", {}).get("final")
    if final_path and result.final_text is not None:
        target = task.resolve(final_path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(result.final_text + "\n", encoding="utf-8")


async def run_one(task: TaskFile, agent: Agent, sink: Callable[[Event], None],
                  session_id: str | None = None) -> tuple[RunResult, Path]:
    """Run a task's prompt in a new, recorded session."""
    from gptoss_agent.agent.factory import place_inputs

    sid = session_id or uuid.uuid4().hex[:12]
    path = transcript_path_for(task, sid)
    writer = TranscriptWriter(path)
    session = agent.session(sid, transcript=writer, task_path=str(task.path),
                            task_data=task.data)
    try:
        await place_inputs(task, agent, sid)
        result = await session.send(task.data["prompt"], on_event=sink)
        await finish_task(task, agent, sid, result, writer)
    finally:
        await session.aclose()
    write_final(task, result)
    return result, path


async def finish_task(task: TaskFile, agent: Agent, session_id: str, result: RunResult,
                      writer: TranscriptWriter | None) -> None:
    """After the run, before the session closes: the success check, the coding diff,
    and applying the changes back; their outcomes go into ``result.extras``."""
    from gptoss_agent.agent.checks import CheckContext, run_check
    from gptoss_agent.agent.factory import load_check

    toolkit = agent.resources.get("coding")
    python = agent.resources.get("python")
    check = load_check(task)
    if check is not None:
        data_dir = python.data_dir(session_id) if python is not None else None
        outcome = await run_check(check, CheckContext(result, session_id, data_dir, toolkit))
        result.extras["check"] = {"passed": outcome.passed, "detail": outcome.detail}
    coding = task.data.get("tools", {}).get("coding") or {}
    if toolkit is not None:
        diff = toolkit.diff(session_id)
        result.extras["diff_lines"] = len(diff.splitlines())
        if coding.get("diff"):
            target = task.resolve(coding["diff"])
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(diff, encoding="utf-8")
            result.extras["diff"] = str(target)
        passed = result.extras.get("check", {}).get("passed", True)
        if coding.get("apply_back") and result.ok and passed:
            result.extras["applied_back"] = toolkit.apply_back(session_id)
    if writer is not None and result.extras:
        writer.write({"type": "task_finished", "extras": result.extras})


def cmd_run(args: argparse.Namespace) -> int:
    """``gptoss-agent run``."""
    err = Console(stderr=True)
    if args.concurrency < 1:
        print_error(err, "--concurrency must be at least 1")
        return EXIT_CONFIG
    tasks: list[TaskFile] = []
    for path in args.tasks:
        try:
            tasks.append(load_task(path, args.overrides))
        except TaskFileError as exc:
            print_error(err, str(exc))
            return EXIT_CONFIG
    if len(tasks) > 1:
        return run_batch(tasks, args, err)
    task = tasks[0]
    agent = build_or_exit_code(task, err, args.yes)
    if isinstance(agent, int):
        return agent
    console = Console()
    sink = make_sink(args, console)

    async def go() -> tuple[RunResult, Path]:
        try:
            return await run_one(task, agent, sink)
        finally:
            await agent.aclose()
            await agent.model.aclose()

    try:
        result, transcript = asyncio.run(go())
    except KeyboardInterrupt:
        print_error(err, "interrupted")
        return EXIT_INTERRUPTED
    except TaskFileError as exc:
        print_error(err, str(exc))
        return EXIT_CONFIG
    except INFRA_ERRORS as exc:
        print_error(err, f"infrastructure failure: {exc}")
        return EXIT_INFRA
    if args.quiet and result.final_text is not None:
        print(result.final_text)
    if args.json:
        line = {"type": "task_finished", "exit_code": task_exit_code(result),
                "transcript": str(transcript), "extras": result.extras}
        print(json.dumps(line, ensure_ascii=False), flush=True)
    if not result.ok:
        detail = f" ({result.error})" if result.error else ""
        err.print(f"stopped: {result.stop_reason.value}{detail}", highlight=False,
                  soft_wrap=True)
    if not args.json and not args.quiet:
        err.print(f"transcript: {transcript}", style="dim", highlight=False, soft_wrap=True)
    check = result.extras.get("check")
    if check is not None:
        style = "green" if check["passed"] else "bold red"
        err.print(Text(f"check {'passed' if check['passed'] else 'FAILED'}: {check['detail']}",
                       style=style), soft_wrap=True)
    return task_exit_code(result)


def task_exit_code(result: RunResult) -> int:
    """The run's exit code, or ``EXIT_CHECK`` when it answered but its check failed."""
    code = exit_code_for(result)
    if code == EXIT_OK and not result.extras.get("check", {}).get("passed", True):
        return EXIT_CHECK
    return code


@dataclass(frozen=True)
class BatchRow:
    """One task's line in the batch summary."""

    task: str
    path: str
    outcome: str
    exit_code: int
    turns: int
    tokens: int
    tool_calls: int
    errors: int
    seconds: float
    transcript: str | None
    final_text: str | None
    error: str | None


def run_batch(tasks: list[TaskFile], args: argparse.Namespace, err: Console) -> int:
    """Run several tasks concurrently; progress bar, summary table and JSON. Tasks that
    name the same model share its backend (:mod:`~gptoss_agent.agent.shared_backends`)."""
    from gptoss_agent.agent.factory import build_backend
    from gptoss_agent.agent.shared_backends import SharedBackends

    rows: list[BatchRow] = []
    models = SharedBackends(build_backend, tasks, sessions=args.concurrency)

    async def attempt(task: TaskFile, started: float) -> BatchRow:
        try:
            shared = await models.get(task)
            agent = build_for(task, err, args.yes, backend=shared)
        except (TaskFileError, ValueError, TypeError) as exc:
            return _failed_row(task, "bad_config", EXIT_CONFIG, str(exc), started)
        except INFRA_ERRORS as exc:
            return _failed_row(task, "infrastructure", EXIT_INFRA, str(exc), started)
        try:
            result, transcript = await run_one(task, agent, lambda event: None)
            return BatchRow(
                task=task.name, path=str(task.path), outcome=_outcome(result),
                exit_code=task_exit_code(result), turns=result.usage.generations,
                tokens=result.usage.sampled_tokens, tool_calls=result.tool_calls,
                errors=len(result.model_errors) + result.tool_errors,
                seconds=round(time.monotonic() - started, 3), transcript=str(transcript),
                final_text=result.final_text, error=result.error,
            )
        except TaskFileError as exc:  # e.g. an input file that is not there
            return _failed_row(task, "bad_config", EXIT_CONFIG, str(exc), started)
        except Exception as exc:  # one task's failure must not stop the others
            return _failed_row(task, "infrastructure", EXIT_INFRA,
                               f"{type(exc).__name__}: {exc}", started)
        finally:
            await agent.aclose()
            if shared is None:
                await agent.model.aclose()

    async def one(task: TaskFile, progress: Progress, bar: Any,
                  limit: asyncio.Semaphore) -> None:
        async with limit:
            try:
                rows.append(await attempt(task, time.monotonic()))
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
    table = Table(title="batch summary")
    for column in ("task", "outcome", "turns", "tokens", "tool calls", "errors", "seconds"):
        table.add_column(column, justify="left" if column in ("task", "outcome") else "right")
    for row in rows:
        style = "green" if row.exit_code == EXIT_OK else "red"
        table.add_row(row.task, Text(row.outcome, style=style), str(row.turns), str(row.tokens),
                      str(row.tool_calls), str(row.errors), f"{row.seconds:.2f}")
    Console().print(table)
    summary_path = args.summary or Path("runs") / f"summary-{time.strftime('%Y%m%d-%H%M%S')}.json"
    summary_path.parent.mkdir(parents=True, exist_ok=True)
    summary = {"tasks": [row.__dict__ for row in rows],
               "succeeded": sum(row.exit_code == EXIT_OK for row in rows),
               "failed": sum(row.exit_code != EXIT_OK for row in rows)}
    summary_path.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    err.print(f"summary: {summary_path}", style="dim", highlight=False, soft_wrap=True)
    return max((row.exit_code for row in rows), default=EXIT_OK)


def _outcome(result: RunResult) -> str:
    check = result.extras.get("check")
    if result.ok and check is not None and not check["passed"]:
        return "check_failed"
    return result.stop_reason.value


def _failed_row(task: TaskFile, outcome: str, code: int, error: str, started: float
                ) -> BatchRow:
    return BatchRow(task=task.name, path=str(task.path), outcome=outcome, exit_code=code,
                    turns=0, tokens=0, tool_calls=0, errors=0,
                    seconds=round(time.monotonic() - started, 3), transcript=None,
                    final_text=None, error=error)


def cmd_resume(args: argparse.Namespace) -> int:
    """``gptoss-agent resume TRANSCRIPT``."""
    err = Console(stderr=True)
    try:
        # Read first, so a wrong path creates nothing; the writer's repair then cuts
        # only a torn tail, which reading already ignored.
        records = read_records(args.transcript)
        writer = TranscriptWriter(args.transcript)
    except TranscriptError as exc:
        print_error(err, str(exc))
        return EXIT_CONFIG
    if writer.repair.removed_bytes:
        err.print(f"repaired a torn last record ({writer.repair.removed_bytes} bytes cut)",
                  style="yellow")
    header = records[0]
    if not header.get("task") or not header.get("task_path"):
        print_error(err, f"{args.transcript}: the transcript records no task to resume")
        return EXIT_CONFIG
    task = TaskFile(path=Path(header["task_path"]), data=header["task"])
    agent = build_or_exit_code(task, err, args.yes)
    if isinstance(agent, int):
        return agent
    session: AgentSession = agent.restore_session(records, writer)
    if isinstance(agent.model, ScriptedBackend):
        # A scripted model must not replay what the crashed run already generated.
        done = sum(1 for r in records if r["type"] == "event" and r["event"]["type"] == "usage")
        agent.model.skip(done)
    from gptoss_agent.agent.transcript import replay_conversation

    replayed = replay_conversation(records)
    if replayed.finished:
        err.print("the transcript's last run already finished; nothing to resume")
        writer.close()
        return EXIT_OK
    sink = make_sink(args, Console())

    async def go() -> RunResult:
        try:
            if not replayed.prompt_recorded and replayed.last_prompt is not None:
                result = await session.send(replayed.last_prompt, on_event=sink)
            else:
                result = await session.resume(on_event=sink)
            await finish_task(task, agent, session.session_id, result, writer)
            return result
        finally:
            await session.aclose()
            await agent.aclose()
            await agent.model.aclose()

    try:
        result = asyncio.run(go())
    except KeyboardInterrupt:
        print_error(err, "interrupted")
        return EXIT_INTERRUPTED
    if args.quiet and result.final_text is not None:
        print(result.final_text)
    write_final(task, result)
    return task_exit_code(result)

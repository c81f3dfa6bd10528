"""What the task commands share: error lines, event sinks and the terminal approver.

Also loading and building a task, failing with the exit code for what went wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from rich.console import Console
from rich.text import Text

from gptoss_agent.agent.backends.base import ModelBackend
from gptoss_agent.agent.cli.exit_codes import EXIT_INFRA, EXIT_INTERRUPTED, exit_code_for_error
from gptoss_agent.agent.event_json import event_to_dict
from gptoss_agent.agent.events import Event
from gptoss_agent.agent.task.build import TaskAgent, build_agent
from gptoss_agent.agent.task.checks import CheckOutcome
from gptoss_agent.agent.task.load import load_task
from gptoss_agent.agent.task.settings import TaskSettings, task_settings
from gptoss_agent.tools.base import ToolCall

T = TypeVar("T")


class CommandFailed(Exception):
    """A command cannot go on; :attr:`code` is its exit code (the reason is printed)."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def print_error(console: Console, message: str) -> None:
    """One error line on ``console``, never wrapped or marked up."""
    console.print(Text.assemble(("error: ", "bold red"), message), soft_wrap=True)


def fail(err: Console, error: BaseException, infra_prefix: str = "") -> CommandFailed:
    """Print ``error`` and give the failure for its exit code; re-raises a bug.

    ``infra_prefix`` starts the line of an infrastructure failure (a configuration
    error names its file and line itself).
    """
    code = exit_code_for_error(error)
    if code is None:
        raise error
    print_error(err, f"{infra_prefix if code == EXIT_INFRA else ''}{error}")
    return CommandFailed(code)


def load_settings(path: Path, overrides: list[str], err: Console,
                  require_prompt: bool = True) -> TaskSettings:
    """Load and type a task file, or fail with its line-precise error."""
    try:
        return task_settings(load_task(path, overrides, require_prompt=require_prompt))
    except Exception as exc:
        raise fail(err, exc) from exc


def build_task(settings: TaskSettings, err: Console, auto_yes: bool,
               backend: ModelBackend | None = None) -> TaskAgent:
    """The task's agent with the terminal approver, or fail saying why it cannot start."""
    try:
        return build_agent(settings, backend, terminal_approver(err, auto_yes))
    except KeyboardInterrupt:  # Ctrl-C while a checkpoint loads
        print_error(err, "interrupted")
        raise CommandFailed(EXIT_INTERRUPTED) from None
    except Exception as exc:
        raise fail(err, exc, "cannot start: ") from exc


def print_check(err: Console, check: CheckOutcome | None) -> None:
    """The task's check verdict, one line, when it has a check."""
    if check is not None:
        err.print(Text(f"check {'passed' if check.passed else 'FAILED'}: {check.detail}",
                       style="green" if check.passed else "bold red"), soft_wrap=True)


def run_command(task: TaskAgent, work: Callable[[], Awaitable[T]], err: Console,
                on_interrupt: Callable[[], None] | None = None) -> T:
    """Run ``work`` on a new event loop, then close the task's tools and backend.

    Raises:
        CommandFailed: Ctrl-C (after ``on_interrupt``, by default an "interrupted"
            line), or an error of one of the roots, printed with its exit code.
    """
    async def go() -> T:
        try:
            return await work()
        finally:
            await task.aclose()

    try:
        return asyncio.run(go())
    except KeyboardInterrupt:
        (on_interrupt or (lambda: print_error(err, "interrupted")))()
        raise CommandFailed(EXIT_INTERRUPTED) from None
    except Exception as exc:
        raise fail(err, exc, "infrastructure failure: ") from exc


def make_sink(args: argparse.Namespace, console: Console) -> Callable[[Event], None]:
    """How events are shown for one interactive run (JSON lines, nothing, or the view)."""
    if args.json:
        def write_json(event: Event) -> None:
            sys.stdout.write(json.dumps(event_to_dict(event), ensure_ascii=False) + "\n")
            sys.stdout.flush()
        return write_json
    if args.quiet:
        return lambda event: None
    from gptoss_agent.agent.cli.view import TerminalView

    return TerminalView(console, show_reasoning=not args.hide_reasoning)


def terminal_approver(err: Console, auto_yes: bool) -> Callable[[ToolCall], Any]:
    """Asks at the terminal (on stderr; the answer from stdin). EOF means no.

    One question at a time for the whole process, so concurrent tasks never take each
    other's answers.
    """

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

"""``gptoss-agent chat``: an interactive multi-turn session with the task's tools.

Each line typed is a user message; the answer is drawn with the live view. ``/exit``
or end of input ends the session. The session lives through the task lifecycle like a
run: inputs are placed first, the task's prompt (if any) is the first message, and at
the end the check runs on the last answer and the outputs are written.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from rich.console import Console
from rich.text import Text

from gptoss_agent.agent.cli.common import (
    CommandFailed,
    build_task,
    load_settings,
    print_check,
    run_command,
)
from gptoss_agent.agent.cli.exit_codes import EXIT_OK, task_exit_code
from gptoss_agent.agent.cli.view import TerminalView
from gptoss_agent.agent.result import RunResult
from gptoss_agent.agent.task.lifecycle import TaskOutcome, TaskRun


def add_chat_command(commands: argparse._SubParsersAction) -> None:
    """Register ``chat``."""
    chat = commands.add_parser("chat", help="interactive multi-turn session")
    chat.add_argument("task", type=Path, help="task file: model, tools, instructions")
    chat.add_argument("--set", dest="overrides", action="append", default=[],
                      metavar="KEY=VALUE")
    chat.add_argument("--hide-reasoning", action="store_true")
    chat.add_argument("--yes", action="store_true", help="approve every call")
    chat.set_defaults(handler=cmd_chat)


async def _converse(run: TaskRun, view: TerminalView, console: Console, err: Console,
                    first: str | None) -> RunResult | None:
    """Send the first prompt, then each line read, until ``/exit`` or end of input."""
    last: RunResult | None = None
    if first:
        console.print(Text.assemble(("you> ", "bold magenta"), first))
        last = await run.send(first, view)
    while True:
        console.print(Text("you> ", style="bold magenta"), end="")
        line = await asyncio.to_thread(sys.stdin.readline)
        if not line:
            console.print()
            return last
        text = line.strip()
        if text in ("/exit", "/quit"):
            return last
        if text:
            last = await run.send(text, view)
            if not last.ok:
                err.print(f"stopped: {last.stop_reason.value}", style="red")


def cmd_chat(args: argparse.Namespace) -> int:
    """Read user lines until ``/exit`` or end of input."""
    err, console = Console(stderr=True), Console()
    try:
        settings = load_settings(args.task, args.overrides, err, require_prompt=False)
        task = build_task(settings, err, args.yes)
    except CommandFailed as failed:
        return failed.code
    view = TerminalView(console, show_reasoning=not args.hide_reasoning)

    async def go() -> TaskOutcome | None:
        async with await TaskRun.start(task) as run:
            err.print(f"transcript: {run.transcript}", style="dim", highlight=False,
                      soft_wrap=True)
            last = await _converse(run, view, console, err, settings.prompt)
            return await run.finish(last) if last is not None else None

    try:
        outcome = run_command(task, go, err, on_interrupt=console.print)
    except CommandFailed as failed:
        return failed.code
    if outcome is None:
        return EXIT_OK
    print_check(err, outcome.check)
    return task_exit_code(outcome)

"""``gptoss-agent chat``: an interactive multi-turn session with the task's tools.

Each line typed is a user message; the answer is drawn with the live view. ``/exit``
or end of input ends the session. The session is recorded like a run.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from pathlib import Path

from rich.console import Console
from rich.text import Text

from gptoss_agent.agent.cli_run import (
    build_or_exit_code,
    print_error,
    transcript_path_for,
)
from gptoss_agent.agent.exit_codes import EXIT_CONFIG, EXIT_OK
from gptoss_agent.agent.taskfile import TaskFileError, load_task
from gptoss_agent.agent.transcript import TranscriptWriter
from gptoss_agent.agent.view import TerminalView


def add_chat_command(commands: argparse._SubParsersAction) -> None:
    """Register ``chat``."""
    chat = commands.add_parser("chat", help="interactive multi-turn session")
    chat.add_argument("task", type=Path, help="task file: model, tools, instructions")
    chat.add_argument("--set", dest="overrides", action="append", default=[],
                      metavar="KEY=VALUE")
    chat.add_argument("--hide-reasoning", action="store_true")
    chat.add_argument("--yes", action="store_true", help="approve every call")
    chat.set_defaults(handler=cmd_chat)


def cmd_chat(args: argparse.Namespace) -> int:
    """Read user lines until ``/exit`` or end of input."""
    err = Console(stderr=True)
    console = Console()
    try:
        task = load_task(args.task, args.overrides, require_prompt=False)
    except TaskFileError as exc:
        print_error(err, str(exc))
        return EXIT_CONFIG
    agent = build_or_exit_code(task, err, args.yes)
    if isinstance(agent, int):
        return agent
    view = TerminalView(console, show_reasoning=not args.hide_reasoning)
    session_id = uuid.uuid4().hex[:12]
    transcript = transcript_path_for(task, session_id)

    async def go() -> None:
        session = agent.session(session_id, transcript=TranscriptWriter(transcript),
                                task_path=str(task.path), task_data=task.data)
        try:
            first = task.data.get("prompt")
            if first:
                console.print(Text.assemble(("you> ", "bold magenta"), first))
                await session.send(first, on_event=view)
            while True:
                console.print(Text("you> ", style="bold magenta"), end="")
                line = await asyncio.to_thread(sys.stdin.readline)
                if not line:
                    console.print()
                    break
                text = line.strip()
                if text in ("/exit", "/quit"):
                    break
                if not text:
                    continue
                result = await session.send(text, on_event=view)
                if not result.ok:
                    err.print(f"stopped: {result.stop_reason.value}", style="red")
        finally:
            await session.aclose()
            await agent.aclose()
            await agent.model.aclose()

    try:
        asyncio.run(go())
    except KeyboardInterrupt:
        console.print()
    err.print(f"transcript: {transcript}", style="dim", highlight=False, soft_wrap=True)
    return EXIT_OK

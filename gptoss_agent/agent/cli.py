"""The ``gptoss-agent`` command line.

Exit codes: 0 success, 1 a budget ran out, 2 bad configuration or usage, 3 the model
misbehaved (too many unusable outputs), 4 infrastructure failure (backend, Docker,
browser unavailable), 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.text import Text

from gptoss_agent.agent.event_json import event_to_dict
from gptoss_agent.agent.events import Event
from gptoss_agent.agent.result import RunResult, StopReason
from gptoss_agent.agent.task_schema import TASK_SCHEMA
from gptoss_agent.agent.taskfile import TaskFileError, load_task
from gptoss_agent.agent.vocab import VocabularyError

EXIT_OK = 0
EXIT_BUDGET = 1
EXIT_CONFIG = 2
EXIT_MODEL = 3
EXIT_INFRA = 4
EXIT_INTERRUPTED = 130

_EXIT_BY_REASON = {
    StopReason.FINAL: EXIT_OK,
    StopReason.MAX_TURNS: EXIT_BUDGET,
    StopReason.MAX_TOKENS: EXIT_BUDGET,
    StopReason.WALL_TIME: EXIT_BUDGET,
    StopReason.REPEATED_CALL: EXIT_MODEL,
    StopReason.MODEL_ERRORS: EXIT_MODEL,
    StopReason.BACKEND_ERROR: EXIT_INFRA,
    StopReason.CANCELLED: EXIT_INTERRUPTED,
}


def exit_code_for(result: RunResult) -> int:
    """The process exit code for a run's outcome."""
    return _EXIT_BY_REASON[result.stop_reason]


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gptoss-agent",
        description="A Harmony-native agent for gpt-oss models.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser("run", help="run a task file")
    run.add_argument("task", type=Path, help="the task file (YAML)")
    run.add_argument("--set", dest="overrides", action="append", default=[],
                     metavar="KEY=VALUE", help="override a key of the task file (repeatable)")
    output = run.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="one JSON event per line")
    output.add_argument("--quiet", action="store_true", help="print only the final answer")
    run.add_argument("--hide-reasoning", action="store_true", help="do not show analysis")
    run.set_defaults(handler=_cmd_run)
    schema = commands.add_parser("schema", help="print the task file JSON Schema")
    schema.set_defaults(handler=_cmd_schema)
    return parser


def _error(console: Console, message: str) -> None:
    console.print(Text.assemble(("error: ", "bold red"), message), soft_wrap=True)


def _cmd_schema(args: argparse.Namespace) -> int:
    print(json.dumps(TASK_SCHEMA, indent=2))
    return EXIT_OK


def _cmd_run(args: argparse.Namespace) -> int:
    err = Console(stderr=True)
    try:
        task = load_task(args.task, args.overrides)
    except TaskFileError as exc:
        _error(err, str(exc))
        return EXIT_CONFIG
    from gptoss_agent.agent.factory import build_agent

    try:
        agent = build_agent(task)
    except TaskFileError as exc:
        _error(err, str(exc))
        return EXIT_CONFIG
    except (ValueError, TypeError) as exc:
        _error(err, f"{task.path}: {exc}")
        return EXIT_CONFIG
    except (OSError, RuntimeError, VocabularyError) as exc:
        _error(err, f"cannot start: {exc}")
        return EXIT_INFRA

    console = Console()
    if args.json:
        def sink(event: Event) -> None:
            sys.stdout.write(json.dumps(event_to_dict(event), ensure_ascii=False) + "\n")
            sys.stdout.flush()
    elif args.quiet:
        def sink(event: Event) -> None:
            return None
    else:
        from gptoss_agent.agent.view import TerminalView

        sink = TerminalView(console, show_reasoning=not args.hide_reasoning)

    async def go() -> RunResult:
        try:
            return await agent.run(task.data["prompt"], on_event=sink)
        finally:
            await agent.aclose()

    try:
        result = asyncio.run(go())
    except KeyboardInterrupt:
        _error(err, "interrupted")
        return EXIT_INTERRUPTED
    if args.quiet and result.final_text is not None:
        print(result.final_text)
    final_path = task.data.get("output", {}).get("final")
    if final_path and result.final_text is not None:
        target = task.resolve(final_path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(result.final_text + "\n", encoding="utf-8")
    if not result.ok and not args.json:
        err.print(f"stopped: {result.stop_reason.value}", highlight=False)
    return exit_code_for(result)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gptoss-agent`` script."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    code: int = args.handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())

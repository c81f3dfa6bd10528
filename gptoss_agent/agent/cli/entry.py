"""The ``gptoss-agent`` command line: parses arguments and hands each command to its module.

Commands: ``run`` (one task, or a batch), ``eval`` (tasks run k times each across a
settings grid: pass@k, pass^k, validity, JSON and HTML reports), ``resume``, ``show``,
``export``, ``chat``, ``doctor``, ``schema``, ``sandbox`` (build and check the python
sandbox image), ``serve`` (an OpenAI-compatible completions server on the transformers
backend), ``finetune`` (training on Harmony transcripts) and ``mcp serve`` (our python
sandbox and browser as MCP servers).
Exit codes are listed in :mod:`gptoss_agent.agent.cli.exit_codes`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from gptoss_agent.agent.cli.exit_codes import EXIT_OK, exit_code_for
from gptoss_agent.agent.task.schema import TASK_SCHEMA

__all__ = ["build_parser", "exit_code_for", "main"]


def _cmd_schema(args: argparse.Namespace) -> int:
    print(json.dumps(TASK_SCHEMA, indent=2))
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser."""
    from gptoss_agent.agent.cli.chat import add_chat_command
    from gptoss_agent.agent.cli.doctor import add_doctor_command
    from gptoss_agent.agent.cli.eval import add_eval_command
    from gptoss_agent.agent.cli.resume import add_resume_command
    from gptoss_agent.agent.cli.run import add_run_arguments, cmd_run
    from gptoss_agent.agent.cli.transcripts import add_transcript_commands

    parser = argparse.ArgumentParser(
        prog="gptoss-agent",
        description="A Harmony-native agent for gpt-oss models.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser("run", help="run a task file, or a batch of them")
    add_run_arguments(run)
    run.set_defaults(handler=cmd_run)
    add_eval_command(commands)
    add_resume_command(commands)
    add_transcript_commands(commands)
    add_chat_command(commands)
    add_doctor_command(commands)
    schema = commands.add_parser("schema", help="print the task file JSON Schema")
    schema.set_defaults(handler=_cmd_schema)
    from gptoss_agent.agent.cli.finetune import add_finetune_command
    from gptoss_agent.agent.cli.mcp import add_mcp_commands
    from gptoss_agent.agent.cli.sandbox import add_sandbox_commands
    from gptoss_agent.agent.cli.serve import add_backend_commands

    add_sandbox_commands(commands)
    add_backend_commands(commands)
    add_finetune_command(commands)
    add_mcp_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gptoss-agent`` script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None) or getattr(args, "func", None)
    if handler is None:
        parser.parse_args([*(argv or sys.argv[1:]), "--help"])
        return 2
    code: int = handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())

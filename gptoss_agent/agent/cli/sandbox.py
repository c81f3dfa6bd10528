"""The ``gptoss-agent sandbox`` command group (``build``, ``doctor``).

The main CLI calls :func:`add_sandbox_commands` with its subparsers; the arguments and
handlers live in :mod:`gptoss_agent.sandbox.cli`, which also serves
``python -m gptoss_agent.sandbox``.
"""

from __future__ import annotations

import argparse

from gptoss_agent.sandbox.cli import add_commands, run_build, run_doctor

__all__ = ["add_sandbox_commands", "run_build", "run_doctor"]


def add_sandbox_commands(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``sandbox build`` and ``sandbox doctor`` on the main CLI.

    Each leaf parser sets ``func`` to its handler: ``args.func(args)`` returns the exit
    code.

    Returns:
        The ``sandbox`` parser.
    """
    sandbox = subparsers.add_parser(
        "sandbox",
        help="build and check the python tool's Docker sandbox",
        description="Build and check the Docker sandbox that runs the python tool.",
    )
    add_commands(sandbox.add_subparsers(dest="sandbox_command", required=True))
    return sandbox

"""The backend commands of the ``gptoss-agent`` CLI (``serve``), registered by the main CLI.

Each command's parser gets a ``handler`` default: a function taking the parsed arguments
and returning the exit status.
"""

from __future__ import annotations

import argparse
from typing import Any


def add_backend_commands(subparsers: Any) -> None:
    """Register ``serve`` on an ``argparse`` subparsers object."""
    from gptoss_agent.agent.backends.serve import add_serve_arguments, run_serve

    parser: argparse.ArgumentParser = subparsers.add_parser(
        "serve",
        help="serve a checkpoint over an OpenAI-compatible /v1/completions API",
        description=(
            "Serve a gpt-oss checkpoint in process (transformers backend, KV cache kept per "
            "session) over an OpenAI-compatible /v1/completions API with SSE streaming."
        ),
    )
    add_serve_arguments(parser)
    parser.set_defaults(handler=run_serve)

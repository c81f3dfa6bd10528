"""``gptoss-agent serve``: serve a checkpoint over an OpenAI-compatible ``/v1/completions``.

The command-line half of the server: its options, the transformers backend config they
describe, and the exit status of each outcome (0 after SIGINT/SIGTERM, 2 for a bad
setting, 4 when the model cannot be loaded or the address not bound, 130 when interrupted
while loading). The HTTP half is :mod:`gptoss_agent.agent.backends.http.completions`.

It prints ``listening on URL`` on stdout once ready. Run it as ``gptoss-agent serve
CHECKPOINT`` or ``python -m gptoss_agent.agent.cli.serve CHECKPOINT``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from typing import Any

from gptoss_agent.agent.backends.errors import BackendError
from gptoss_agent.agent.backends.transformers.config import DTYPE_NAMES, TransformersBackendConfig
from gptoss_agent.agent.cli.exit_codes import EXIT_CONFIG, EXIT_INFRA, EXIT_INTERRUPTED, EXIT_OK

_DESCRIPTION = (
    "Serve a gpt-oss checkpoint in process (transformers backend, KV cache kept per "
    "session) over an OpenAI-compatible /v1/completions API with SSE streaming."
)


def add_backend_commands(subparsers: Any) -> None:
    """Register ``serve`` on an ``argparse`` subparsers object.

    The parser's ``handler`` default takes the parsed arguments and returns the exit
    status.
    """
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "serve",
        help="serve a checkpoint over an OpenAI-compatible /v1/completions API",
        description=_DESCRIPTION,
    )
    add_serve_arguments(parser)
    parser.set_defaults(handler=run_serve)


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the command-line options of ``serve`` to ``parser``."""
    parser.add_argument("model", help="checkpoint folder (or hub id with --allow-download)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument("--model-name", default=None, help="name in answers (default: MODEL)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    parser.add_argument("--dtype", default="auto", choices=list(DTYPE_NAMES))
    parser.add_argument("--dequantize-mxfp4", action="store_true")
    parser.add_argument("--max-sessions", type=int, default=8,
                        help="sessions whose KV cache is kept (least recently used dropped)")
    parser.add_argument("--decode-batch", type=int, default=16,
                        help="most sessions sharing one decode step (1: no batching)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument(
        "--allow-download", action="store_true", help="let transformers fetch MODEL from a hub"
    )
    parser.add_argument("--show-progress", action="store_true",
                        help="show transformers' progress bars while loading")


def config_from_args(args: argparse.Namespace) -> TransformersBackendConfig:
    """The backend config the command line describes.

    Raises:
        ValueError: A setting is out of range.
    """
    return TransformersBackendConfig(
        model=args.model,
        device=args.device,
        dtype=args.dtype,
        dequantize_mxfp4=args.dequantize_mxfp4,
        max_sessions=args.max_sessions,
        decode_batch=args.decode_batch,
        threads=args.threads,
        local_files_only=not args.allow_download,
        show_progress=args.show_progress,
    )


async def serve(args: argparse.Namespace) -> None:
    """Load the model, listen, print ``listening on URL`` and serve until a signal.

    Raises:
        ValueError: A bad setting.
        BackendError: The model cannot be loaded.
        OSError: The address cannot be bound.
    """
    from gptoss_agent.agent.backends.http.completions import (
        CompletionServer,
        serve_until_signalled,
    )
    from gptoss_agent.agent.backends.transformers.backend import TransformersBackend

    config = config_from_args(args)
    backend = await TransformersBackend.aload(config)
    server = CompletionServer(backend, args.model_name or args.model)
    await serve_until_signalled(server, args.host, args.port,
                                on_listening=lambda url: print(f"listening on {url}", flush=True))


def run_serve(args: argparse.Namespace) -> int:
    """Entry point of ``gptoss-agent serve``; returns the exit status (module docstring)."""
    try:
        asyncio.run(serve(args))
    except ValueError as error:
        print(f"gptoss-agent serve: {error}", file=sys.stderr)
        return EXIT_CONFIG
    except (BackendError, OSError) as error:
        print(f"gptoss-agent serve: cannot start: {error}", file=sys.stderr)
        return EXIT_INFRA
    except KeyboardInterrupt:
        print("gptoss-agent serve: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m gptoss_agent.agent.cli.serve``: parse ``argv`` and serve."""
    parser = argparse.ArgumentParser(prog="gptoss-agent serve", description=_DESCRIPTION)
    add_serve_arguments(parser)
    return run_serve(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

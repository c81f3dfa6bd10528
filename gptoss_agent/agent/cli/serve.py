"""``gptoss-agent serve``: the model and the agent over one OpenAI-compatible HTTP app.

The command-line half of the server: its options, what they build (the model from a
checkpoint or the server's task file, the task's built-in tools, the limits), and the
exit status of each outcome (0 after SIGINT/SIGTERM, 2 for a bad setting or task file,
4 when the model cannot be loaded or the address not bound, 130 when interrupted while
loading). The app is :func:`gptoss_agent.agent.serve.app.build_app`: ``/v1/completions``
and ``/v1/models`` for the model, ``/v1/responses`` for the agent.

It prints ``listening on URL`` on stdout once ready. Run it as ``gptoss-agent serve
CHECKPOINT``, ``gptoss-agent serve --task server.yaml`` or ``python -m
gptoss_agent.agent.cli.serve ...``. Off loopback it refuses to start without
``--api-key-env NAME`` (the variable holding the bearer token clients must send).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from typing import Any

from gptoss_agent.agent.backends.base import ModelBackend
from gptoss_agent.agent.backends.errors import BackendError
from gptoss_agent.agent.backends.transformers.config import DTYPE_NAMES, TransformersBackendConfig
from gptoss_agent.agent.cli.exit_codes import EXIT_CONFIG, EXIT_INFRA, EXIT_INTERRUPTED, EXIT_OK
from gptoss_agent.agent.task.load import TaskFileError
from gptoss_agent.tools.errors import ToolError
from gptoss_agent.tools.loopback import is_loopback

_DESCRIPTION = (
    "Serve a gpt-oss model and the agent over one OpenAI-compatible HTTP app: "
    "/v1/completions (the model, KV cache kept per session, SSE streaming) and "
    "/v1/responses (the agent, with the task file's python and browser tools)."
)


def add_backend_commands(subparsers: Any) -> None:
    """Register ``serve`` on an ``argparse`` subparsers object.

    The parser's ``handler`` default takes the parsed arguments and returns the exit
    status.
    """
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "serve",
        help="serve a model and the agent over an OpenAI-compatible API",
        description=_DESCRIPTION,
    )
    add_serve_arguments(parser)
    parser.set_defaults(handler=run_serve)


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the command-line options of ``serve`` to ``parser``."""
    parser.add_argument("model", nargs="?", default=None,
                        help="checkpoint folder (or hub id with --allow-download); or --task")
    parser.add_argument("--task", default=None,
                        help="the server's task file: model, built-in tools, budgets")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument("--model-name", default=None, help="name in answers (default: MODEL)")
    parser.add_argument("--api-key-env", default=None, metavar="NAME",
                        help="environment variable holding the bearer token clients must "
                             "send (required off loopback)")
    parser.add_argument("--max-body-bytes", type=int, default=64 * 1024 * 1024,
                        help="largest request body (413 beyond)")
    parser.add_argument("--max-conversations", type=int, default=64,
                        help="response chains kept (least recently used idle one dropped)")
    parser.add_argument("--max-runs", type=int, default=8,
                        help="agent runs in progress at once (429 beyond)")
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


def config_from_args(args: argparse.Namespace, model: str | None = None,
                     device: str | None = None, dtype: str | None = None
                     ) -> TransformersBackendConfig:
    """The backend config the command line describes (``model`` etc. from a task file).

    Raises:
        ValueError: A setting is out of range.
    """
    return TransformersBackendConfig(
        model=model or args.model,
        device=device or args.device,
        dtype=dtype or args.dtype,  # type: ignore[arg-type]
        dequantize_mxfp4=args.dequantize_mxfp4,
        max_sessions=args.max_sessions,
        decode_batch=args.decode_batch,
        threads=args.threads,
        local_files_only=not args.allow_download,
        show_progress=args.show_progress,
    )


def serve_limits(args: argparse.Namespace) -> Any:
    """The server's limits and key from the command line.

    Raises:
        ValueError: A limit out of range, an unset key variable, or no key off loopback.
    """
    from gptoss_agent.agent.serve.config import ServeLimits

    key = None
    if args.api_key_env:
        key = os.environ.get(args.api_key_env, "").strip()
        if not key:
            raise ValueError(f"--api-key-env names {args.api_key_env!r}, which is not set")
    elif not is_loopback(args.host):
        raise ValueError(f"serving on {args.host} (off loopback) needs an API key: "
                         "--api-key-env NAME, the variable holding it")
    return ServeLimits(max_body_bytes=args.max_body_bytes,
                       max_conversations=args.max_conversations, max_runs=args.max_runs,
                       api_key=key)


async def load_served(args: argparse.Namespace) -> Any:
    """The served agent: the task file's model and tools, or a bare checkpoint.

    Raises:
        ValueError: A bad setting (``TaskFileError`` included).
        BackendError: The model cannot be loaded.
    """
    from gptoss_agent.agent.harmony.codec import load_codec
    from gptoss_agent.agent.serve.config import ServedAgent

    if args.task is None:
        if args.model is None:
            raise ValueError("give a checkpoint folder or --task FILE")
        return ServedAgent(await _transformers(config_from_args(args)),
                           args.model_name or args.model, load_codec())
    if args.model is not None:
        raise ValueError("give a checkpoint folder or --task FILE, not both")
    from gptoss_agent.agent.task.load import load_task
    from gptoss_agent.agent.task.settings import TransformersModel, task_settings

    settings = task_settings(load_task(args.task, require_prompt=False))
    model = settings.model
    backend: ModelBackend
    if isinstance(model, TransformersModel):
        backend = await _transformers(config_from_args(args, str(model.path), model.device,
                                                       model.dtype))
    else:
        from gptoss_agent.agent.task.build import build_backend

        backend = await asyncio.to_thread(build_backend, model)
    try:
        return ServedAgent.from_task(settings, backend, args.model_name or settings.name,
                                     load_codec())
    except BaseException:
        await backend.aclose()
        raise


async def _transformers(config: TransformersBackendConfig) -> ModelBackend:
    from gptoss_agent.agent.backends.transformers.backend import TransformersBackend

    return await TransformersBackend.aload(config)


async def serve(args: argparse.Namespace) -> None:
    """Load the model, listen, print ``listening on URL`` and serve until a signal.

    Raises:
        ValueError: A bad setting.
        BackendError: The model cannot be loaded.
        OSError: The address cannot be bound.
    """
    try:
        from gptoss_agent.agent.backends.http.server import serve_until_signalled
        from gptoss_agent.agent.serve.app import build_app
    except ModuleNotFoundError as error:
        raise ValueError(f"{error.name} is not installed: pip install "
                         "'gptoss-agent[serve]'") from error
    limits = serve_limits(args)
    served = await load_served(args)
    app, service = build_app(served, limits)
    try:
        await serve_until_signalled(
            app, args.host, args.port,
            on_listening=lambda url: print(f"listening on {url}", flush=True))
    finally:
        try:
            await service.aclose()
        finally:
            await served.aclose()


def run_serve(args: argparse.Namespace) -> int:
    """Entry point of ``gptoss-agent serve``; returns the exit status (module docstring)."""
    try:
        asyncio.run(serve(args))
    except (ValueError, TaskFileError) as error:
        print(f"gptoss-agent serve: {error}", file=sys.stderr)
        return EXIT_CONFIG
    except (BackendError, OSError, ToolError) as error:
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

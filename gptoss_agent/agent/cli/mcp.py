"""``gptoss-agent mcp serve python|browser``: our sandbox or browser as an MCP server.

::

    gptoss-agent mcp serve python  [TRANSPORT] [--image IMAGE] [--memory-mb N]
                                   [--timeout-s S] [--network] [--data-dir DIR]
    gptoss-agent mcp serve browser [TRANSPORT] [--search local --corpus DIR |
                                   --search searxng --url URL | --search brave]
                                   [--allow HOST ...] [--chromium PATH]

    TRANSPORT: --transport stdio (the default) | --transport http [--host H] [--port P]
               [--api-key-env NAME] [--max-sessions N] [--idle-timeout-s S]

Over HTTP the endpoint is ``http://HOST:PORT/mcp``; it prints ``listening on URL`` on
stdout once the socket listens. Off loopback it needs ``--api-key-env NAME``, the
environment variable holding the key clients send as ``Authorization: Bearer KEY``.
Over stdio nothing but the protocol goes to stdout.

Exit codes: 0 once the client has left or after SIGINT/SIGTERM (every container and
Chromium closed), 2 for a bad option, 4 when Docker, the sandbox image, Chromium or the
``mcp`` package is missing or the address cannot be bound. The servers themselves are
:mod:`gptoss_agent.tools.mcp.serve`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable
from typing import Any

from gptoss_agent.agent.cli.exit_codes import (
    EXIT_CONFIG,
    EXIT_INFRA,
    EXIT_INTERRUPTED,
    EXIT_OK,
    exit_code_for_error,
)
from gptoss_agent.tools.errors import ToolConfigError

__all__ = ["add_mcp_commands", "run_serve"]

PROG = "gptoss-agent mcp serve"
DEFAULT_PORT = 8765


def add_mcp_commands(commands: Any) -> Any:
    """Register ``mcp serve python`` and ``mcp serve browser`` on the main CLI.

    Each leaf parser sets ``handler``, which takes the parsed arguments and returns the
    exit code.

    Returns:
        The subparsers of ``mcp``, where further ``mcp`` commands can be added.
    """
    mcp = commands.add_parser(
        "mcp", help="serve our python sandbox or browser as MCP servers",
        description="MCP: serve our python sandbox or browser to other agents.",
    )
    mcp_commands = mcp.add_subparsers(dest="mcp_command", required=True, metavar="COMMAND")
    serve = mcp_commands.add_parser(
        "serve", help="serve the python sandbox or the browser as an MCP server",
        description="Serve the python sandbox or the browser over stdio or Streamable HTTP.",
    )
    tools = serve.add_subparsers(dest="mcp_tool", required=True, metavar="TOOL")
    transport = _transport_options()
    python = tools.add_parser(
        "python", parents=[transport], help="the stateful python sandbox (one per session)",
        description="Serve the MCP tool 'python': a stateful notebook in a hardened Docker "
        "sandbox, one per MCP session.",
    )
    _python_options(python)
    python.set_defaults(handler=run_serve, mcp_tool="python")
    browser = tools.add_parser(
        "browser", parents=[transport], help="the browser: search, open, find",
        description="Serve the MCP tools 'search', 'open' and 'find' on a headless Chromium, "
        "one page stack per MCP session; private addresses are refused unless --allow'ed.",
    )
    _browser_options(browser)
    browser.set_defaults(handler=run_serve, mcp_tool="browser")
    return mcp_commands


def _transport_options() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False)
    group = options.add_argument_group("transport")
    group.add_argument("--transport", choices=("stdio", "http"), default="stdio",
                       help="stdio (the default) or Streamable HTTP")
    group.add_argument("--host", default=None, help="HTTP: address to bind (127.0.0.1)")
    group.add_argument("--port", type=int, default=None, metavar="PORT",
                       help=f"HTTP: port ({DEFAULT_PORT}; 0 picks a free one)")
    group.add_argument("--api-key-env", metavar="NAME", default=None,
                       help="HTTP: environment variable holding the bearer key clients must "
                       "send (required off loopback)")
    group.add_argument("--max-sessions", type=int, default=None, metavar="N",
                       help="HTTP: most MCP sessions at once (16)")
    group.add_argument("--idle-timeout-s", type=float, default=None, metavar="S",
                       help="HTTP: end a session idle this long (1800)")
    return options


def _python_options(parser: argparse.ArgumentParser) -> None:
    from gptoss_agent.sandbox.config import DEFAULT_IMAGE
    from gptoss_agent.sandbox.limits import SandboxLimits

    limits = SandboxLimits()
    group = parser.add_argument_group("sandbox")
    group.add_argument("--image", default=DEFAULT_IMAGE, help=f"sandbox image ({DEFAULT_IMAGE})")
    group.add_argument("--memory-mb", type=int, default=limits.memory_mb, metavar="MB",
                       help=f"memory of each sandbox ({limits.memory_mb})")
    group.add_argument("--timeout-s", type=float, default=limits.timeout_s, metavar="S",
                       help=f"deadline of each call ({limits.timeout_s:g})")
    group.add_argument("--network", action="store_true",
                       help="give the sandboxes network access (off by default)")
    group.add_argument("--data-dir", default=None, metavar="DIR",
                       help="keep each session's /mnt/data under DIR (default: temporary)")


def _browser_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("browser")
    group.add_argument("--search", choices=("local", "searxng", "brave"), default=None,
                       help="search backend (default: none)")
    group.add_argument("--corpus", metavar="DIR", default=None,
                       help="--search local: the folder of documents")
    group.add_argument("--url", default=None, help="--search searxng: the instance's URL")
    group.add_argument("--allow", metavar="HOST", action="append", default=[],
                       help="a private host, address or network the browser may reach "
                       "(repeatable)")
    group.add_argument("--chromium", metavar="PATH", default=None,
                       help="the Chromium executable (default: found on PATH)")


def http_settings(args: argparse.Namespace) -> Any:
    """The ``HttpSettings`` for ``--transport http`` (``None`` for stdio).

    Raises:
        ToolConfigError: An HTTP option given for stdio, an unset key variable, or a
            setting out of range.
    """
    from gptoss_agent.tools.mcp.serve_http import HttpSettings

    http_only = {"--host": args.host, "--port": args.port, "--api-key-env": args.api_key_env,
                 "--max-sessions": args.max_sessions, "--idle-timeout-s": args.idle_timeout_s}
    if args.transport == "stdio":
        given = [name for name, value in http_only.items() if value is not None]
        if given:
            verb = "applies" if len(given) == 1 else "apply"
            raise ToolConfigError(f"{', '.join(given)} {verb} only to --transport http")
        return None
    key = None
    if args.api_key_env is not None:
        key = os.environ.get(args.api_key_env, "")
        if not key.strip():
            raise ToolConfigError(f"--api-key-env {args.api_key_env}: that variable is not set")
    return HttpSettings(
        host=args.host or "127.0.0.1",
        port=DEFAULT_PORT if args.port is None else args.port,
        api_key=key,
        max_sessions=16 if args.max_sessions is None else args.max_sessions,
        idle_timeout_s=1800.0 if args.idle_timeout_s is None else args.idle_timeout_s,
    )


def toolset_from_args(args: argparse.Namespace) -> Any:
    """The python or browser toolset the options describe.

    Raises:
        ValueError: A bad setting (``ToolConfigError``, ``SandboxConfigError``).
    """
    if args.mcp_tool == "python":
        from gptoss_agent.sandbox.config import SandboxConfig
        from gptoss_agent.sandbox.limits import SandboxLimits
        from gptoss_agent.tools.mcp.serve_python import PythonToolset

        limits = SandboxLimits(timeout_s=args.timeout_s, memory_mb=args.memory_mb)
        config = SandboxConfig(image=args.image, limits=limits, network=args.network)
        return PythonToolset(config, data_dir=args.data_dir)
    from gptoss_agent.tools.browser import BrowserConfig
    from gptoss_agent.tools.mcp.serve_browser import (
        BrowserToolset,
        check_allowlist,
        search_backend,
    )

    backend = search_backend(args.search, corpus=args.corpus, url=args.url)
    browser = BrowserConfig(executable_path=args.chromium, allowlist=check_allowlist(args.allow))
    return BrowserToolset(backend, browser)


def _fail(message: str, code: int) -> int:
    """Print the first line of ``message`` (Playwright's errors add a call log) and give code."""
    first = next((line.strip() for line in message.splitlines() if line.strip()), message)
    print(f"{PROG}: {first}", file=sys.stderr, flush=True)
    return code


def _announce(tool: str) -> Callable[[str], None]:
    """What ``serve`` calls once ready: the URL on stdout for HTTP, a note on stderr for stdio."""

    def ready(where: str) -> None:
        if where == "stdio":
            print(f"{PROG}: {tool} ready on stdio", file=sys.stderr, flush=True)
        else:
            print(f"listening on {where}", flush=True)

    return ready


def run_serve(args: argparse.Namespace) -> int:
    """Entry point of ``mcp serve python|browser``; returns the exit code (module docstring)."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format=f"{PROG}: %(levelname)s %(message)s")
    try:
        from gptoss_agent.tools.mcp.serve import serve
    except ImportError as exc:
        return _fail(f"the mcp package is missing ({exc}); pip install 'gptoss-agent[mcp]'",
                     EXIT_INFRA)
    try:
        http = http_settings(args)
        toolset = toolset_from_args(args)
    except ValueError as exc:
        return _fail(str(exc), EXIT_CONFIG)
    try:
        serve(toolset, http, on_ready=_announce(args.mcp_tool))
    except KeyboardInterrupt:
        return _fail("interrupted", EXIT_INTERRUPTED)
    except Exception as exc:
        code = exit_code_for_error(exc)
        if code is None:
            raise
        return _fail(f"cannot serve: {exc}", code)
    return EXIT_OK

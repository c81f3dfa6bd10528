"""The ``sandbox build`` and ``sandbox doctor`` commands: arguments and handlers.

Shared by ``python -m gptoss_agent.sandbox`` (usable before the main CLI exists, e.g. in
setup scripts) and ``gptoss-agent sandbox ...`` (registered by the agent package). Each
handler takes the parsed arguments and returns a process exit code.
"""

from __future__ import annotations

import argparse
import sys

from gptoss_agent.sandbox.config import DEFAULT_IMAGE, SandboxConfig
from gptoss_agent.sandbox.errors import SandboxError


def configure_build(parser: argparse.ArgumentParser) -> None:
    """Add ``sandbox build``'s options to ``parser``."""
    parser.add_argument("--image", default=DEFAULT_IMAGE, help="image name (default: %(default)s)")
    method = parser.add_mutually_exclusive_group()
    method.add_argument(
        "--offline",
        dest="method",
        action="store_const",
        const="offline",
        help="debootstrap from a Debian mirror, then docker import (needs root)",
    )
    method.add_argument(
        "--dockerfile",
        dest="method",
        action="store_const",
        const="dockerfile",
        help="docker build from debian:<suite>-slim (needs an image registry)",
    )
    parser.set_defaults(method="auto")
    parser.add_argument("--mirror", help="Debian mirror for --offline (default: the host's)")
    parser.add_argument(
        "--if-needed",
        action="store_true",
        help="do nothing when the image exists and was built from the current recipe",
    )
    parser.add_argument("--docker-host", help="engine address (default: DOCKER_HOST)")


def run_build(args: argparse.Namespace) -> int:
    """Build the sandbox image; print progress; 0 on success."""
    from gptoss_agent.sandbox.engine import Engine
    from gptoss_agent.sandbox.image import build_image

    try:
        engine = Engine.connect(args.docker_host, timeout_s=30.0)
        build_image(
            engine,
            args.image,
            method=args.method,
            mirror=args.mirror,
            if_needed=args.if_needed,
            log=lambda line: print(line, flush=True),
        )
    except SandboxError as exc:
        print(f"sandbox build failed: {exc}", file=sys.stderr)
        return 1
    return 0


def configure_doctor(parser: argparse.ArgumentParser) -> None:
    """Add ``sandbox doctor``'s options to ``parser``."""
    parser.add_argument("--image", default=DEFAULT_IMAGE, help="image name (default: %(default)s)")
    parser.add_argument("--docker-host", help="engine address (default: DOCKER_HOST)")
    parser.add_argument(
        "--no-session", action="store_true", help="skip the test session (start, run, close)"
    )


def run_doctor(args: argparse.Namespace) -> int:
    """Print the doctor's report; 0 when every check passed."""
    from gptoss_agent.sandbox.doctor import diagnose, render_report

    config = SandboxConfig(image=args.image, docker_host=args.docker_host)
    checks = diagnose(config, smoke_test=not args.no_session)
    print(render_report(checks))
    return 0 if all(check.ok for check in checks) else 1


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register ``build`` and ``doctor`` (each with ``func`` set to its handler)."""
    build = subparsers.add_parser(
        "build",
        help="build the sandbox image",
        description="Build the python tool's sandbox image (Python 3 with numpy, pandas, "
        "matplotlib, scipy, sympy and an unprivileged user).",
    )
    configure_build(build)
    build.set_defaults(func=run_build)
    doctor = subparsers.add_parser(
        "doctor",
        help="check the Docker engine, the image and the limits",
        description="Report the Docker engine, the sandbox image and the limits in plain "
        "words, then run a short test session.",
    )
    configure_doctor(doctor)
    doctor.set_defaults(func=run_doctor)


def main(argv: list[str] | None = None) -> int:
    """``python -m gptoss_agent.sandbox {build,doctor}``."""
    parser = argparse.ArgumentParser(prog="python -m gptoss_agent.sandbox")
    subparsers = parser.add_subparsers(dest="command", required=True)
    add_commands(subparsers)
    args = parser.parse_args(argv)
    return int(args.func(args))

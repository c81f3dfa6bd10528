"""Helpers shared by the test suite."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest


def require_or_skip(available: bool, why: str) -> None:
    """Skip locally when infrastructure is missing; fail in CI, where it must exist."""
    if available:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{why} (CI must provide it; see scripts/setup.sh)")
    pytest.skip(why)


def cli_command(*args: str) -> list[str]:
    """The command line of ``gptoss-agent ARGS`` with this interpreter."""
    return [sys.executable, "-m", "gptoss_agent.agent.cli.entry", *args]


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 120,
            **options: Any) -> subprocess.CompletedProcess[str]:
    """``gptoss-agent ARGS`` in a subprocess, its output captured as text.

    It runs in ``cwd``, else in a fresh folder, so a run's ``runs/`` never lands in the
    checkout. ``options`` go to :func:`subprocess.run` (``input``, ``env``).
    """
    return subprocess.run(
        cli_command(*args), capture_output=True, text=True, timeout=timeout,
        cwd=cwd or tempfile.mkdtemp(prefix="gptoss-cli-"), **options)


def docker_ready() -> bool:
    """Whether the Docker engine answers and the sandbox image is there."""
    try:
        from gptoss_agent.sandbox.doctor import diagnose

        return all(check.ok for check in diagnose(smoke_test=False))
    except Exception:
        return False


@pytest.fixture
def needs_docker() -> None:
    """Use in a test that runs the python sandbox."""
    require_or_skip(docker_ready(), "the Docker engine or the sandbox image is not available")


HAS_TORCH = all(importlib.util.find_spec(name) for name in ("torch", "transformers"))


def need_torch() -> None:
    """Skip locally without torch/transformers; fail in CI."""
    require_or_skip(HAS_TORCH, "torch and transformers are not installed")


def process_parents() -> dict[int, int]:
    """Every process's parent, from ``/proc`` (one that exits meanwhile is left out)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return parents


def free_port() -> int:
    """A loopback port nothing listens on now (for a server started with ``--port``)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def stop_process(process: subprocess.Popen[Any], timeout_s: float = 60.0) -> None:
    """Ask a child process to end (SIGTERM); kill it if it has not within ``timeout_s``."""
    process.terminate()
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()

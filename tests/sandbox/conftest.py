"""Fixtures for the sandbox tests: the real Docker engine, the image, fast limits.

Tests marked ``docker`` need a running engine and the sandbox image. Locally they skip
when either is missing; with ``CI`` set they fail instead, so CI really runs them.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from gptoss_agent.sandbox import (
    DEFAULT_IMAGE,
    DockerSandbox,
    SandboxConfig,
    SandboxError,
    SandboxLimits,
)
from gptoss_agent.sandbox.channel import ByteSink, KernelChannel, kernel_source
from gptoss_agent.sandbox.engine import Engine
from gptoss_agent.sandbox.kernel import BOOTSTRAP
from tests.support import require_or_skip

if TYPE_CHECKING:
    from tests.sandbox.second_engine import SecondEngine

FAST_LIMITS = SandboxLimits(
    timeout_s=4.0,
    interrupt_grace_s=1.0,
    memory_mb=256,
    cpus=1.0,
    pids=64,
    nofile=256,
    tmp_mb=16,
    home_mb=8,
    data_mb=32,
    output_bytes=4096,
    value_chars=1024,
    startup_timeout_s=20.0,
    api_timeout_s=20.0,
)
"""Small limits so every attack hits its wall in a second or two."""

WAIT_FOR = (
    "\nimport glob, time\n"
    "def _started(marker):\n"
    "    found = 0\n"
    "    for path in glob.glob('/proc/[0-9]*/cmdline'):\n"
    "        try:\n            args = open(path, 'rb').read().split(b'\\0')\n"
    "        except OSError:\n            continue\n"
    "        found += args[0].endswith(b'sleep') and args[1:2] == [marker.encode()]\n"
    "        found += b'time.sleep(' + marker.encode() in b' '.join(args)\n"
    "    return found\n"
    "for _ in range(1000):\n"
    "    if _started('{m}') >= {n}:\n        break\n"
    "    time.sleep(0.01)\n"
)
"""Appended to a cell: wait until its leftovers have become what they will stay (a
forked shell has exec'd ``sleep``), so the report names them deterministically."""


def unavailable(reason: str) -> None:
    """Skip locally; fail under CI, where the engine and image must be there."""
    require_or_skip(False, f"the Docker tests cannot run: {reason}")


def require_engine() -> Engine:
    """The real engine with the sandbox image present (skip, or fail under CI)."""
    try:
        engine = Engine.connect(timeout_s=10.0)
    except SandboxError as exc:
        unavailable(f"no Docker engine: {exc}")
        raise
    if engine.image_labels(DEFAULT_IMAGE) is None:
        unavailable(
            f"sandbox image {DEFAULT_IMAGE} missing (run: python -m gptoss_agent.sandbox build)"
        )
    return engine


@pytest.fixture(scope="session")
def docker_engine() -> Engine:
    """The real engine, with the sandbox image present."""
    return require_engine()


@pytest.fixture(scope="session")
def second_dockerd(docker_engine: Engine) -> Iterator[SecondEngine]:
    """A second engine on its own socket, TLS port and data root, with the sandbox image."""
    from tests.sandbox.second_engine import second_engine

    with second_engine(docker_engine) as second:
        yield second


@pytest.fixture(scope="session")
def remote_engine(second_dockerd: SecondEngine) -> Engine:
    """The second engine, reached through its unix socket."""
    return second_dockerd.engine


@pytest.fixture
async def make_sandbox(
    docker_engine: Engine, tmp_path: Path
) -> AsyncIterator[Callable[..., DockerSandbox]]:
    """Makes sandboxes with :data:`FAST_LIMITS` (or overrides); closes them after the test."""
    made: list[DockerSandbox] = []

    def make(
        name: str = "test", *, keep_background: bool = False, **limits: object
    ) -> DockerSandbox:
        config = SandboxConfig(
            limits=_replace(FAST_LIMITS, **limits), keep_background=keep_background
        )
        sandbox = DockerSandbox(
            config, data_dir=tmp_path / f"data-{name}", session=name, engine=docker_engine
        )
        made.append(sandbox)
        return sandbox

    yield make
    await asyncio.gather(*(sandbox.close() for sandbox in made))


@pytest.fixture
async def sandbox(make_sandbox: Callable[..., DockerSandbox]) -> AsyncIterator[DockerSandbox]:
    """A started sandbox with :data:`FAST_LIMITS`."""
    box = make_sandbox()
    await box.start()
    yield box


class LocalKernel:
    """The kernel run as a plain local subprocess (no container): for protocol tests."""

    def __init__(self, process: asyncio.subprocess.Process, channel: KernelChannel) -> None:
        self.process = process
        self.channel = channel

    async def run(self, code: str, timeout_s: float = 5.0, grace_s: float = 1.0, **kw: int) -> dict:
        outcome = await self.channel.execute(
            code,
            timeout_s=timeout_s,
            grace_s=grace_s,
            output_bytes=kw.get("output_bytes", 4096),
            value_chars=kw.get("value_chars", 1024),
        )
        assert outcome.reply is not None, outcome.problem
        return outcome.reply


@pytest.fixture
async def local_kernel(tmp_path: Path) -> AsyncIterator[LocalKernel]:
    """A kernel in a local subprocess, bootstrapped exactly as in a container."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        BOOTSTRAP,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        cwd=tmp_path,
        env={**os.environ, "GPTOSS_SANDBOX": "0"},
    )
    assert process.stdin is not None and process.stdout is not None
    channel = KernelChannel(process.stdout, ByteSink(process.stdin.write, process.stdin.close))
    await channel.start(kernel_source(), timeout_s=10.0)
    yield LocalKernel(process, channel)
    channel.close()
    try:
        await asyncio.wait_for(process.wait(), 5.0)
    except TimeoutError:
        process.kill()
        await process.wait()


async def wait_for_file(path: Path, timeout_s: float = 10.0) -> None:
    """Poll until ``path`` exists (a cell's "I am running" signal), or fail."""
    deadline = time.monotonic() + timeout_s
    while not await asyncio.to_thread(path.exists):
        if time.monotonic() > deadline:
            pytest.fail(f"{path} did not appear within {timeout_s}s")
        await asyncio.sleep(0.02)


def _replace(limits: SandboxLimits, **changes: object) -> SandboxLimits:
    import dataclasses

    return dataclasses.replace(limits, **changes)  # type: ignore[arg-type]

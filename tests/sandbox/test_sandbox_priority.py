"""CPU weight against the real engine: long calls and calls that hit a limit go low.

The container's ``HostConfig.CpuShares`` is read back from the engine after each step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from gptoss_agent.sandbox import DockerSandbox, ExecutionStatus
from gptoss_agent.sandbox.engine import Engine
from gptoss_agent.sandbox.priority import LOW_SHARES, NORMAL_SHARES

pytestmark = pytest.mark.docker

QUICK = "sum(range(1000))"


def shares(engine: Engine, sandbox: DockerSandbox) -> int:
    assert sandbox.container_id is not None
    info = engine.api("inspect", "inspect_container", sandbox.container_id)
    return int(info["HostConfig"]["CpuShares"])


async def test_a_long_call_lowers_its_session_until_a_quick_one_ends(
        make_sandbox: Callable[..., DockerSandbox], docker_engine: Engine) -> None:
    sandbox = make_sandbox("long", lower_after_s=0.3)
    await sandbox.execute(QUICK)
    assert shares(docker_engine, sandbox) == NORMAL_SHARES
    await sandbox.execute("import time\ntime.sleep(1.0)")
    assert shares(docker_engine, sandbox) == LOW_SHARES
    other = make_sandbox("bystander", lower_after_s=0.3)  # others are not touched
    await other.execute(QUICK)
    assert shares(docker_engine, other) == NORMAL_SHARES
    result = await sandbox.execute(QUICK)
    assert result.status is ExecutionStatus.OK and result.value == "499500"
    assert shares(docker_engine, sandbox) == NORMAL_SHARES


@pytest.fixture
def changes(docker_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every weight change the sandboxes ask the engine for: ``(container, shares)``."""
    seen: list[tuple[str, int]] = []
    original = docker_engine.api

    def spy(what: str, method: str, *args: Any, **kwargs: Any) -> Any:
        if method == "update_container":
            seen.append((args[0], kwargs["cpu_shares"]))
        return original(what, method, *args, **kwargs)

    monkeypatch.setattr(docker_engine, "api", spy)
    return seen


@pytest.mark.parametrize(("attack", "limit"), [
    ("import sys\nsys.stdout.write('x' * 100_000)", "output_bytes"),
    ("while True:\n    pass", "timeout_s"),
    ("x = bytearray(1 << 30)", "memory_mb"),
], ids=["output", "deadline", "memory"])
async def test_a_call_that_hits_a_limit_lowers_its_session_even_after_a_restart(
        make_sandbox: Callable[..., DockerSandbox], changes: list[tuple[str, int]],
        docker_engine: Engine, attack: str, limit: str) -> None:
    sandbox = make_sandbox(limit, timeout_s=1.5, lower_after_s=1.0)
    await sandbox.execute(QUICK)
    first = sandbox.container_id
    assert first is not None and changes == []
    result = await sandbox.execute(attack)
    assert result.limit == limit
    assert changes == [(first, LOW_SHARES)]  # once, also when the timer fired first
    again = await sandbox.execute("1 + 1")
    assert again.value == "2"
    second = sandbox.container_id
    assert second is not None
    # A restarted container is lowered before the call runs; a good call restores it.
    restart = [(second, LOW_SHARES)] if second != first else []
    assert changes == [(first, LOW_SHARES), *restart, (second, NORMAL_SHARES)]
    assert shares(docker_engine, sandbox) == NORMAL_SHARES
    assert (second != first) is (limit == "memory_mb")


async def test_without_lower_after_s_the_weight_never_changes(
        make_sandbox: Callable[..., DockerSandbox], changes: list[tuple[str, int]],
        docker_engine: Engine) -> None:
    sandbox = make_sandbox("fixed", lower_after_s=None, timeout_s=1.0)
    result = await sandbox.execute("while True:\n    pass")
    assert result.limit == "timeout_s"
    assert changes == [] and shares(docker_engine, sandbox) == NORMAL_SHARES

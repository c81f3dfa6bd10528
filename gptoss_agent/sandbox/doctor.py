"""``sandbox doctor``: checks the engine, the image and the limits, in plain words.

:func:`diagnose` runs the checks (ending with a real session: start, run code, close)
and returns :class:`Check` values; :func:`render_report` turns them into the text the
CLI prints. Nothing here raises for a failed check: a failure is a finding.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from gptoss_agent.sandbox.config import SandboxConfig
from gptoss_agent.sandbox.engine import Engine, docker_py_installed
from gptoss_agent.sandbox.errors import SandboxError
from gptoss_agent.sandbox.image import ImageStatus, image_status
from gptoss_agent.sandbox.labels import owner_alive
from gptoss_agent.sandbox.limits import SandboxLimits
from gptoss_agent.sandbox.recipe import DEFAULT_RECIPE, ImageRecipe

_PROBE = """
import os, sys
ifaces = sorted(os.listdir('/sys/class/net'))
mods = []
for name in ('numpy', 'pandas', 'matplotlib', 'scipy', 'sympy'):
    try:
        __import__(name)
        mods.append(name)
    except Exception:
        pass
print(sys.version.split()[0], os.getuid(), ','.join(ifaces), ','.join(mods))
"""


@dataclass(frozen=True)
class Check:
    """One finding.

    Attributes:
        name: What was checked (``engine``, ``image``, ...).
        ok: Whether it is fine.
        detail: What was found, in a sentence or two.
        fix: What to do about it, when not ok.
    """

    name: str
    ok: bool
    detail: str
    fix: str = ""


def describe_limits(config: SandboxConfig) -> str:
    """The limits of a session in plain words."""
    limits: SandboxLimits = config.limits
    return (
        f"each call may run {limits.timeout_s:g} s (then it is interrupted, and the "
        f"container restarted if it does not stop within {limits.interrupt_grace_s:g} s); "
        f"memory {limits.memory_mb} MB with no swap; {limits.cpus:g} CPU; at most "
        f"{limits.pids} processes and threads; {limits.nofile} open files per process; "
        f"/tmp {limits.tmp_mb} MB; home {limits.home_mb} MB; /mnt/data quota "
        f"{limits.data_mb} MB (also the largest single file); output kept per stream "
        f"{limits.output_bytes} bytes; network "
        f"{'on (bridge)' if config.network else 'off (loopback only)'}; read-only root, "
        "all capabilities dropped, no-new-privileges, an init process"
    )


def diagnose(
    config: SandboxConfig | None = None,
    recipe: ImageRecipe = DEFAULT_RECIPE,
    *,
    smoke_test: bool = True,
) -> list[Check]:
    """Run every check, in order; later checks are skipped when earlier ones fail."""
    config = config or SandboxConfig()
    if not docker_py_installed():
        return [
            Check("docker-py", False, "the 'docker' package is missing", "pip install 'docker>=7'")
        ]
    try:
        engine = Engine.connect(config.docker_host, min(config.limits.api_timeout_s, 10.0))
        checks = [_engine_check(engine)]
    except SandboxError as exc:
        fix = "start dockerd (as root: scripts/setup.d/20-docker.sh) or set DOCKER_HOST"
        return [Check("engine", False, str(exc), fix)]
    status = image_status(engine, config.image, recipe)
    checks.append(_image_check(status))
    checks.append(Check("limits", True, describe_limits(config)))
    checks.append(_containers_check(engine))
    if smoke_test and status.present:
        checks.append(asyncio.run(_smoke(config)))
    return checks


def _engine_check(engine: Engine) -> Check:
    """The engine answers: its version, storage driver, cgroups, CPUs and memory."""
    version = engine.version()
    info = engine.info()
    return Check(
        "engine",
        True,
        f"Docker {version.get('Version', '?')} (API {version.get('ApiVersion', '?')}) at "
        f"{engine.base_url}; storage {info.get('Driver', '?')}, cgroup "
        f"v{info.get('CgroupVersion', '?')}, {info.get('NCPU', '?')} CPUs, "
        f"{int(info.get('MemTotal') or 0) >> 20} MiB memory",
    )


def _image_check(status: ImageStatus) -> Check:
    """Whether the image is present and built from the current recipe."""
    if not status.present:
        return Check("image", False, f"{status.image} is not built", "gptoss-agent sandbox build")
    if not status.current:
        return Check(
            "image",
            False,
            f"{status.image} was built from recipe {status.recipe_hash}, the current "
            f"recipe is {status.expected_hash}",
            "gptoss-agent sandbox build",
        )
    return Check(
        "image",
        True,
        f"{status.image} is current (recipe {status.expected_hash}, "
        f"{(status.size_bytes or 0) >> 20} MiB)",
    )


def _containers_check(engine: Engine) -> Check:
    """How many sandbox containers exist, and how many of them lost their owner."""
    containers = engine.sandbox_containers()
    orphans = [c for c in containers if not owner_alive(c.get("Labels") or {})]
    return Check(
        "containers",
        True,
        f"{len(containers)} sandbox container(s) exist, {len(orphans)} orphaned "
        "(orphans are removed when the next session starts)",
    )


async def _smoke(config: SandboxConfig) -> Check:
    from gptoss_agent.sandbox.session import DockerSandbox

    sandbox = DockerSandbox(config, session="doctor")
    try:
        started = time.perf_counter()
        first = await sandbox.execute(_PROBE, timeout_s=60)
        cold = time.perf_counter() - started
        started = time.perf_counter()
        await sandbox.execute("1 + 1", timeout_s=10)
        warm = time.perf_counter() - started
    except SandboxError as exc:
        return Check("session", False, f"a test session failed: {exc}", "see the error above")
    finally:
        await sandbox.close()
        sandbox.drive.remove_all()
    if not first.ok:
        return Check("session", False, f"the probe failed: {first.detail or first.error}")
    python, uid, interfaces, modules = ([*first.stdout.split(), "", "", "", ""])[:4]
    network_ok = config.network or interfaces == "lo"
    return Check(
        "session",
        network_ok and uid != "0",
        f"Python {python} as uid {uid}; network interfaces: {interfaces}; modules: "
        f"{modules.replace(',', ', ')}; cold start {cold * 1000:.0f} ms, warm call "
        f"{warm * 1000:.1f} ms",
        "" if network_ok else "containers see a network interface: check the engine",
    )


def render_report(checks: list[Check]) -> str:
    """The checks as the lines the CLI prints."""
    lines = []
    for check in checks:
        mark = "ok  " if check.ok else "FAIL"
        lines.append(f"[{mark}] {check.name}: {check.detail}")
        if check.fix and not check.ok:
            lines.append(f"       fix: {check.fix}")
    verdict = "all good" if all(c.ok for c in checks) else "problems found"
    lines.append(f"sandbox doctor: {verdict}")
    return "\n".join(lines)

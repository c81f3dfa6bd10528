"""Latency of a small python-tool call: a warm sandbox session vs a fresh container per call.

The reference python tool starts one container per call (``docker run --rm IMAGE python3
-c CODE``): no state, and the full container start on every call. The sandbox keeps one
container per session with a kernel reached over a kept-open attach stream. Both run
the same code on the same image in this process, side by side; the ratio of the medians
is the figure. Cold session start (create, start, handshake, first call) is reported too.

Usage: ``python bench/sandbox_latency.py [--quick] [--image IMAGE]``. Needs a running
Docker engine and the sandbox image. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time

from gptoss_agent.sandbox import DEFAULT_IMAGE, DockerSandbox, SandboxConfig, SandboxError
from gptoss_agent.sandbox.engine import Engine

CODE = "sum(i * i for i in range(1000))"
EXPECTED = str(sum(i * i for i in range(1000)))


async def warm_calls(config: SandboxConfig, engine: Engine, count: int) -> list[float]:
    """Seconds per call in one already started session."""
    with tempfile.TemporaryDirectory() as folder:
        sandbox = DockerSandbox(config, data_dir=folder, session="bench-warm", engine=engine)
        try:
            await sandbox.start()
            for _ in range(5):
                await sandbox.execute(CODE)
            times = []
            for _ in range(count):
                started = time.perf_counter()
                result = await sandbox.execute(CODE)
                times.append(time.perf_counter() - started)
                assert result.value == EXPECTED, result
        finally:
            await sandbox.close()
    return times


async def cold_starts(config: SandboxConfig, engine: Engine, count: int) -> list[float]:
    """Seconds from a new session to the answer of its first call."""
    times = []
    for index in range(count):
        with tempfile.TemporaryDirectory() as folder:
            sandbox = DockerSandbox(
                config, data_dir=folder, session=f"bench-cold-{index}", engine=engine
            )
            try:
                started = time.perf_counter()
                result = await sandbox.execute(CODE)
                times.append(time.perf_counter() - started)
                assert result.value == EXPECTED, result
            finally:
                await sandbox.close()
    return times


def fresh_container_calls(image: str, engine: Engine, count: int) -> list[float]:
    """Seconds per call when every call runs in a new container (the reference design)."""
    command = ["python3", "-c", f"print({CODE})"]
    host_config = {"network_mode": "none", "read_only": True}
    times = []
    for _ in range(count):
        started = time.perf_counter()
        code, output = engine.run_once(image, command, host_config, timeout_s=60.0)
        times.append(time.perf_counter() - started)
        assert code == 0 and output.decode().strip() == EXPECTED, (code, output)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run (under a minute)")
    parser.add_argument("--image", default=DEFAULT_IMAGE)
    args = parser.parse_args()
    warm_n, cold_n, base_n = (50, 3, 5) if args.quick else (300, 8, 15)

    try:
        engine = Engine.connect(timeout_s=30.0)
        if engine.image_labels(args.image) is None:
            raise SandboxError(
                f"image {args.image} is missing: python -m gptoss_agent.sandbox build"
            )
    except SandboxError as exc:
        print(f"sandbox_latency: {exc}", file=sys.stderr)
        return 1
    config = SandboxConfig(image=args.image)

    baseline = fresh_container_calls(args.image, engine, base_n)
    warm = asyncio.run(warm_calls(config, engine, warm_n))
    cold = asyncio.run(cold_starts(config, engine, cold_n))

    warm_ms = statistics.median(warm) * 1000
    baseline_ms = statistics.median(baseline) * 1000
    cold_ms = statistics.median(cold) * 1000
    ratio = baseline_ms / warm_ms

    print(f"small call: {CODE}")
    print(f"{'design':<38}{'calls':>7}{'median ms':>12}{'p90 ms':>10}")
    for name, times in (
        ("warm session (kept-open kernel)", warm),
        ("fresh container per call (reference)", baseline),
        ("cold session start + first call", cold),
    ):
        p90 = sorted(times)[max(0, int(len(times) * 0.9) - 1)] * 1000
        print(f"{name:<38}{len(times):>7}{statistics.median(times) * 1000:>12.1f}{p90:>10.1f}")
    print(f"warm session is {ratio:.0f}x faster than a fresh container per call (goal: 50x)")
    print(
        json.dumps(
            {
                "bench": "sandbox_latency",
                "ratio": round(ratio, 1),
                "warm_ms": round(warm_ms, 2),
                "baseline_ms": round(baseline_ms, 1),
                "cold_start_ms": round(cold_ms, 1),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Token throughput of 16 agent tasks on one model at once vs the same tasks one at a time.

By default everything runs in this process: one ``TransformersBackend`` on the shipped
tiny Harmony model (``examples/tiny_model/model``, nothing downloaded) is shared by 16
agent sessions, each running one short tool episode through the real loop (a stock
lookup with the ``get_stock`` function tool, or arithmetic with the ``python`` tool on the
offline arithmetic sandbox: the model calls the tool, reads its result, answers). The same
16 episodes run one after another and all at once, in the same run, alternating which goes
first; throughput is sampled tokens per second of wall time. Both modes must give the same
answers (greedy decoding), and the bench says so.

The table shows, per mode: sampled tokens, seconds, tokens/s, model steps (decode batches,
prefill batches) and their mean sizes, the worker's seconds in prefill and in decode, the
process's CPU seconds and the event loop thread's CPU seconds (the agent loop, Harmony
rendering and parsing, tools: work that batching the model does not share out).
Rounds repeat (``--rounds``); the ratio of each round is printed and the median is the
result (the machine is shared: the spread says how much to trust it). The same ratio per
second of this process's CPU time is printed too (``cpu_time_ratio``): other processes
on the cores stretch wall time, much less CPU time.

torch runs on one CPU thread by default here (``--threads``): on two cores shared with
other work, two intra-op threads wait on each other at every operation of a tiny model
and a decode step can take tens of times longer; one thread leaves the other core to the
event loop.

``--url URL --server KIND`` measures an inference server instead (synthetic episodes
through ``ServerBackend``), and ``--serve`` starts ``gptoss-agent serve`` on a tiny random
model here and measures through it.

Last line: ``{"bench": "concurrency", "throughput_ratio": ...}``.
Usage: ``python bench/concurrency.py [--quick] [--rounds N] [--threads N]
[--url URL --server vllm|sglang|llama.cpp | --serve]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

TASKS = 16


@dataclass(frozen=True)
class Mode:
    """What one mode (one at a time, or all at once) did in one round."""

    tokens: int
    seconds: float
    cpu_seconds: float
    loop_cpu_seconds: float
    decode_steps: int
    decoded_rows: int
    prefill_steps: int
    prefill_rows: int
    prefill_s: float
    decode_s: float
    answers: tuple[str | None, ...]

    @property
    def tokens_per_s(self) -> float:
        """Sampled tokens per second of wall time."""
        return self.tokens / self.seconds

    @property
    def tokens_per_cpu_s(self) -> float:
        """Sampled tokens per second of this process's CPU time (steadier under load)."""
        return self.tokens / self.cpu_seconds


def _cases() -> list[Any]:
    from examples.tiny_model.families import sample_function, sample_python

    rng = random.Random(17)
    return [(sample_function if index % 2 else sample_python)(rng) for index in range(TASKS)]


async def _episode(backend: Any, case: Any) -> tuple[int, str | None]:
    """One task through the real loop; its sampled tokens and final answer."""
    from examples.tiny_model.agents import tiny_agent
    from examples.tiny_model.evaluate import offline_tools_for

    agent = tiny_agent(backend, offline_tools_for(case))
    try:
        result = await agent.run(case.prompt)
    finally:
        await agent.aclose()
    return result.usage.sampled_tokens, result.final_text


async def _mode(backend: Any, cases: list[Any], together: bool) -> Mode:
    before, steps_before = backend.counters, _steps(backend)
    started, cpu_started, loop_started = (time.perf_counter(), time.process_time(),
                                          time.thread_time())
    if together:
        done = await asyncio.gather(*(_episode(backend, case) for case in cases))
    else:
        done = [await _episode(backend, case) for case in cases]
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    loop_cpu_seconds = time.thread_time() - loop_started  # the event loop's thread
    after, steps_after = backend.counters, _steps(backend)
    return Mode(
        tokens=sum(tokens for tokens, _ in done), seconds=seconds, cpu_seconds=cpu_seconds,
        loop_cpu_seconds=loop_cpu_seconds,
        decode_steps=steps_after[0] - steps_before[0],
        decoded_rows=after.decoded_tokens - before.decoded_tokens,
        prefill_steps=steps_after[1] - steps_before[1],
        prefill_rows=steps_after[2] - steps_before[2],
        prefill_s=after.prefill_seconds - before.prefill_seconds,
        decode_s=after.decode_seconds - before.decode_seconds,
        answers=tuple(answer for _, answer in done),
    )


def _steps(backend: Any) -> tuple[int, int, int]:
    """Decode batches, prefill batches and prefill rows the backend has run so far."""
    counters = backend.counters
    return counters.decode_steps, counters.prefill_steps, counters.prefill_rows


async def _in_process(args: argparse.Namespace) -> tuple[list[Mode], list[Mode]]:
    from examples.tiny_model.shipped import SHIPPED
    from gptoss_agent.agent.backends.transformers import (
        TransformersBackend,
        TransformersBackendConfig,
    )

    backend = await TransformersBackend.aload(TransformersBackendConfig(
        model=str(SHIPPED), device="cpu", dtype="float32", threads=args.threads,
        max_sessions=4 * TASKS, decode_batch=TASKS))
    cases = _cases()
    try:
        await _mode(backend, cases[:2], together=True)  # warm-up
        alone, together = [], []
        for round_ in range(args.rounds):
            first_together = round_ % 2 == 1  # alternate, against drifting load
            for mode in ((True, False) if first_together else (False, True)):
                (together if mode else alone).append(await _mode(backend, cases, mode))
    finally:
        await backend.aclose()
    return alone, together


def _row(name: str, mode: Mode) -> str:
    decode_mean = mode.decoded_rows / mode.decode_steps if mode.decode_steps else 0.0
    prefill_mean = mode.prefill_rows / mode.prefill_steps if mode.prefill_steps else 0.0
    return (f"{name:<14} {mode.tokens:>7} {mode.seconds:>8.2f} {mode.tokens_per_s:>9.1f} "
            f"{mode.decode_steps:>6} {decode_mean:>6.1f} {mode.prefill_steps:>6} "
            f"{prefill_mean:>6.1f} {mode.prefill_s:>8.2f} {mode.decode_s:>8.2f} "
            f"{mode.cpu_seconds:>6.2f} {mode.loop_cpu_seconds:>7.2f}")


def _report(alone: list[Mode], together: list[Mode]) -> dict[str, Any]:
    print(f"{'mode':<14} {'tokens':>7} {'seconds':>8} {'tokens/s':>9} {'decode':>6} "
          f"{'mean':>6} {'prefil':>6} {'mean':>6} {'prefil_s':>8} {'decode_s':>8} {'cpu_s':>6} "
          f"{'loop_s':>7}")
    ratios, cpu_ratios = [], []
    for index, (one, many) in enumerate(zip(alone, together, strict=True)):
        print(_row(f"one-by-one #{index}", one))
        print(_row(f"16 at once #{index}", many))
        ratios.append(many.tokens_per_s / one.tokens_per_s)
        cpu_ratios.append(many.tokens_per_cpu_s / one.tokens_per_cpu_s)
    same = all(one.answers == many.answers for one, many in zip(alone, together, strict=True))
    ratio = statistics.median(ratios)
    print(f"ratios per round: {', '.join(f'{r:.2f}' for r in ratios)}; median {ratio:.2f}x; "
          f"same answers in both modes: {same}")
    print(f"per CPU second of this process: {', '.join(f'{r:.2f}' for r in cpu_ratios)} "
          "(steadier when other processes share the cores)")
    last = together[-1]
    return {
        "bench": "concurrency", "throughput_ratio": round(ratio, 3),
        "ratio_min": round(min(ratios), 3), "ratio_max": round(max(ratios), 3),
        "rounds": len(ratios), "backend": "transformers",
        "cpu_time_ratio": round(statistics.median(cpu_ratios), 3),
        "one_tokens_per_s": round(statistics.median(m.tokens_per_s for m in alone), 2),
        "many_tokens_per_s": round(statistics.median(m.tokens_per_s for m in together), 2),
        "mean_decode_batch": round(last.decoded_rows / max(1, last.decode_steps), 2),
        "same_answers": same,
    }


# -- through a server (--url, --serve): synthetic episodes over ServerBackend ---------------


async def _server_episode(backend: Any, codec: Any, session: str, turns: int,
                          gen_tokens: int) -> int:
    """A few turns of ``gen_tokens`` each, a tool result appended after each."""
    from gptoss_agent.agent.backends.base import GenerationRequest, SamplingParams

    prompt = tuple(codec.encode_with_special(
        f"<|start|>user<|message|>Session {session}: run the tests and fix what fails."
        "<|end|><|start|>assistant"))
    sampled = 0
    for turn in range(turns):
        request = GenerationRequest(
            prompt=prompt, stop_tokens=frozenset(), session_id=session,
            sampling=SamplingParams(temperature=0.0, max_tokens=gen_tokens))
        tokens = [token async for token in backend.generate(request)]
        sampled += len(tokens)
        result = f"turn {turn}: " + " ".join(f"line {i} ok" for i in range(40))
        prompt = (*prompt, *tokens,
                  *codec.encode_with_special("<|start|>functions.run to=assistant<|message|>"),
                  *codec.encode_text(result),
                  *codec.encode_with_special("<|end|><|start|>assistant"))
    await backend.release(session)
    return sampled


async def _server_mode(backend: Any, codec: Any, together: bool, tag: str,
                       turns: int, gen: int) -> tuple[int, float]:
    started = time.perf_counter()
    jobs = [_server_episode(backend, codec, f"{tag}-{i}", turns, gen) for i in range(TASKS)]
    counts = list(await asyncio.gather(*jobs)) if together else [await job for job in jobs]
    return sum(counts), time.perf_counter() - started


async def _through_server(args: argparse.Namespace, url: str, kind: str) -> dict[str, Any]:
    from gptoss_agent.agent.backends.server import ServerBackend, server_config
    from gptoss_agent.agent.harmony.codec import load_codec

    codec = load_codec()
    backend = ServerBackend(server_config(kind, url))
    turns, gen = (2, 4) if args.quick else (3, 16)
    try:
        await _server_mode(backend, codec, True, "warmup", 1, 4)
        ratios = []
        for round_ in range(args.rounds):
            one = await _server_mode(backend, codec, False, f"one{round_}", turns, gen)
            many = await _server_mode(backend, codec, True, f"many{round_}", turns, gen)
            ratios.append((many[0] / many[1]) / (one[0] / one[1]))
            print(f"round {round_}: one by one {one[0]} tokens in {one[1]:.2f} s, "
                  f"16 at once {many[0]} in {many[1]:.2f} s: {ratios[-1]:.2f}x")
    finally:
        await backend.aclose()
    return {"bench": "concurrency", "throughput_ratio": round(statistics.median(ratios), 3),
            "ratio_min": round(min(ratios), 3), "ratio_max": round(max(ratios), 3),
            "rounds": len(ratios), "backend": f"server:{kind}"}


def _start_serve(model_dir: Path) -> tuple[Any, str]:
    import subprocess

    command = [sys.executable, "-m", "gptoss_agent.agent.cli.serve", str(model_dir),
               "--port", "0", "--device", "cpu", "--max-sessions", "64"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline() if process.stdout else ""
    if "listening on " not in line:
        process.kill()
        raise SystemExit(f"gptoss-agent serve did not start: {line!r}")
    return process, line.split()[-1]


def _server_bench(args: argparse.Namespace) -> dict[str, Any]:
    import tempfile

    if args.url:
        return asyncio.run(_through_server(args, args.url, args.server or "gptoss-agent"))
    from gptoss_agent.agent.backends.transformers.tiny import build_tiny_model

    with tempfile.TemporaryDirectory() as scratch:
        process, url = _start_serve(build_tiny_model(Path(scratch) / "m"))
        try:
            return asyncio.run(_through_server(args, url, "gptoss-agent"))
        finally:
            process.terminate()
            process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one round (< 1 min)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 3)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1: see the module docstring)")
    parser.add_argument("--url", default=None, help="an OpenAI-compatible API root to use")
    parser.add_argument("--server", default=None, choices=["vllm", "sglang", "llama.cpp"])
    parser.add_argument("--serve", action="store_true",
                        help="measure through gptoss-agent serve on a tiny random model")
    args = parser.parse_args()
    args.rounds = args.rounds or (1 if args.quick else 3)
    if args.url or args.serve:
        figures = _server_bench(args)
    else:
        figures = _report(*asyncio.run(_in_process(args)))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()

"""A 40-turn tool episode on the tiny model: KV reuse, and compaction in its own window.

The model's turns are forced (a fixed script of calls: the tiny model knows no 40-step
task), but every prompt goes through the real model
(``ScriptedBackend(through=TransformersBackend)``), so the loop, the compaction and the
KV cache all do real work. Each turn a function tool answers with a log of a few hundred
tokens. Turn k is the generation that reads the k-th tool result.

Two parts:

1. **KV reuse vs re-prefilling every turn**, same episode, same model, in a window set
   large enough to hold it (only its cost is measured here): prefilled tokens over tokens
   appended to the conversation (goal <= 1.1), turn 40's time over turn 1's with reuse
   (goal <= 1.5), whole-episode wall time without reuse over with it (goal >= 5).
2. **The model's own 2,048-token window**: with compaction (eliding old tool outputs) the
   episode ends with ``final``, prefilling at most 1.5x the appended tokens (re-prefill
   after each compaction included); without compaction it stops with ``context_full``.
   Its stubs are the bare ones (``keep_elided=False``): forty calls and their stubs
   alone nearly fill 2,048 tokens, and a stub that names the pager call reading its
   text back costs about 18 tokens more, which forty of them cannot afford.

Turn k's cost is its generation's time; the growth figure uses the process's CPU time
(median of turns 1-3 against the last three), which another process on a shared
machine does not inflate. Prints a table of turn k's cost in every mode, then as its
last line one JSON object:
``{"bench": "long_run", "prefill_ratio": ..., "wall_ratio": ..., "turn_growth_reuse": ...,
"compacted_prefill_ratio": ..., "compacted_stop": "final"}``.

Usage: ``python bench/long_run.py [--quick] [--turns N] [--tool-tokens N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from gptoss_agent.agent.agent import Agent
from gptoss_agent.agent.backends.base import GenerationRequest, SamplingParams
from gptoss_agent.agent.backends.scripted import ScriptedBackend
from gptoss_agent.agent.context import CompactionConfig
from gptoss_agent.agent.harmony.codec import HarmonyCodec, load_codec
from gptoss_agent.agent.limits import LoopLimits
from gptoss_agent.agent.result import RunResult
from gptoss_agent.agent.transcript import TranscriptWriter, read_records
from gptoss_agent.tools.function import function_tool

WORDS = ("error", "warning", "passed", "failed", "module", "line", "value", "expected")
TOOL_TOKENS = {"size": 250}
"""The length of each tool output, set from the command line."""


def log_text(step: int) -> str:
    """The log of step ``step``: about ``TOOL_TOKENS["size"]`` tokens of test output."""
    rng = random.Random(step)
    lines: list[str] = []
    while len(" ".join(lines)) < TOOL_TOKENS["size"] * 4:
        lines.append(f"t{rng.randrange(99)}.py:{rng.randrange(999)} "
                     + " ".join(rng.choice(WORDS) for _ in range(7)))
    return "\n".join(lines)


@function_tool
def run(step: int) -> str:
    """Run step ``step`` of the job and return its log.

    Args:
        step: Which step.
    """
    return log_text(step)


def episode(turns: int) -> list[str]:
    """The forced turns: ``turns`` calls, then the answer."""
    calls = [f'<|channel|>commentary to=functions.run <|constrain|>json<|message|>'
             f'{{"step":{step}}}<|call|>' for step in range(turns)]
    return [*calls, "<|channel|>final<|message|>All steps ran.<|return|>"]


class TimedScript(ScriptedBackend):
    """The forced script through the real model, timing each generation."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seconds: list[float] = []
        self.cpu_seconds: list[float] = []
        self.prefilled: list[int] = []

    async def generate(self, request: GenerationRequest) -> AsyncIterator[int]:
        started, cpu = time.perf_counter(), time.process_time()
        async for token in super().generate(request):
            yield token
        self.seconds.append(time.perf_counter() - started)
        self.cpu_seconds.append(time.process_time() - cpu)
        stats = self.last_stats(request.session_id)
        self.prefilled.append(stats.prefilled_tokens if stats is not None else 0)


@dataclass
class Mode:
    """One run of the episode and its figures."""

    name: str
    result: RunResult
    wall_s: float
    appended: int
    seconds: list[float] = field(default_factory=list)
    cpu_seconds: list[float] = field(default_factory=list)
    prefilled: list[int] = field(default_factory=list)

    @property
    def prefill_ratio(self) -> float:
        return sum(self.prefilled) / self.appended


def appended_tokens(path: Path) -> int:
    """Tokens appended to the conversation (every ``segment`` record; a compaction's
    rewrite appends nothing, its re-prefill counts against the ratio)."""
    return sum(len(record["tokens"]) for record in read_records(path)
               if record["type"] == "segment")


async def run_mode(name: str, model: Any, codec: HarmonyCodec, turns: int, *,
                   window: int | None, compaction: CompactionConfig | None) -> Mode:
    """The episode on ``model`` (a transformers backend) in one mode."""
    backend = TimedScript(episode(turns), codec=codec, through=model)
    agent = Agent(backend, [run], codec=codec, conversation_start_date="",
                  reasoning_effort="low", sampling=SamplingParams(max_tokens=64),
                  limits=LoopLimits(max_generations=turns + 2, max_repeated_calls=turns + 2),
                  context_window=window, compaction=compaction)
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "episode.jsonl"
        started = time.perf_counter()
        async with agent.session(f"long-{name}", transcript=TranscriptWriter(path)) as session:
            result = await session.send("Run every step of the job, then report.")
        wall = time.perf_counter() - started
        appended = appended_tokens(path)
    return Mode(name, result, wall, appended, backend.seconds, backend.cpu_seconds,
                backend.prefilled)


def load_backends(threads: int | None) -> tuple[Any, Any]:
    """The shipped tiny model behind two backends: KV reuse on, and re-prefill every turn."""
    from examples.tiny_model.shipped import tiny_model_path
    from gptoss_agent.agent.backends import TransformersBackend, TransformersBackendConfig

    if threads:
        import torch

        torch.set_num_threads(threads)
    reusing = TransformersBackend.load(TransformersBackendConfig(
        model=str(tiny_model_path()), device="cpu"))
    full = TransformersBackend(reusing.model, TransformersBackendConfig(
        model="", reuse_cache=False), allowed_ids=reusing.allowed_ids)
    return reusing, full


async def warm_up(backends: tuple[Any, ...], codec: HarmonyCodec) -> None:
    """First-call allocations and lazy imports, outside the measurement."""
    prompt = tuple(codec.encode_text(log_text(999)))
    for backend in backends:
        request = GenerationRequest(prompt=prompt, stop_tokens=frozenset(),
                                    sampling=SamplingParams(temperature=0, max_tokens=2),
                                    session_id="warm")
        async for _ in backend.generate(request):
            pass
        await backend.release("warm")


def print_table(modes: list[Mode]) -> None:
    """Turn k's cost (prefilled tokens, wall and CPU milliseconds) in every mode."""
    header = " | ".join(f"{m.name + ': prefill':>20} {'ms':>7} {'cpu':>7}" for m in modes)
    print(f"{'turn':>4} | {header}")
    longest = max(len(m.seconds) for m in modes)
    for turn in range(1, longest):
        cells = []
        for mode in modes:
            if turn < len(mode.seconds):
                cells.append(f"{mode.prefilled[turn]:>20} {mode.seconds[turn] * 1000:>7.1f} "
                             f"{mode.cpu_seconds[turn] * 1000:>7.1f}")
            else:
                cells.append(f"{'(stopped)':>20} {'':>7} {'':>7}")
        print(f"{turn:>4} | " + " | ".join(cells))


OFF = CompactionConfig(strategies=())  # compaction off: the runs that must not rewrite


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Both parts of the bench; the figures of the last line."""
    codec = load_codec()
    reusing, full = load_backends(args.threads)
    await warm_up((reusing, full), codec)
    for backend in (reusing, full):  # and the loop's own first-run costs
        await run_mode("warm", backend, codec, 3, window=None, compaction=OFF)
    big = args.turns * (TOOL_TOKENS["size"] + 80) + 2048
    reuse = await run_mode("reuse", reusing, codec, args.turns, window=big, compaction=OFF)
    again = await run_mode("re-prefill", full, codec, args.turns, window=big, compaction=OFF)
    elide = CompactionConfig(strategies=("elide_tool_outputs",), threshold=0.85, target=0.5,
                             keep_recent=1, reserve_tokens=64, keep_elided=False)
    compacted = await run_mode("compacted", reusing, codec, args.turns, window=None,
                               compaction=elide)
    bare = await run_mode("2048, none", reusing, codec, args.turns, window=None,
                          compaction=OFF)
    await reusing.aclose()
    await full.aclose()
    print_table([reuse, again, compacted])
    return report(reuse, again, compacted, bare)


def report(reuse: Mode, again: Mode, compacted: Mode, bare: Mode) -> dict[str, Any]:
    """Print the summary lines; the figures of the last line."""
    # Turn k is generation k + 1. Its cost is the process's CPU time (a shared machine's
    # other work does not count), the median of three turns at each end (1-3, last 3).
    calls = reuse.cpu_seconds[1:]
    growth = statistics.median(calls[-3:]) / statistics.median(calls[:3])
    wall_ratio = again.wall_s / reuse.wall_s
    print(f"reuse: prefilled {sum(reuse.prefilled)} / appended {reuse.appended} = "
          f"{reuse.prefill_ratio:.3f} (goal <= 1.1); re-prefilling: "
          f"{sum(again.prefilled)} tokens")
    print(f"wall: reuse {reuse.wall_s:.2f}s, re-prefill {again.wall_s:.2f}s, "
          f"{wall_ratio:.2f}x (goal >= 5); turn {len(calls)} / turn 1 with reuse (CPU time, "
          f"medians of three): {growth:.2f}x (goal <= 1.5)")
    print(f"2048-token window with elision: {compacted.result.stop_reason.value}, "
          f"{compacted.result.usage.compactions} compactions, prefilled "
          f"{sum(compacted.prefilled)} / appended {compacted.appended} = "
          f"{compacted.prefill_ratio:.3f} (goal <= 1.5); without compaction: "
          f"{bare.result.stop_reason.value} after {bare.result.usage.generations} "
          "generations")
    return {"bench": "long_run", "prefill_ratio": round(reuse.prefill_ratio, 4),
            "wall_ratio": round(wall_ratio, 3), "turn_growth_reuse": round(growth, 3),
            "compacted_prefill_ratio": round(compacted.prefill_ratio, 4),
            "compacted_stop": compacted.result.stop_reason.value,
            "uncompacted_stop": bare.result.stop_reason.value,
            "compactions": compacted.result.usage.compactions, "turns": len(calls),
            "reuse_s": round(reuse.wall_s, 3), "re_prefill_s": round(again.wall_s, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a shorter episode (< 1 min)")
    parser.add_argument("--turns", type=int, default=None, help="tool calls (default 40)")
    parser.add_argument("--tool-tokens", type=int, default=None, help="each tool output")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args()
    args.turns = args.turns or (16 if args.quick else 40)
    TOOL_TOKENS["size"] = args.tool_tokens or (150 if args.quick else 250)
    print(json.dumps(asyncio.run(measure(args))))


if __name__ == "__main__":
    main()

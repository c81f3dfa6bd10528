"""Constrained decoding: what the grammar costs per decode step, and what it buys.

Two figures, measured in the same run:

* **Decode-step cost** on the shipped tiny model (``examples/tiny_model/model``, a trained
  gpt-oss checkpoint with a restricted vocabulary). Held-out cases of its three task
  families run through the real loop once, recording every prompt the loop sent; each
  prompt is then decoded greedily with and without the decoding constraint the loop
  builds for the case's tools (``tool_choice: auto``, every call strict:
  :func:`gptoss_agent.agent.choice.decoding_constraint`), alternating the order, ``--rounds``
  times. The time between two streamed tokens is one decode step; for each step of each
  prompt the fastest of the rounds is kept (machines are noisy), and ``step_ratio`` =
  constrained / free over the steps both runs made. The trained model writes what the
  grammar allows, so both runs usually sample the same tokens (``same tokens``).
* **Schema-valid tool calls** of a random tiny GptOss (built here, random weights, made
  to end its free-text messages after a few tokens): for each of ``--schemas`` random
  argument schemas, one sample with the call header already in the prompt and no
  constraint (``valid_free``: the arguments parse and match the schema), and one sample
  from ``<|start|>assistant`` under a constraint that names the tool
  (``valid_constrained``). Temperature 1, seeded.

Prints a table per part, then as its last line
``{"bench": "constrained", "step_ratio": ..., "valid_constrained": ..., "valid_free": ...}``
(goals: ``step_ratio`` at most 1.15, ``valid_constrained`` 1.0).

Usage: ``python bench/constrained.py [--quick] [--rounds N] [--cases N] [--schemas N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from gptoss_agent.agent.backends.base import GenerationRequest, GenerationStats, SamplingParams
from gptoss_agent.agent.backends.constraint import CallTarget, DecodingConstraint
from gptoss_agent.agent.backends.transformers.constraint_kit import (
    arguments_valid,
    last_message,
    random_schema,
)
from gptoss_agent.agent.harmony.codec import load_codec

SHIPPED = Path(__file__).resolve().parents[1] / "examples" / "tiny_model" / "model"
BUDGET = 1200
"""Token budget of one sample of the random model (its messages end soon, its JSON is
bounded, but it may reason for a few dozen messages first)."""


class Recorder:
    """A backend wrapper that remembers every request the loop sends."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.requests: list[GenerationRequest] = []

    def generate(self, request: GenerationRequest) -> AsyncIterator[int]:
        self.requests.append(request)
        return self.inner.generate(request)

    def last_stats(self, session_id: str) -> GenerationStats | None:
        return self.inner.last_stats(session_id)

    async def release(self, session_id: str) -> None:
        await self.inner.release(session_id)

    async def aclose(self) -> None:
        """The wrapped backend outlives the run."""


def constraint_for(tools: Sequence[Any]) -> DecodingConstraint:
    """The constraint the loop builds for ``tools`` when every call is strict.

    (The loop asks for none when no tool has a schema, as for the ``python`` family alone;
    the same targets then still limit the recipients.)
    """
    from gptoss_agent.agent.choice import decoding_constraint
    from gptoss_agent.tools.registry import ToolRegistry

    registry = ToolRegistry(tools)
    constraint = decoding_constraint(registry, "auto", strict=True, output=None)
    if constraint is not None:
        return constraint
    specs = (*registry.builtin_specs, *registry.developer_specs)
    return DecodingConstraint(calls=tuple(
        CallTarget(spec.name, ("analysis", "commentary") if spec.builtin else ("commentary",),
                   freeform=True)
        for spec in specs if spec.is_freeform))


async def record(backend: Any, cases: int) -> list[tuple[str, GenerationRequest,
                                                         DecodingConstraint]]:
    """``(family, request, constraint)`` of every generation of the held-out cases."""
    from examples.tiny_model.evaluate import heldout_cases, offline_tools_for, run_case
    from examples.tiny_model.families import FAMILIES

    recorded = []
    for family in FAMILIES:
        for case in heldout_cases(family, cases):
            recorder = Recorder(backend)
            await run_case(recorder, case)
            constraint = constraint_for(offline_tools_for(case))
            recorded += [(family, request, constraint) for request in recorder.requests]
    return recorded


async def timed(backend: Any, request: GenerationRequest,
                constraint: DecodingConstraint | None, session: str) -> tuple[list[int],
                                                                               list[float]]:
    """The tokens of one generation and the time between each two of them."""
    again = GenerationRequest(prompt=request.prompt, stop_tokens=request.stop_tokens,
                              sampling=request.sampling, session_id=session,
                              constraint=constraint)
    tokens, stamps = [], []
    async for token in backend.generate(again):
        stamps.append(time.perf_counter())
        tokens.append(token)
    await backend.release(session)
    return tokens, [later - earlier for earlier, later in itertools.pairwise(stamps)]


async def step_cost(args: argparse.Namespace) -> dict[str, Any]:
    """Part one: decode steps of the shipped model with and without constraints."""
    from gptoss_agent.agent.backends.transformers import (
        TransformersBackend,
        TransformersBackendConfig,
    )

    backend = TransformersBackend.load(TransformersBackendConfig(
        model=str(args.model), device="cpu", dtype="float32"))
    try:
        recorded = await record(backend, args.cases)
        await timed(backend, *recorded[0][1:], "warm")  # llguidance's tokenizer, a grammar
        best: dict[str, list[list[float]]] = {"free": [], "constrained": []}
        same = [True] * len(recorded)
        for round_ in range(args.rounds):
            for index, (_, request, constraint) in enumerate(recorded):
                order = ("free", "constrained") if (round_ + index) % 2 else \
                    ("constrained", "free")
                outputs = {}
                for mode in order:
                    tokens, gaps = await timed(backend, request,
                                               constraint if mode == "constrained" else None,
                                               mode)
                    outputs[mode] = tokens
                    _keep_fastest(best[mode], index, gaps)
                same[index] = same[index] and outputs["free"] == outputs["constrained"]
    finally:
        await backend.aclose()
    return _step_table(recorded, best, same, args.rounds)


def _keep_fastest(best: list[list[float]], index: int, gaps: list[float]) -> None:
    """Fold ``gaps`` into ``best[index]``, step by step keeping the smaller time."""
    while len(best) <= index:
        best.append([])
    kept = best[index]
    kept[:] = [min(pair) for pair in zip(kept, gaps, strict=False)] + \
        (gaps[len(kept):] if len(gaps) > len(kept) else kept[len(gaps):])


def _step_table(recorded: list[tuple[str, GenerationRequest, DecodingConstraint]],
                best: dict[str, list[list[float]]], same: list[bool],
                rounds: int) -> dict[str, Any]:
    rows: dict[str, list[float]] = {}
    print(f"\ndecode step of the shipped tiny model, fastest of {rounds} rounds per step")
    print(f"{'family':>9} {'prompts':>7} {'steps':>6} | {'free ms':>8} {'constr. ms':>10} | "
          f"{'ratio':>6} | same tokens")
    for family in dict.fromkeys(item[0] for item in recorded):
        indices = [i for i, item in enumerate(recorded) if item[0] == family]
        free, constrained = _paired(best, indices)
        rows[family] = [free, constrained]
        steps = sum(min(len(best["free"][i]), len(best["constrained"][i])) for i in indices)
        print(f"{family:>9} {len(indices):>7} {steps:>6} | {free / steps * 1e3:>8.3f} "
              f"{constrained / steps * 1e3:>10.3f} | {constrained / free:>5.3f}x | "
              f"{sum(same[i] for i in indices)}/{len(indices)}")
    free = sum(row[0] for row in rows.values())
    constrained = sum(row[1] for row in rows.values())
    medians = [statistics.median(gap for row in best[mode] for gap in row)
               for mode in ("free", "constrained")]
    print(f"{'all':>9} {len(recorded):>7} | total {free:.3f}s free, {constrained:.3f}s "
          f"constrained: {constrained / free:.3f}x (goal <= 1.15); median step "
          f"{medians[0] * 1e3:.3f} vs {medians[1] * 1e3:.3f} ms")
    return {"step_ratio": round(constrained / free, 4),
            "median_step_ratio": round(medians[1] / medians[0], 4),
            "free_step_ms": round(medians[0] * 1e3, 4),
            "constrained_step_ms": round(medians[1] * 1e3, 4),
            "same_tokens": round(sum(same) / len(same), 4), "prompts": len(recorded)}


def _paired(best: dict[str, list[list[float]]], indices: list[int]) -> tuple[float, float]:
    """Total best step time of both modes over the steps both made."""
    free = constrained = 0.0
    for i in indices:
        steps = min(len(best["free"][i]), len(best["constrained"][i]))
        free += sum(best["free"][i][:steps])
        constrained += sum(best["constrained"][i][:steps])
    return free, constrained


async def valid_rate(args: argparse.Namespace) -> dict[str, Any]:
    """Part two: schema-valid calls of a random model, free and constrained."""
    from gptoss_agent.agent.backends.transformers import (
        TransformersBackend,
        TransformersBackendConfig,
    )
    from gptoss_agent.agent.backends.transformers.tiny import build_tiny_model

    codec = load_codec()
    with tempfile.TemporaryDirectory() as scratch:
        folder = build_tiny_model(Path(scratch) / "random", seed=7, end_bias=10.0)
        backend = TransformersBackend.load(TransformersBackendConfig(model=str(folder),
                                                                     device="cpu"))
    rng = random.Random(args.seed)
    schemas = [random_schema(rng) for _ in range(args.schemas)]
    names = [f"functions.tool_{index}" for index in range(len(schemas))]

    async def sample(index: int, header: str, constraint: DecodingConstraint | None) -> Any:
        prompt = codec.encode_with_special(
            f"<|start|>user<|message|>Task number {index}: use a tool.<|end|>"
            f"<|start|>assistant{header}")
        request = GenerationRequest(
            prompt=tuple(prompt), stop_tokens=codec.assistant_stop_tokens,
            sampling=SamplingParams(temperature=1.0, max_tokens=BUDGET, seed=index),
            session_id=f"{index}-{constraint is not None}", constraint=constraint)
        return last_message([token async for token in backend.generate(request)], codec)

    try:
        free = await asyncio.gather(*(
            sample(i, f"<|channel|>commentary to={name} <|constrain|>json<|message|>", None)
            for i, name in enumerate(names)))
        constrained = await asyncio.gather(*(
            sample(i, "", DecodingConstraint(calls=(CallTarget(name, schema=schema),),
                                             tool_choice=name))
            for i, (name, schema) in enumerate(zip(names, schemas, strict=True))))
    finally:
        await backend.aclose()
    return _valid_table(free, constrained, names, schemas, codec.special.call)


def _valid_table(free: list[Any], constrained: list[Any], names: list[str],
                 schemas: list[Any], call: int) -> dict[str, Any]:
    valid_free = sum(arguments_valid(message.body, schema)
                     for message, schema in zip(free, schemas, strict=True))
    valid = sum(message.stop == call and message.recipient == name
                and arguments_valid(message.body, schema)
                for message, name, schema in zip(constrained, names, schemas, strict=True))
    json_free = sum(_parses(message.body) for message in free)
    json_constrained = sum(_parses(message.body) for message in constrained)
    count = len(schemas)
    print(f"\nschema-valid tool calls of a random tiny model, {count} random schemas")
    print(f"{'mode':>12} | {'valid':>7} | {'rate':>6} | JSON at all")
    print(f"{'free':>12} | {valid_free:>3}/{count:<3} | {valid_free / count:>6.3f} | "
          f"{json_free}/{count}")
    print(f"{'constrained':>12} | {valid:>3}/{count:<3} | {valid / count:>6.3f} | "
          f"{json_constrained}/{count} (goal: all valid)")
    example = constrained[0]
    print(f"  e.g. {example.header}: {example.body[:100]!r}")
    return {"valid_constrained": round(valid / count, 4),
            "valid_free": round(valid_free / count, 4), "schemas": count}


def _parses(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run (< 1 min)")
    parser.add_argument("--model", type=Path, default=SHIPPED,
                        help="the checkpoint of part one (default: the shipped tiny model)")
    parser.add_argument("--rounds", type=int, default=None, help="timing rounds per prompt")
    parser.add_argument("--cases", type=int, default=None, help="held-out cases per family")
    parser.add_argument("--schemas", type=int, default=None, help="random schemas of part two")
    parser.add_argument("--seed", type=int, default=11, help="seed of the random schemas")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args()
    args.rounds = args.rounds or (2 if args.quick else 5)
    args.cases = args.cases or (2 if args.quick else 6)
    args.schemas = args.schemas or (10 if args.quick else 40)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    steps = asyncio.run(step_cost(args))
    valid = asyncio.run(valid_rate(args))
    print(json.dumps({"bench": "constrained", "step_ratio": steps["step_ratio"],
                      "valid_constrained": valid["valid_constrained"],
                      "valid_free": valid["valid_free"], **{k: v for k, v in steps.items()
                                                            if k != "step_ratio"},
                      "schemas": valid["schemas"]}))


if __name__ == "__main__":
    main()

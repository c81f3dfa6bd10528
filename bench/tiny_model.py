"""Held-out exact success of the tiny Harmony-speaking model, per task family.

Runs held-out cases (inputs never seen in training) through the real loop with the model
on the transformers backend (KV-cache reuse on) and the family's tools (the real tool
classes; the python sandbox and the browser's page loading are the offline stand-ins of
:mod:`examples.tiny_model.toolsets`, whose output text is rendered by the same code as
Docker's and Chromium's; ``tests/e2e/test_tiny_model.py`` runs the real ones). Prints a
table, the training time recorded when the model was trained on this machine, and as the
last line ``{"bench": "tiny_model", "min_family_success": ..., "families": {...}}``.

The ``coding`` family (``--families ... coding``) runs in the real Docker sandbox (a
model's own commands never run on the host): its success is the project's suite green
after the run, re-run by the bench, with the first-try patch-apply rate and the mean
number of tool calls per run printed beside it (and under ``"coding"`` in the JSON).
Without it the output is what it always was.

Usage::

    python bench/tiny_model.py            # 100 cases per family
    python bench/tiny_model.py --quick    # 12 per family, under a minute
    python bench/tiny_model.py --model /path/to/checkpoint
    python bench/tiny_model.py --model CKPT --families python function browser coding
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from examples.tiny_model.case import Case
from examples.tiny_model.coding_family import CODING
from examples.tiny_model.evaluate import heldout_cases, load_backend, run_case
from examples.tiny_model.families import ALL_FAMILIES, FAMILIES
from examples.tiny_model.shipped import PROVENANCE, tiny_model_path


async def _evaluate_coding(backend: Any, cases: list[Case], started: float
                           ) -> dict[str, float]:
    from examples.tiny_model.coding_eval import run_coding_case, summarise
    from gptoss_agent.tools.python_tool import PythonTool

    python = PythonTool()
    try:
        outcomes = [await run_coding_case(backend, case, python) for case in cases]
    finally:
        await python.aclose()
    for outcome in outcomes:
        if not outcome.success:
            print(f"  miss [coding] {outcome.case.prompt!r} ({outcome.case.data['project'].kind}"
                  f"): got {outcome.answer!r} ({outcome.stop_reason}, {outcome.tool_calls} "
                  f"calls); suite: {outcome.suite.splitlines()[-2:]}")
    return {**summarise(outcomes),
            "seconds_per_case": round((time.perf_counter() - started) / len(outcomes), 3)}


async def _evaluate(model: Path, per_family: int,
                    families: tuple[str, ...] = FAMILIES) -> dict[str, dict[str, float]]:
    backend = load_backend(model)
    provenance = model / PROVENANCE
    figures: dict[str, dict[str, float]] = {}
    try:
        for family in families:
            started = time.perf_counter()
            if family == CODING:
                figures[family] = await _evaluate_coding(
                    backend, heldout_cases(family, per_family, provenance), started)
                continue
            outcomes = [await run_case(backend, case)
                        for case in heldout_cases(family, per_family, provenance)]
            wins = sum(outcome.success for outcome in outcomes)
            figures[family] = {
                "success": round(wins / len(outcomes), 4),
                "cases": len(outcomes),
                "seconds_per_case": round((time.perf_counter() - started) / len(outcomes), 3),
            }
            for outcome in outcomes:
                if not outcome.success:
                    print(f"  miss [{family}] {outcome.case.prompt!r}: got {outcome.answer!r} "
                          f"({outcome.stop_reason}), want {outcome.case.answer!r}")
    finally:
        await backend.aclose()
    return figures


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="12 cases per family")
    parser.add_argument("--per-family", type=int, default=None)
    parser.add_argument("--model", type=Path, default=None,
                        help="checkpoint folder with its provenance.json (default: the "
                             "shipped model)")
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=ALL_FAMILIES,
                        help="families to evaluate (coding needs the Docker sandbox)")
    args = parser.parse_args(argv)
    per_family = args.per_family or (12 if args.quick else 100)
    model = args.model or tiny_model_path()
    provenance_file = model / PROVENANCE
    provenance = json.loads(provenance_file.read_text()) if provenance_file.exists() else {}
    figures = asyncio.run(_evaluate(model, per_family, tuple(args.families)))
    print(f"{'family':<10} {'success':>8} {'cases':>6} {'s/case':>7}")
    for family, row in figures.items():
        beside = (f"  first patch applies {row['first_patch_applies']:.2%}, "
                  f"{row['mean_tool_calls']:.2f} tool calls per run" if family == CODING else "")
        print(f"{family:<10} {row['success']:>8.2%} {row['cases']:>6} "
              f"{row['seconds_per_case']:>7.2f}{beside}")
    train_seconds = provenance.get("train_seconds")
    if train_seconds is not None:
        print(f"training: {provenance.get('steps')} steps in {train_seconds / 60:.1f} min on "
              f"this machine (seed {provenance.get('seed')})")
    result = {
        "bench": "tiny_model",
        "min_family_success": min(row["success"] for row in figures.values()),
        "families": {family: row["success"] for family, row in figures.items()},
        "cases_per_family": per_family,
        "train_seconds": train_seconds,
    }
    if CODING in figures:
        result["coding"] = {key: figures[CODING][key] for key in
                            ("success", "first_patch_applies", "mean_tool_calls")}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

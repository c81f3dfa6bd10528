"""KV-cache reuse across agent turns vs re-prefilling the whole conversation every turn.

A 10-turn tool-using episode: each turn the model writes a short tool call (greedy, a
fixed number of tokens), then a tool result of a few hundred tokens is appended. The same
episode runs through two backends sharing one model, turn by turn side by side: one keeps
each session's KV cache (prefills only what was appended), the other re-prefills
everything. Both must produce identical tokens.

Two models, nothing downloaded:

* ``tiny`` (the headline): the project's tiny Harmony-speaking model
  (``examples/tiny_model``), a trained 3-layer gpt-oss checkpoint with a restricted
  vocabulary, so its output layer is a few thousand rows, as small next to its body as a
  real gpt-oss model's is next to its own;
* ``random``: a random 4-layer, 256-wide GptOss with the full 201,088-row output layer,
  which is 97% of its weights: its decode steps, the same in both modes, are almost all
  output layer, which bounds what any prefill saving can show.

Prints a per-turn table per model (how the cost of turn k grows with k in both modes),
then as the very last line one JSON object:
``{"bench": "kv_reuse", "prefill_ratio": ..., "wall_ratio": ...}`` where
``prefill_ratio`` = tokens prefilled with reuse / tokens appended to the conversation, and
``wall_ratio`` = wall time without reuse / wall time with reuse, both for the first model
named (the other models' figures follow under ``"models"``).

Usage: ``python bench/kv_reuse.py [--quick] [--models tiny random] [--model DIR]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from gptoss_agent.agent.backends.base import GenerationRequest, SamplingParams
from gptoss_agent.agent.harmony.codec import load_codec

BENCH_SPEC = {
    "hidden_size": 256,
    "num_hidden_layers": 4,
    "num_attention_heads": 8,
    "num_key_value_heads": 2,
    "head_dim": 32,
    "intermediate_size": 256,
    "sliding_window": 128,
}


def tool_output(rng: random.Random, tokens: int) -> str:
    """A realistic-looking tool result (log lines) of roughly ``tokens`` tokens."""
    lines = []
    words = ["error", "warning", "passed", "failed", "module", "line", "value", "expected"]
    while len(" ".join(lines)) < tokens * 4:
        lines.append(
            f"tests/test_{rng.randrange(99)}.py:{rng.randrange(999)}: "
            + " ".join(rng.choice(words) for _ in range(8))
        )
    return "\n".join(lines)


async def timed_turn(
    backend: Any, prompt: tuple[int, ...], gen_tokens: int
) -> tuple[list[int], float]:
    request = GenerationRequest(
        prompt=prompt,
        stop_tokens=frozenset(),
        sampling=SamplingParams(temperature=0.0, max_tokens=gen_tokens),
        session_id="episode",
    )
    started = time.perf_counter()
    tokens = [token async for token in backend.generate(request)]
    return tokens, time.perf_counter() - started


def load_model(name: str, scratch: Path) -> Any:
    """The backend (cache reuse on) of model ``name``: ``tiny``, ``random`` or a folder."""
    from gptoss_agent.agent.backends import TransformersBackend, TransformersBackendConfig
    from gptoss_agent.agent.backends.transformers.tiny import TinyModelSpec, build_tiny_model

    if name == "tiny":
        from examples.tiny_model.shipped import tiny_model_path

        model_dir = tiny_model_path()
    elif name == "random":
        model_dir = build_tiny_model(scratch / "random", spec=TinyModelSpec(**BENCH_SPEC))
    else:
        model_dir = Path(name)
    return TransformersBackend.load(TransformersBackendConfig(model=str(model_dir), device="cpu"))


async def run(args: argparse.Namespace, name: str) -> dict[str, Any]:
    from gptoss_agent.agent.backends import TransformersBackend, TransformersBackendConfig

    codec = load_codec()
    with tempfile.TemporaryDirectory() as scratch:
        reusing = load_model(name, Path(scratch))
    full = TransformersBackend(
        reusing.model,
        TransformersBackendConfig(model="", reuse_cache=False),
        allowed_ids=reusing.allowed_ids,
    )
    rng = random.Random(0)
    system = (
        "<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI."
        "\nReasoning: low\n# Valid channels: analysis, commentary, final.<|end|>"
        "<|start|>user<|message|>The test suite fails; find out why and fix it.<|end|>"
        "<|start|>assistant"
    )
    prompt = tuple(codec.encode_with_special(system))
    # Warm up both paths (first-call allocations, lazy imports) outside the measurement.
    warm = tuple(codec.encode_text(tool_output(random.Random(99), 200)))
    for backend in (reusing, full):
        await timed_turn(backend, warm, 4)
        await backend.release("episode")
    rows = []
    totals = {"reuse_s": 0.0, "full_s": 0.0, "reuse_prefill": 0, "full_prefill": 0}
    for turn in range(1, args.turns + 1):
        with_reuse, reuse_s = await timed_turn(reusing, prompt, args.gen_tokens)
        without, full_s = await timed_turn(full, prompt, args.gen_tokens)
        if with_reuse != without:
            raise SystemExit(f"turn {turn}: outputs differ between the two modes")
        reuse_stats, full_stats = reusing.last_stats("episode"), full.last_stats("episode")
        assert reuse_stats is not None and full_stats is not None
        rows.append(
            (
                turn,
                len(prompt),
                reuse_stats.prefilled_tokens,
                reuse_s,
                full_stats.prefilled_tokens,
                full_s,
            )
        )
        totals["reuse_s"] += reuse_s
        totals["full_s"] += full_s
        totals["reuse_prefill"] += reuse_stats.prefilled_tokens
        totals["full_prefill"] += full_stats.prefilled_tokens
        result = tool_output(rng, args.tool_tokens)
        extra = tuple(
            codec.encode_with_special(
                "<|start|>functions.run_tests to=assistant<|channel|>commentary<|message|>"
            )
            + codec.encode_text(result)
            + codec.encode_with_special("<|end|><|start|>assistant")
        )
        prompt = prompt + tuple(with_reuse) + extra
    await reusing.aclose()
    await full.aclose()

    print(f"\nmodel: {name}")
    print(
        f"{'turn':>4} {'prompt':>7} | {'reuse: prefill':>14} {'ms':>8} | "
        f"{'full: prefill':>13} {'ms':>8} | {'speedup':>7}"
    )
    for turn, size, r_pre, r_s, f_pre, f_s in rows:
        print(
            f"{turn:>4} {size:>7} | {r_pre:>14} {r_s * 1000:>8.1f} | {f_pre:>13} "
            f"{f_s * 1000:>8.1f} | {f_s / r_s:>6.2f}x"
        )
    # Every token of the last prompt was appended to the conversation at some turn.
    appended_seen = rows[-1][1]
    prefill_ratio = totals["reuse_prefill"] / appended_seen
    wall_ratio = totals["full_s"] / totals["reuse_s"]
    print(
        f"prefilled with reuse {totals['reuse_prefill']} / appended {appended_seen} tokens "
        f"= {prefill_ratio:.3f} (goal <= 1.1); re-prefilling would run "
        f"{totals['full_prefill']} tokens"
    )
    print(
        f"wall time: reuse {totals['reuse_s']:.2f}s, full {totals['full_s']:.2f}s, "
        f"ratio {wall_ratio:.2f}x (goal >= 3x at 10 turns)"
    )
    first, last = rows[0], rows[-1]
    print(
        f"turn cost growth from turn 1 to {last[0]}: reuse {last[3] / first[3]:.2f}x, "
        f"full {last[5] / first[5]:.2f}x; turn {last[0]} alone is "
        f"{last[5] / last[3]:.2f}x faster with reuse"
    )
    return {
        "model": name,
        "prefill_ratio": round(prefill_ratio, 4),
        "wall_ratio": round(wall_ratio, 3),
        "turns": args.turns,
        "last_turn_ratio": round(last[5] / last[3], 3),
        "reuse_s": round(totals["reuse_s"], 3),
        "full_s": round(totals["full_s"], 3),
        "reuse_prefilled_tokens": totals["reuse_prefill"],
        "full_prefilled_tokens": totals["full_prefill"],
        "appended_tokens": appended_seen,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter tool outputs (< 1 min)")
    parser.add_argument("--models", nargs="+", default=["tiny", "random"],
                        help="tiny, random, or checkpoint folders; the first is the headline")
    parser.add_argument("--model", type=Path, default=None,
                        help="one checkpoint folder to use (instead of --models)")
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--gen-tokens", type=int, default=None, help="tokens sampled per turn")
    parser.add_argument("--tool-tokens", type=int, default=None, help="tool output length")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args()
    args.gen_tokens = args.gen_tokens or (8 if args.quick else 24)
    args.tool_tokens = args.tool_tokens or (200 if args.quick else 500)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    names = [str(args.model)] if args.model else args.models
    figures = [asyncio.run(run(args, name)) for name in names]
    headline = figures[0]
    print(json.dumps({"bench": "kv_reuse", "prefill_ratio": headline["prefill_ratio"],
                      "wall_ratio": headline["wall_ratio"], "model": headline["model"],
                      "models": {item["model"]: item for item in figures}}))


if __name__ == "__main__":
    main()

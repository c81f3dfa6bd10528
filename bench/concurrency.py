"""Throughput of 16 concurrent agent sessions vs 1, through the server backend.

Each session runs a short tool-using episode (a few turns; each turn samples a fixed
number of tokens, then a tool result is appended) over one shared ``ServerBackend``
(one connection pool). The same episodes run once one session at a time and once all 16
at once, in the same run; throughput is sampled tokens per second of wall time.

By default the server is ``gptoss-agent serve`` on a tiny random GptOss model (started
here on 127.0.0.1, nothing downloaded). That server runs one model on one worker thread:
the decode steps of the sessions in flight share forward passes (continuous batching of
decode), prompts are prefilled one at a time. The ratio therefore shows both that the
client adds no serialisation of its own and what decode batching gains; a server with
batched prefill too (vLLM, SGLang) can be given with ``--url``.

Last line: ``{"bench": "concurrency", "throughput_ratio": ...}``.
Usage: ``python bench/concurrency.py [--quick] [--url URL --server vllm|sglang|llama.cpp]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from gptoss_agent.agent.backends.base import GenerationRequest, SamplingParams  # noqa: E402
from gptoss_agent.agent.backends.server import ServerBackend, server_config  # noqa: E402
from gptoss_agent.agent.harmony.codec import HarmonyCodec, load_codec  # noqa: E402


async def episode(
    backend: ServerBackend, codec: HarmonyCodec, session: str, turns: int, gen_tokens: int
) -> int:
    """One session's episode; returns the tokens it sampled."""
    prompt = tuple(
        codec.encode_with_special(
            f"<|start|>user<|message|>Session {session}: run the tests and fix what fails."
            "<|end|><|start|>assistant"
        )
    )
    sampled = 0
    for turn in range(turns):
        request = GenerationRequest(
            prompt=prompt,
            stop_tokens=frozenset(),
            sampling=SamplingParams(temperature=0.0, max_tokens=gen_tokens),
            session_id=session,
        )
        tokens = [token async for token in backend.generate(request)]
        sampled += len(tokens)
        result = f"turn {turn}: " + " ".join(f"line {i} ok" for i in range(40))
        prompt = (
            prompt
            + tuple(tokens)
            + tuple(codec.encode_with_special("<|start|>functions.run to=assistant<|message|>"))
            + tuple(codec.encode_text(result))
            + tuple(codec.encode_with_special("<|end|><|start|>assistant"))
        )
    await backend.release(session)
    return sampled


async def measure(
    backend: ServerBackend, codec: HarmonyCodec, sessions: int, turns: int, gen: int, tag: str
) -> tuple[int, float]:
    started = time.perf_counter()
    counts = await asyncio.gather(
        *(episode(backend, codec, f"{tag}-{i}", turns, gen) for i in range(sessions))
    )
    return sum(counts), time.perf_counter() - started


def start_serve(model_dir: Path) -> tuple[subprocess.Popen[str], str]:
    command = [
        sys.executable,
        "-m",
        "gptoss_agent.agent.cli.serve",
        str(model_dir),
        "--port",
        "0",
        "--device",
        "cpu",
        "--max-sessions",
        "64",
    ]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("listening on "):
        process.kill()
        raise SystemExit(f"gptoss-agent serve did not start: {line!r}")
    return process, line.split()[-1]


async def run(args: argparse.Namespace, url: str) -> dict[str, Any]:
    codec = load_codec()
    kind = args.server or "gptoss-agent"
    backend = ServerBackend(server_config(kind, url))
    await measure(backend, codec, 2, 1, 4, "warmup")
    rounds = 16
    one_tokens, one_s = 0, 0.0
    for index in range(rounds):  # the same work as 16 sessions, one after another
        tokens, seconds = await measure(
            backend, codec, 1, args.turns, args.gen_tokens, f"one{index}"
        )
        one_tokens, one_s = one_tokens + tokens, one_s + seconds
    many_tokens, many_s = await measure(backend, codec, 16, args.turns, args.gen_tokens, "many")
    await backend.aclose()
    one_tps, many_tps = one_tokens / one_s, many_tokens / many_s
    ratio = many_tps / one_tps
    print(f"{'sessions':>8} {'tokens':>7} {'seconds':>8} {'tokens/s':>9}")
    print(f"{1:>8} {one_tokens:>7} {one_s:>8.2f} {one_tps:>9.1f}   (16 episodes one after another)")
    print(f"{16:>8} {many_tokens:>7} {many_s:>8.2f} {many_tps:>9.1f}   (16 episodes at once)")
    print(f"throughput ratio 16 vs 1: {ratio:.2f}x against {kind} at {url}")
    return {
        "bench": "concurrency",
        "throughput_ratio": round(ratio, 3),
        "server": kind,
        "one_tokens_per_s": round(one_tps, 2),
        "many_tokens_per_s": round(many_tps, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a shorter run (< 1 min)")
    parser.add_argument("--url", default=None, help="an OpenAI-compatible API root to use")
    parser.add_argument("--server", default=None, choices=["vllm", "sglang", "llama.cpp"])
    parser.add_argument("--turns", type=int, default=None)
    parser.add_argument("--gen-tokens", type=int, default=None)
    args = parser.parse_args()
    args.turns = args.turns or (2 if args.quick else 3)
    args.gen_tokens = args.gen_tokens or (4 if args.quick else 16)
    process = None
    with tempfile.TemporaryDirectory() as scratch:
        url = args.url
        if url is None:
            from gptoss_agent.agent.backends.transformers.tiny import build_tiny_model

            process, url = start_serve(build_tiny_model(Path(scratch) / "m"))
        try:
            figures = asyncio.run(run(args, url))
        finally:
            if process is not None:
                process.terminate()
                process.wait(timeout=30)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()

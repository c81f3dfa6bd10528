"""Train the tiny Harmony-speaking model, reproducibly (seeded), with ``finetune``.

Steps: generate the data with the framework (:mod:`examples.tiny_model.generate`), build a
randomly initialised ``GptOssForCausalLM`` of shape :data:`SPEC` with the real
o200k_harmony vocabulary (:func:`~gptoss_agent.agent.backends.tiny.build_tiny_model`),
fine-tune all of it over the corpus vocabulary (``restrict_vocab``; every 1-3 digit
number token is kept too, so unseen numbers stay in the vocabulary), and pack the result
into the compact shipped form (:mod:`examples.tiny_model.shipped`).

Usage::

    python -m examples.tiny_model.train --work /tmp/tiny-work --steps 3000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from pathlib import Path

from examples.tiny_model.families import FAMILIES
from examples.tiny_model.generate import generate, sample_cases
from gptoss_agent.agent.backends.tiny import TinyModelSpec, build_tiny_model
from gptoss_agent.agent.encoding import load_codec
from gptoss_agent.agent.finetune.config import FinetuneConfig
from gptoss_agent.agent.finetune.trainer import finetune

SEED = 20250807
SPEC = TinyModelSpec(
    hidden_size=128,
    num_hidden_layers=3,
    num_attention_heads=4,
    num_key_value_heads=2,
    head_dim=32,
    num_local_experts=4,
    num_experts_per_tok=2,
    intermediate_size=128,
    sliding_window=128,
    max_position_embeddings=2048,
    extra={"tie_word_embeddings": True},
)
"""The shape of the shipped model. The output layer is tied to the embedding: copying a
number from the prompt or a tool result then only needs attention to move the token's
embedding forward, which a small model learns far sooner than a separate output row per
number token."""


def number_tokens() -> tuple[int, ...]:
    """Ids of every 1-3 digit number token (with and without a leading space)."""
    codec = load_codec()
    ids: set[int] = set()
    for value in range(1000):
        for text in (str(value), f"{value:02d}", f"{value:03d}", f" {value}"):
            tokens = codec.encode_text(text)
            if len(tokens) == 1:
                ids.add(tokens[0])
    return tuple(sorted(ids))


def train_config(work: Path, steps: int, batch_size: int, learning_rate: float,
                 threads: int | None) -> FinetuneConfig:
    """The ``finetune`` settings of the shipped model."""
    return FinetuneConfig(
        data=(work / "train.jsonl",), model=work / "init", output=work / "model",
        method="full", steps=steps, batch_size=batch_size, learning_rate=learning_rate,
        warmup_steps=min(100, steps // 10 + 1), seed=SEED, heldout_fraction=0.02,
        restrict_vocab=True, extra_vocab=number_tokens(), checkpoint_every=250,
        threads=threads,
    )


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="working folder")
    parser.add_argument("--per-family", type=int, default=3000)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--pack", type=Path, default=None,
                        help="also write the compact shipped form to this folder")
    args = parser.parse_args(argv)
    work: Path = args.work
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    if not (work / "train.jsonl").exists():
        cases = [case for family in FAMILIES
                 for case in sample_cases(family, args.per_family, SEED)]
        random.Random(SEED).shuffle(cases)
        partial = work / "train.jsonl.partial"
        count = asyncio.run(generate(cases, partial))
        partial.rename(work / "train.jsonl")
        print(f"generated {count} examples in {time.perf_counter() - started:.0f} s")
    if not (work / "init" / "config.json").exists():
        build_tiny_model(work / "init", spec=SPEC, seed=SEED)
    config = train_config(work, args.steps, args.batch_size, args.lr, args.threads)
    report = finetune(config)
    print(json.dumps({"seconds": report.seconds, "last_loss": report.last_loss,
                      "heldout": report.heldout.__dict__ if report.heldout else None}))
    if args.pack is not None:
        from examples.tiny_model.shipped import pack

        pack(config.output, args.pack, {
            "seed": SEED, "steps": args.steps, "batch_size": args.batch_size,
            "learning_rate": args.lr, "per_family": args.per_family,
            "train_seconds": report.seconds, "heldout_token_accuracy":
                report.heldout.token_accuracy if report.heldout else None,
            "spec": {k: v for k, v in SPEC.config_kwargs().items() if k != "rope_parameters"},
            "command": "python -m examples.tiny_model.train --work WORK "
                       f"--per-family {args.per_family} --steps {args.steps} "
                       f"--batch-size {args.batch_size} --lr {args.lr}",
        })
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

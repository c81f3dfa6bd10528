"""Train the tiny Harmony-speaking model, reproducibly (seeded), with ``finetune``.

Steps: generate the data with the framework (:mod:`examples.tiny_model.generate`), build a
randomly initialised ``GptOssForCausalLM`` of shape :data:`SPEC` with the real
o200k_harmony vocabulary (:func:`~gptoss_agent.agent.backends.transformers.tiny.build_tiny_model`),
fine-tune all of it over the corpus vocabulary (``restrict_vocab``; every 1-3 digit
number token is kept too, so unseen numbers stay in the vocabulary), and pack the result
into the compact shipped form (:mod:`examples.tiny_model.shipped`).

Training can continue from a trained model (``--continue-from``, a compact shipped folder or
a full checkpoint) on fresh data drawn with another seed (``--data-seed``); the shipped
model's ``provenance.json`` lists every stage and every data draw, and the held-out
evaluation excludes the prompts of all of them.

Usage::

    python -m examples.tiny_model.train --work /tmp/tiny-work --steps 3000
    python -m examples.tiny_model.train --work /tmp/tiny-2 --continue-from STAGE1 \
        --data-seed 2 --count python=10000 --count function=10000 --count browser=4000 \
        --steps 5000 --lr 2e-3 --jobs 2 --pack examples/tiny_model/model

(the shipped model's two stages; ``STAGE1`` is the first stage's packed folder).

The coding family joins with ``--count coding=N`` (its cases are not drawn unless asked
for), and a larger body is chosen with ``--body`` (:data:`BODIES`; a body other than the
shipped one trains from scratch: ``--continue-from`` needs the shape it continues)::

    python -m examples.tiny_model.train --work /tmp/tiny-c --body coding \
        --data-seed 4 --count python=3000 --count function=3000 --count browser=3000 \
        --count coding=20000 --steps 20000 --jobs 2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from examples.tiny_model.families import ALL_FAMILIES, FAMILIES
from examples.tiny_model.generate import generate, sample_cases
from gptoss_agent.agent.backends.transformers.tiny import TinyModelSpec, build_tiny_model
from gptoss_agent.agent.finetune.config import FinetuneConfig
from gptoss_agent.agent.finetune.trainer import finetune
from gptoss_agent.agent.harmony.codec import load_codec

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

CODING_SPEC = replace(
    SPEC, hidden_size=256, num_hidden_layers=4, num_attention_heads=8, num_key_value_heads=4,
    intermediate_size=256, sliding_window=512)
"""A larger body for the coding family: twice as wide, a layer more, and a sliding window
that reaches from a patch back to the ``cat`` output it copies its line from."""
BODIES = {"shipped": SPEC, "coding": CODING_SPEC}
"""The bodies ``--body`` chooses from."""


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


def _generate_chunk(job: tuple[list[Any], str, bool]) -> int:
    cases, output, resume = job
    return asyncio.run(generate(cases, Path(output), resume=resume))


def _resumable(output: Path, plan: dict[str, Any]) -> bool:
    """Whether ``output``'s part files were written for ``plan`` (and so go on where an
    interrupted generation stopped); records ``plan`` for the next run either way."""
    record = output.with_name(f"{output.name}.parts.json")
    same = record.exists() and json.loads(record.read_text()) == plan
    if not same:
        for stale in output.parent.glob(f"{output.name}.part[0-9]*"):
            stale.unlink()
        record.write_text(json.dumps(plan))
    return same


def generate_data(counts: dict[str, int], seed: int, output: Path, jobs: int) -> int:
    """Draw ``counts[family]`` cases per family with ``seed``, record them with the teacher in
    ``jobs`` processes, and write the shuffled examples to ``output``; return the count.

    An interrupted generation leaves its part files (each case's examples written as it is
    recorded); running again with the same draw and ``jobs`` goes on from where it stopped.
    """
    cases = [case for family, count in counts.items()
             for case in sample_cases(family, count, seed)]
    random.Random(seed).shuffle(cases)
    jobs = max(1, min(jobs, len(cases)))
    resume = _resumable(output, {"seed": seed, "per_family": counts, "jobs": jobs})
    parts = [output.with_name(f"{output.name}.part{index}") for index in range(jobs)]
    chunks = [(cases[index::jobs], str(part), resume) for index, part in enumerate(parts)]
    if jobs == 1:
        count = _generate_chunk(chunks[0])
    else:
        with ProcessPoolExecutor(jobs) as pool:
            count = sum(pool.map(_generate_chunk, chunks))
    lines: list[bytes] = []
    for part in parts:
        lines.extend(part.read_bytes().splitlines(keepends=True))
        part.unlink()
    random.Random(seed).shuffle(lines)  # the same order whatever ``jobs`` was
    partial = output.with_name(output.name + ".partial")
    partial.write_bytes(b"".join(lines))
    partial.rename(output)
    output.with_name(f"{output.name}.parts.json").unlink()
    return count


def _parse_counts(items: list[str], default: int) -> dict[str, int]:
    counts = dict.fromkeys(FAMILIES, default)
    for item in items:
        family, _, number = item.partition("=")
        if family not in ALL_FAMILIES or not number.isdigit():
            raise SystemExit(f"--count wants FAMILY=N with FAMILY in {ALL_FAMILIES}, "
                             f"got {item!r}")
        counts[family] = int(number)
    return {family: count for family, count in counts.items() if count > 0}


def _start_model(work: Path, continue_from: Path | None,
                 spec: TinyModelSpec = SPEC) -> tuple[Path, dict[str, Any]]:
    """The checkpoint training starts from, and the provenance it carries (if any)."""
    if continue_from is None:
        if not (work / "init" / "config.json").exists():
            build_tiny_model(work / "init", spec=spec, seed=SEED)
        return work / "init", {}
    from examples.tiny_model.shipped import PROVENANCE, checkpoint_path

    start = checkpoint_path(continue_from)
    provenance_file = start / PROVENANCE
    return start, json.loads(provenance_file.read_text()) if provenance_file.exists() else {}


def _kept_vocab(extra: tuple[int, ...], continue_from: Path | None) -> tuple[int, ...]:
    """``extra`` plus every id of the compact model continued from.

    A stage's vocabulary is its own draw's ids; without this, ids that earlier stages
    learnt but this draw lacks (the function family's two-letter SKU prefixes, say) would
    leave the model, and held-out cases that need them could not be answered.
    """
    from gptoss_agent.agent.backends.transformers.vocab import RestrictedVocab

    previous = RestrictedVocab.load(continue_from) if continue_from is not None else None
    return tuple(sorted(set(extra) | set(previous.ids if previous else ())))


def _stages(previous: dict[str, Any]) -> list[dict[str, Any]]:
    """The training stages recorded in ``previous`` provenance (older files: one stage)."""
    if not previous:
        return []
    if "stages" in previous:
        return list(previous["stages"])
    per_family = int(previous.get("per_family") or 3000)
    return [{key: previous[key] for key in ("seed", "steps", "batch_size", "learning_rate",
                                             "train_seconds", "command", "history", "bench")
             if key in previous}
            | {"data": {"seed": previous.get("seed", SEED),
                        "per_family": dict.fromkeys(FAMILIES, per_family)}}]


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="working folder")
    parser.add_argument("--per-family", type=int, default=3000)
    parser.add_argument("--count", action="append", default=[], metavar="FAMILY=N",
                        help="cases of one family (overrides --per-family; 0 leaves it out)")
    parser.add_argument("--data-seed", type=int, default=SEED,
                        help="seed of the data draw (another seed gives fresh cases)")
    parser.add_argument("--continue-from", type=Path, default=None,
                        help="start from this trained model instead of a random one")
    parser.add_argument("--jobs", type=int, default=1, help="data generation processes")
    parser.add_argument("--body", choices=sorted(BODIES), default="shipped",
                        help="the model's shape when training from scratch")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--pack", type=Path, default=None,
                        help="also write the compact shipped form to this folder")
    args = parser.parse_args(argv)
    work: Path = args.work
    work.mkdir(parents=True, exist_ok=True)
    counts = _parse_counts(args.count, args.per_family)
    started = time.perf_counter()
    draw = {"seed": args.data_seed, "per_family": counts}
    draw_file = work / "train.draw.json"
    if (work / "train.jsonl").exists():
        recorded = json.loads(draw_file.read_text()) if draw_file.exists() else None
        if recorded != draw:
            raise SystemExit(f"{work / 'train.jsonl'} was drawn as {recorded}, not {draw}; "
                             "use another --work folder")
    else:
        count = generate_data(counts, args.data_seed, work / "train.jsonl", args.jobs)
        draw_file.write_text(json.dumps(draw))
        print(f"generated {count} examples in {time.perf_counter() - started:.0f} s")
    if args.continue_from is not None and args.body != "shipped":
        raise SystemExit("--body applies to a model trained from scratch, not --continue-from")
    spec = BODIES[args.body]
    start, previous = _start_model(work, args.continue_from, spec)
    config = replace(train_config(work, args.steps, args.batch_size, args.lr, args.threads),
                     model=start)
    config = replace(config, extra_vocab=_kept_vocab(config.extra_vocab, args.continue_from))
    report = finetune(config)
    print(json.dumps({"seconds": report.seconds, "last_loss": report.last_loss,
                      "heldout": report.heldout.__dict__ if report.heldout else None}))
    if args.pack is not None:
        from examples.tiny_model.shipped import pack

        command = (f"python -m examples.tiny_model.train --work WORK --data-seed {args.data_seed} "
                   + " ".join(f"--count {family}={n}" for family, n in counts.items())
                   + f" --steps {args.steps} --batch-size {args.batch_size} --lr {args.lr}"
                   + (f" --continue-from {args.continue_from}" if args.continue_from else "")
                   + (f" --body {args.body}" if args.body != "shipped" else ""))
        stage = {"steps": args.steps, "batch_size": args.batch_size,
                 "learning_rate": args.lr, "train_seconds": report.seconds,
                 "data": draw, "command": command}
        stages = [*_stages(previous), stage]
        pack(config.output, args.pack, {
            "seed": SEED, "stages": stages,
            "steps": sum(int(item.get("steps", 0)) for item in stages),
            "train_seconds": round(sum(float(item.get("train_seconds", 0))
                                       for item in stages), 1),
            "heldout_token_accuracy":
                report.heldout.token_accuracy if report.heldout else None,
            "spec": {k: v for k, v in spec.config_kwargs().items() if k != "rope_parameters"},
        })
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``gptoss-agent finetune``: fine-tune a gpt-oss-architecture checkpoint on Harmony data.

Examples::

    gptoss-agent export runs/*.jsonl -o train.jsonl
    gptoss-agent finetune train.jsonl --model ./gpt-oss-20b --method lora -o ./adapter
    gptoss-agent finetune train.jsonl --model ./tiny-init --restrict-vocab --steps 3000 -o ./tiny

Running the same command again after an interruption resumes from the newest checkpoint
in ``OUTPUT/checkpoints``.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from rich.console import Console
from rich.text import Text

from gptoss_agent.agent.cli.exit_codes import EXIT_CONFIG, EXIT_OK
from gptoss_agent.agent.finetune.config import FinetuneConfig
from gptoss_agent.agent.finetune.errors import DataError, FinetuneError


def config_from_args(args: argparse.Namespace) -> FinetuneConfig:
    """The :class:`FinetuneConfig` the command line describes.

    Raises:
        ValueError: An inconsistent combination of options.
    """
    return FinetuneConfig(
        data=tuple(args.data), model=args.model, output=args.output, method=args.method,
        steps=args.steps, batch_size=args.batch_size, learning_rate=args.lr,
        warmup_steps=args.warmup, weight_decay=args.weight_decay, seed=args.seed,
        heldout_fraction=args.heldout, max_length=args.max_length,
        restrict_vocab=args.restrict_vocab, lora_rank=args.lora_rank,
        lora_alpha=args.lora_alpha, merge_lora=args.merge_lora,
        checkpoint_every=args.checkpoint_every, eval_every=args.eval_every,
        threads=args.threads, save_dtype=args.save_dtype, load_dtype=args.dtype,
        device=args.device,
    )


def cmd_finetune(args: argparse.Namespace) -> int:
    """Run ``finetune``; print the report as JSON (``--json``) or a short summary."""
    err = Console(stderr=True)
    try:
        config = config_from_args(args)
        from gptoss_agent.agent.finetune.trainer import finetune

        report = finetune(config, progress=not args.json and not args.quiet)
    except (ValueError, DataError, FinetuneError) as exc:
        err.print(Text.assemble(("error: ", "bold red"), str(exc)), soft_wrap=True)
        return EXIT_CONFIG
    if args.json:
        print(json.dumps(asdict(report)))
        return EXIT_OK
    if not args.quiet:
        heldout = report.heldout
        summary = (f"{report.method} fine-tune: {report.steps} steps "
                   f"({report.seconds:.0f} s), loss {report.first_loss:.4f} -> "
                   f"{report.last_loss:.4f}")
        if heldout is not None:
            summary += (f"; held-out loss {heldout.loss:.4f}, token accuracy "
                        f"{heldout.token_accuracy:.4f}, exact {heldout.sequence_accuracy:.3f}")
        err.print(summary, highlight=False)
        kind = "adapter" if report.adapter else "model"
        err.print(f"{kind} saved to {report.output}", highlight=False)
    return EXIT_OK


def add_finetune_command(commands: argparse._SubParsersAction) -> None:
    """Register ``finetune``."""
    parser = commands.add_parser(
        "finetune", help="fine-tune a gpt-oss-architecture model on Harmony transcripts",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    parser.add_argument("data", type=Path, nargs="+",
                        help="JSONL from `gptoss-agent export`, or JSONL conversations")
    parser.add_argument("--model", type=Path, required=True, help="checkpoint folder")
    parser.add_argument("-o", "--output", type=Path, required=True, help="output folder")
    parser.add_argument("--method", choices=("full", "lora"), default="lora")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--weight-decay", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--heldout", type=float, default=0.05,
                        help="share of examples held out and evaluated at the end")
    parser.add_argument("--max-length", type=int, default=4096)
    parser.add_argument("--restrict-vocab", action="store_true",
                        help="softmax over the ids the data uses (full fine-tune of a small "
                             "model); the saved checkpoint keeps the full vocabulary")
    parser.add_argument("--lora-rank", type=int, default=8)
    parser.add_argument("--lora-alpha", type=int, default=16)
    parser.add_argument("--merge-lora", action="store_true",
                        help="save the merged model instead of the adapter")
    parser.add_argument("--checkpoint-every", type=int, default=200)
    parser.add_argument("--eval-every", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--save-dtype", choices=("float32", "bfloat16"), default="float32")
    parser.add_argument("--dtype", choices=("float32", "bfloat16", "auto"), default="float32",
                        help="dtype to load and train in (auto: the checkpoint's; for LoRA "
                             "on gpt-oss, whose frozen base stays bf16)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print the report as JSON")
    output.add_argument("--quiet", action="store_true")
    parser.set_defaults(handler=cmd_finetune)

"""Where a model misses its training targets: copied tokens against template tokens.

Teacher-forced, a stage's held-out token accuracy says how many trained tokens the model
predicts, not which. For the coding family the distinction that matters is whether a
missed token had to be *copied*: a function, module or parameter name, a docstring word,
a constant, each of which the model can only get by reading the tool output or the
request in front of it. A token counts as copied when its text, less a leading space or
underscore (``_fee`` and `` fee`` are one word piece), is that of a token that occurs
before it in the example's context messages (every untrained token after the developer
message: the user's request and the tool results); the rest is template (``Run the tests
first.``, the JSON keys, the patch markers). Words the template shares with a request
(``tests``) count as copied, so the split is a close reading, not an exact one.

Usage::

    python -m examples.tiny_model.diagnose --model examples/tiny_model/stage \
        --data WORK/train.jsonl --family coding --count 40

It prints the accuracy of each kind and the first misses with the text before them; the
last line is one JSON object (``copied_accuracy``, ``template_accuracy``, counts).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gptoss_agent.agent.harmony.codec import load_codec


@dataclass
class Tally:
    """Hits and misses of one example set, by kind of token."""

    copied: list[int] = field(default_factory=lambda: [0, 0])
    template: list[int] = field(default_factory=lambda: [0, 0])
    misses: list[tuple[str, str, str, bool]] = field(default_factory=list)

    def add(self, copied: bool, hit: bool) -> None:
        """Count one trained token."""
        counts = self.copied if copied else self.template
        counts[0] += int(hit)
        counts[1] += 1

    def figures(self) -> dict[str, Any]:
        """The accuracies and counts."""
        def rate(counts: list[int]) -> float | None:
            return round(counts[0] / counts[1], 4) if counts[1] else None

        return {"copied_accuracy": rate(self.copied), "copied_tokens": self.copied[1],
                "template_accuracy": rate(self.template), "template_tokens": self.template[1]}


def context_start(tokens: list[int], end: int) -> int:
    """The position after the developer message (the second ``<|end|>``, id ``end``)."""
    ends = [i for i, token in enumerate(tokens) if token == end]
    return ends[1] + 1 if len(ends) >= 2 else 0


def word_piece(token: int, codec: Any) -> str:
    """The token's text less a leading space or underscore ('' for special tokens)."""
    return "" if codec.is_special(token) else codec.decode([token]).lstrip(" _")


def tally_example(tokens: list[int], mask: list[int], predicted: list[int], tally: Tally,
                  codec: Any) -> None:
    """Add one example's trained tokens to ``tally``; ``predicted[i]`` predicts ``i + 1``."""
    seen: set[str] = set()
    start = context_start(tokens, codec.special.end)
    for position in range(1, len(tokens)):
        token = tokens[position]
        if mask[position]:
            piece = word_piece(token, codec)
            copied = bool(piece.strip()) and piece in seen
            hit = predicted[position - 1] == token
            tally.add(copied, hit)
            if not hit:
                before = codec.decode(tokens[max(0, position - 14):position])
                tally.misses.append((before[-60:], codec.decode([token]),
                                     codec.decode([predicted[position - 1]]), copied))
        elif position >= start:
            seen.add(word_piece(token, codec))


def diagnose(model_folder: Path, rows: list[dict[str, Any]]) -> Tally:
    """Teacher-force ``rows`` (JSONL examples) through the model and tally its misses."""
    import torch
    from transformers import AutoModelForCausalLM

    from examples.tiny_model.shipped import checkpoint_path

    model = AutoModelForCausalLM.from_pretrained(str(checkpoint_path(model_folder)),
                                                 dtype=torch.float32).eval()
    codec = load_codec()
    tally = Tally()
    for row in rows:
        with torch.no_grad():
            logits = model(torch.tensor([row["tokens"]])).logits[0]
        tally_example(row["tokens"], row["mask"], logits.argmax(-1).tolist(), tally, codec)
    return tally


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True,
                        help="a compact folder (like model/) or a full checkpoint")
    parser.add_argument("--data", type=Path, required=True, help="examples (JSONL)")
    parser.add_argument("--family", default="coding")
    parser.add_argument("--count", type=int, default=40, help="examples, from the file's end")
    parser.add_argument("--show", type=int, default=20, help="misses to print")
    args = parser.parse_args(argv)
    rows = [row for row in map(json.loads, args.data.read_text().splitlines())
            if row["source"].split(":", 1)[0] == args.family][-args.count:]
    if not rows:
        raise SystemExit(f"no {args.family} examples in {args.data}")
    tally = diagnose(args.model, rows)
    for before, want, got, copied in tally.misses[:args.show]:
        print(f"{'copy' if copied else 'tmpl'} {before!r} -> want {want!r}, got {got!r}")
    figures = tally.figures()
    print(f"{len(rows)} examples: copied tokens {figures['copied_accuracy']} of "
          f"{figures['copied_tokens']}, template tokens {figures['template_accuracy']} of "
          f"{figures['template_tokens']}")
    print(json.dumps({"diagnose": args.family, "examples": len(rows), **figures}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Loading training examples: ``gptoss-agent export`` JSONL, or JSONL conversations.

Each line of a data file is one JSON object, either

* ``{"tokens": [...], "mask": [...]}`` (what ``export`` writes; ``source`` and ``text``
  are ignored), or
* ``{"messages": [...]}`` (rendered with the Harmony codec, see
  :mod:`~gptoss_agent.agent.finetune.conversations`).

Errors name the file and line. Examples longer than ``max_length`` are an error rather
than silently truncated: a cut example would teach a turn without its end.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from gptoss_agent.agent.finetune.conversations import render_conversation
from gptoss_agent.agent.finetune.errors import DataError
from gptoss_agent.agent.harmony.codec import HarmonyCodec, load_codec


@dataclass(frozen=True)
class TrainingExample:
    """One sequence to learn from.

    Attributes:
        tokens: The Harmony token ids.
        mask: 1 where the loss applies (tokens the assistant wrote), else 0.
        source: ``file:line`` it came from.
    """

    tokens: tuple[int, ...]
    mask: tuple[int, ...]
    source: str

    @property
    def trained_tokens(self) -> int:
        """How many tokens carry loss."""
        return sum(self.mask)


def _check_ids(values: object, name: str, where: str, vocab_size: int) -> tuple[int, ...]:
    if not isinstance(values, list) or not values:
        raise DataError(f"{where}: {name!r} must be a non-empty list of integers")
    for value in values:
        if not isinstance(value, int) or isinstance(value, bool):
            raise DataError(f"{where}: {name!r} holds a non-integer ({value!r})")
        if not 0 <= value < vocab_size:
            raise DataError(f"{where}: token id {value} is outside 0..{vocab_size - 1}")
    return tuple(values)


def parse_example(record: object, where: str, codec: HarmonyCodec, *,
                  vocab_size: int, max_length: int | None = None) -> TrainingExample:
    """Validate one JSON record and turn it into an example.

    Raises:
        DataError: The record is malformed.
    """
    if not isinstance(record, dict):
        raise DataError(f"{where}: expected a JSON object")
    if "messages" in record:
        messages = record["messages"]
        if not isinstance(messages, list):
            raise DataError(f"{where}: 'messages' must be a list")
        try:
            token_list, mask_list = render_conversation(messages, codec)
        except DataError as exc:
            raise DataError(f"{where}: {exc}") from exc
        tokens, mask = tuple(token_list), tuple(mask_list)
    elif "tokens" in record:
        tokens = _check_ids(record["tokens"], "tokens", where, vocab_size)
        mask = _check_ids(record.get("mask"), "mask", where, 2)
        if len(mask) != len(tokens):
            raise DataError(
                f"{where}: 'mask' has {len(mask)} entries for {len(tokens)} tokens"
            )
    else:
        raise DataError(f"{where}: a line needs 'tokens' and 'mask', or 'messages'")
    if not any(mask[1:]):
        raise DataError(f"{where}: no assistant token to learn from (the mask is all 0)")
    if max_length is not None and len(tokens) > max_length:
        raise DataError(
            f"{where}: {len(tokens)} tokens, longer than max_length={max_length}"
        )
    return TrainingExample(tokens, mask, where)


def load_examples(paths: Sequence[str | Path], *, max_length: int | None = None,
                  vocab_size: int = 201_088,
                  codec: HarmonyCodec | None = None) -> list[TrainingExample]:
    """Every example of every file, in order.

    Raises:
        DataError: A file is missing, empty or has a malformed line.
    """
    if not paths:
        raise DataError("no training data given")
    codec = codec or load_codec()
    examples: list[TrainingExample] = []
    for path in map(Path, paths):
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise DataError(f"{path}: cannot read: {exc.strerror}") from exc
        except UnicodeDecodeError as exc:
            raise DataError(f"{path}: not UTF-8 text") from exc
        before = len(examples)
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                record = json.loads(line)
            except ValueError as exc:
                raise DataError(f"{where}: not JSON ({exc})") from exc
            examples.append(parse_example(record, where, codec, vocab_size=vocab_size,
                                          max_length=max_length))
        if len(examples) == before:
            raise DataError(f"{path}: no examples")
    return examples


def split_heldout(examples: Sequence[TrainingExample], fraction: float,
                  seed: int) -> tuple[list[TrainingExample], list[TrainingExample]]:
    """Split off a held-out set (at least one example when ``fraction > 0``).

    Returns:
        ``(train, heldout)``; the split depends only on ``seed`` and the examples.

    Raises:
        DataError: Nothing would be left to train on.
    """
    if not 0 <= fraction < 1:
        raise DataError(f"the held-out fraction must be in [0, 1), got {fraction}")
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    count = 0 if fraction == 0 else max(1, round(len(examples) * fraction))
    if count >= len(examples):
        raise DataError(f"{len(examples)} example(s) leave nothing to train on after the "
                        f"held-out split")
    heldout = sorted(order[:count])
    keep = sorted(order[count:])
    return [examples[i] for i in keep], [examples[i] for i in heldout]

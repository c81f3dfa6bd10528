"""Generate the tiny model's training data by running the framework itself.

For each case, an agent (:func:`~examples.tiny_model.agents.tiny_agent`) whose model is the
:class:`~examples.tiny_model.teacher.TeacherBackend` runs the case with the family's real
tool classes (offline infrastructure, see :mod:`examples.tiny_model.toolsets`); the session
writes a transcript; :func:`~gptoss_agent.agent.transcript.iter_training_examples` turns
it into token-exact ``(tokens, mask)`` examples, written as the JSONL that
``gptoss-agent export`` writes.

Usage::

    python -m examples.tiny_model.generate -o data/train.jsonl --per-family 2000 --seed 1
    python -m examples.tiny_model.generate -o data/coding.jsonl --families coding \
        --per-family 300 --seed 1

A coding case's tools are the real python tool and coding toolkit on host cells
(:mod:`examples.tiny_model.coding_tools`); the teacher's first patch of a recovery case is
kept in the context but left out of the loss (its mask is zero), so the model learns the
recovery without learning the mistake.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from examples.tiny_model.agents import tiny_agent
from examples.tiny_model.coding_family import CODING, patch_text
from examples.tiny_model.coding_tools import coding_tools
from examples.tiny_model.families import ALL_FAMILIES, FAMILIES, SAMPLERS, Case, teacher_policy
from examples.tiny_model.teacher import TeacherBackend
from examples.tiny_model.toolsets import PageSource, offline_tools
from gptoss_agent.agent.harmony.codec import load_codec
from gptoss_agent.agent.transcript import TranscriptWriter, iter_training_examples, read_records


def sample_cases(family: str, count: int, seed: int,
                 exclude: frozenset[str] = frozenset()) -> list[Case]:
    """``count`` distinct cases of ``family`` drawn with ``seed``, none with a key
    (:attr:`Case.key`: the prompt, or the coding family's bugged module) in ``exclude``."""
    rng = random.Random(f"{family}:{seed}")
    cases: list[Case] = []
    seen = set(exclude)
    while len(cases) < count:
        case = SAMPLERS[family](rng)
        if case.key not in seen:
            seen.add(case.key)
            cases.append(case)
    return cases


async def record_case(case: Case, transcript: Path) -> str | None:
    """Run ``case`` with the teacher and the offline tools; return the final answer.

    The case's scratch folder (its project copy, its drives) is removed afterwards.
    """
    with tempfile.TemporaryDirectory(prefix="tiny-case-") as scratch:
        if case.family == CODING:
            tools, _toolkit = coding_tools(case.data["project"], folder=Path(scratch))
        else:
            pages = PageSource({case.data["url"]: case.data["html"]}
                               if "url" in case.data else {})
            tools = offline_tools(case.family, pages, folder=Path(scratch))
        agent = tiny_agent(TeacherBackend(teacher_policy(case)), tools, family=case.family)
        writer = TranscriptWriter(transcript)
        try:
            async with agent.session(transcript=writer) as session:
                result = await session.send(case.prompt)
        finally:
            writer.close()
            await agent.aclose()
    return result.final_text


def examples_from_transcript(path: Path) -> Iterator[tuple[list[int], list[int]]]:
    """The training examples of one transcript."""
    codec = load_codec()
    yield from iter_training_examples(read_records(path), codec.special.return_,
                                      codec.special.end)


def _masked_mistake(case: Case, tokens: list[int], mask: list[int]) -> list[int]:
    """``mask`` with the teacher's deliberate wrong patch (recovery cases) left out."""
    if case.family != CODING or not case.data.get("recovery"):
        return mask
    fixed = case.data["project"].bugged.fixed
    patch = json.dumps({"patch": patch_text(case.data["project"], fixed, fixed)})
    wrong = load_codec().encode_with_special(patch)
    for start in range(len(tokens) - len(wrong) + 1):
        if tokens[start:start + len(wrong)] == wrong:
            return mask[:start] + [0] * len(wrong) + mask[start + len(wrong):]
    raise RuntimeError("the wrong patch of a recovery case is not in its transcript")


def _scratch_folder() -> str | None:
    """Where transcripts are recorded on the way: RAM where there is some (fsync is free)."""
    return "/dev/shm" if Path("/dev/shm").is_dir() else None


def _kept_lines(output: Path) -> tuple[list[str], int]:
    """The lines of an interrupted ``output`` to keep, and the case index to go on from.

    Every line names its case (``"source": "family:index"``); the last case named may
    have been cut short, so its lines are dropped and it is recorded again.
    """
    rows: list[tuple[int, str]] = []
    for text in output.read_text(encoding="utf-8").splitlines(keepends=True):
        try:
            index = int(json.loads(text)["source"].rsplit(":", 1)[1])
        except (ValueError, KeyError, TypeError, IndexError):
            break  # a torn last line
        if not text.endswith("\n"):
            break
        rows.append((index, text))
    last = rows[-1][0] if rows else 0
    return [text for index, text in rows if index < last], last


def _start_output(output: Path, resume: bool) -> tuple[int, int]:
    """Prepare ``output`` (emptied, or cut back to its kept lines); return the lines kept
    and the index of the first case still to record."""
    output.parent.mkdir(parents=True, exist_ok=True)
    kept, start = _kept_lines(output) if resume and output.exists() else ([], 0)
    output.write_text("".join(kept), encoding="utf-8")
    return len(kept), start


async def generate(cases: Iterable[Case], output: Path, *, with_text: bool = False,
                   resume: bool = False) -> int:
    """Record every case and write its examples to ``output`` (JSONL); return the count.

    Each case's examples are written (and flushed) together as soon as it is recorded.
    With ``resume``, an ``output`` left by an interrupted run of the *same* cases is kept
    and the run goes on from its last case (see :func:`_kept_lines`).

    Raises:
        RuntimeError: The teacher's final answer differs from the case's ground truth
            (the tool output and the expected answer disagree).
    """
    codec = load_codec()
    count, start = _start_output(output, resume)
    scratch = _scratch_folder()
    with tempfile.TemporaryDirectory(prefix="tiny-model-transcripts-", dir=scratch) as folder, \
            output.open("a", encoding="utf-8") as out:
        for index, case in enumerate(cases):
            if index < start:
                continue
            transcript = Path(folder) / f"{case.family}-{index}.jsonl"
            answer = await record_case(case, transcript)
            if answer != case.answer:
                raise RuntimeError(f"case {index} ({case.family}, {case.prompt!r}): the teacher "
                                   f"answered {answer!r}, expected {case.answer!r}")
            lines = []
            for tokens, mask in examples_from_transcript(transcript):
                line: dict[str, object] = {"source": f"{case.family}:{index}", "tokens": tokens,
                                           "mask": _masked_mistake(case, tokens, mask)}
                if with_text:
                    line["text"] = codec.decode(tokens)
                lines.append(json.dumps(line) + "\n")
            out.write("".join(lines))
            out.flush()
            count += len(lines)
            transcript.unlink()
    return count


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--per-family", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=ALL_FAMILIES)
    parser.add_argument("--with-text", action="store_true")
    args = parser.parse_args(argv)
    cases = [case for family in args.families
             for case in sample_cases(family, args.per_family, args.seed)]
    random.Random(args.seed).shuffle(cases)
    count = asyncio.run(generate(cases, args.output, with_text=args.with_text))
    print(f"wrote {count} examples to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The loss mask covers exactly what the assistant sampled: for rendered conversations and
for transcripts recorded by a real agent run (what ``export`` writes)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from gptoss_agent.agent.agent import Agent
from gptoss_agent.agent.backends.scripted import ScriptedBackend
from gptoss_agent.agent.finetune.batching import DataOrder, context_key
from gptoss_agent.agent.finetune.conversations import render_conversation
from gptoss_agent.agent.finetune.data import TrainingExample, load_examples
from gptoss_agent.agent.harmony.codec import HarmonyCodec
from gptoss_agent.agent.transcript import TranscriptWriter, iter_training_examples, read_records
from gptoss_agent.tools.function import function_tool
from tests.agent.finetune.conftest import conversation


def masked_spans(tokens: list[int] | tuple[int, ...], mask: list[int] | tuple[int, ...],
                 codec: HarmonyCodec) -> list[str]:
    """The decoded runs of consecutive masked-in tokens."""
    spans: list[str] = []
    run: list[int] = []
    for token, bit in zip(tokens, mask, strict=True):
        if bit:
            run.append(token)
        elif run:
            spans.append(codec.decode(run))
            run = []
    if run:
        spans.append(codec.decode(run))
    return spans


def test_conversation_mask_is_the_assistant_messages(codec: HarmonyCodec) -> None:
    tokens, mask = render_conversation(conversation(5)["messages"], codec)
    assert masked_spans(tokens, mask, codec) == [
        " to=functions.code<|channel|>commentary <|constrain|>json<|message|>{\"n\": 5}<|call|>",
        "<|channel|>final<|message|>It is 35.<|return|>",
    ]


def test_recorded_transcript_mask_is_what_the_model_sampled(
    tmp_path: Path, codec: HarmonyCodec
) -> None:
    @function_tool
    def code(n: int) -> int:
        """The code of a number.

        Args:
            n: The number.
        """
        return n * 7

    completions = [
        "<|channel|>analysis<|message|>Look it up.<|end|>"
        "<|start|>assistant<|channel|>commentary to=functions.code <|constrain|>json"
        "<|message|>{\"n\": 6}<|call|>",
        "<|channel|>final<|message|>It is 42.<|return|>",
    ]
    agent = Agent(ScriptedBackend(completions), [code], reasoning_effort="low",
                  conversation_start_date="")
    writer = TranscriptWriter(tmp_path / "t.jsonl")

    async def run() -> None:
        async with agent.session(transcript=writer) as session:
            await session.send("Code of 6?")

    asyncio.run(run())
    writer.close()
    [(tokens, mask)] = list(iter_training_examples(
        read_records(tmp_path / "t.jsonl"), codec.special.return_, codec.special.end))
    # The export marks each assistant segment whole, including the ``<|start|>assistant``
    # the prompt supplies; everything the model sampled is masked in, nothing else is.
    assert masked_spans(tokens, mask, codec) == ["<|start|>assistant" + c for c in completions]
    assert codec.decode(tokens[:mask.index(1)]).endswith(
        "<|start|>user<|message|>Code of 6?<|end|>")


def test_batches_keep_one_context_and_are_reproducible(conversations_file: Path) -> None:
    examples = load_examples([conversations_file])
    other = TrainingExample((200006, 9, 9, 200006, 1, 2), (0, 0, 0, 0, 1, 1), "x")
    mixed = examples + [other] * 5
    order = DataOrder.for_examples(mixed, 8, seed=1)
    assert len(order.groups) == 2
    assert order.batches_per_epoch == 5 + 1
    seen: list[int] = []
    for step in range(order.batches_per_epoch):
        batch = order.batch(step)
        assert len({context_key(mixed[i]) for i in batch}) == 1
        seen.extend(batch)
    assert sorted(seen) == list(range(len(mixed)))
    again = DataOrder.for_examples(mixed, 8, seed=1)
    assert [again.batch(s) for s in range(20)] == [order.batch(s) for s in range(20)]
    assert [DataOrder.for_examples(mixed, 8, seed=2).batch(s) for s in range(6)] != [
        order.batch(s) for s in range(6)]

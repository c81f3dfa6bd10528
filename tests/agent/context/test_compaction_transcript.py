"""Compactions in transcripts: replay, resume and export see exactly what the model saw."""

from __future__ import annotations

from pathlib import Path

from gptoss_agent.agent.agent import Agent
from gptoss_agent.agent.backends.scripted import ScriptedBackend
from gptoss_agent.agent.context import CompactionConfig
from gptoss_agent.agent.harmony.codec import HarmonyCodec
from gptoss_agent.agent.harmony.conversation import Conversation
from gptoss_agent.agent.limits import LoopLimits
from gptoss_agent.agent.result import StopReason
from gptoss_agent.agent.transcript import (
    TranscriptWriter,
    iter_training_examples,
    read_records,
    replay_conversation,
)
from gptoss_agent.tools.function import function_tool
from tests.agent.context.episode import episode_agent, read_log, script

ELIDE = CompactionConfig(strategies=("elide_tool_outputs",), threshold=0.8, target=0.5)


async def test_replaying_a_transcript_rebuilds_the_compacted_history(
        codec: HarmonyCodec, tmp_path: Path) -> None:
    agent, _ = episode_agent(codec, 24, window=2500, compaction=ELIDE)
    path = tmp_path / "t.jsonl"
    async with agent.session(transcript=TranscriptWriter(path)) as session:
        result = await session.send("Why did the build fail?")
        live = session.conversation.tokens()
    assert result.ok and result.usage.compactions >= 1
    records = read_records(path)
    compactions = [r for r in records if r["type"] == "compaction"]
    assert len(compactions) == result.usage.compactions
    assert all(r["strategies"] == ["elide_tool_outputs"] for r in compactions)
    shown = [r for r in records if r["type"] == "event"
             and r["event"]["type"] == "context_compacted"]
    assert len(shown) == len(compactions)  # `show` draws each one
    replayed = Conversation.from_records(codec, list(replay_conversation(records).segments))
    assert replayed.tokens() == live


async def test_resume_after_a_compaction_sends_the_same_prompts(
        codec: HarmonyCodec, tmp_path: Path) -> None:
    whole, straight = episode_agent(codec, 24, window=2500, compaction=ELIDE)
    assert (await whole.run("Why did the build fail?")).ok

    path = tmp_path / "t.jsonl"
    first = ScriptedBackend(script(24)[:14], codec=codec)
    stopped_agent = Agent(first, [read_log], codec=codec, conversation_start_date="2026-11-28",
                          limits=LoopLimits(max_generations=14), context_window=2500,
                          compaction=ELIDE)
    async with stopped_agent.session(transcript=TranscriptWriter(path)) as session:
        stopped = await session.send("Why did the build fail?")
    assert stopped.stop_reason is StopReason.MAX_GENERATIONS and stopped.usage.compactions

    rest = ScriptedBackend(script(24)[14:], codec=codec)
    resumed_agent = Agent(rest, [read_log], codec=codec, conversation_start_date="2026-11-28",
                          context_window=2500, compaction=ELIDE)
    records = read_records(path)
    async with resumed_agent.restore_session(records, TranscriptWriter(path)) as again:
        finished = await again.resume()
    assert finished.ok
    assert first.prompts + rest.prompts == straight.prompts  # token for token


async def test_export_uses_the_history_the_model_saw(codec: HarmonyCodec,
                                                     tmp_path: Path) -> None:
    agent, backend = episode_agent(codec, 24, window=2500, compaction=ELIDE)
    path = tmp_path / "t.jsonl"
    async with agent.session(transcript=TranscriptWriter(path)) as session:
        await session.send("Why did the build fail?")
    examples = list(iter_training_examples(read_records(path), codec.special.return_,
                                           codec.special.end))
    assert len(examples) == 1
    tokens, mask = examples[0]
    last_prompt = backend.prompts[-1]
    assert tuple(tokens[: len(last_prompt)]) == last_prompt  # the compacted prompt
    assert sum(mask) > 0 and "[elided: " in codec.decode(tokens)
    # Every trained stretch is taught against the very prompt it was sampled from: a call
    # made before a compaction (it saw the output the compaction later elided) is context.
    header = len(codec.encode_with_special("<|start|>assistant"))  # ends every prompt
    starts = [i for i, weight in enumerate(mask) if weight and (i == 0 or not mask[i - 1])]
    assert starts
    for start in starts:
        assert any(tuple(tokens[:start + header]) == prompt for prompt in backend.prompts)
    answer = len(last_prompt) - header
    assert mask[answer:] == [1] * (len(tokens) - answer)
    assert sum(mask) < sum(1 for r in read_records(path) if r["type"] == "segment"
                           and r["kind"] == "assistant" for _ in r["tokens"])


@function_tool
def broken_text() -> str:
    """Return text with a lone surrogate in it."""
    return "bad \udc80 byte"


async def test_a_lone_surrogate_is_stored_safely(codec: HarmonyCodec, tmp_path: Path) -> None:
    backend = ScriptedBackend([
        "<|channel|>commentary to=functions.broken_text <|constrain|>json<|message|>{}<|call|>",
        "<|channel|>final<|message|>Done.<|return|>",
    ], codec=codec)
    agent = Agent(backend, [broken_text], codec=codec, conversation_start_date="2026-11-28")
    path = tmp_path / "t.jsonl"
    async with agent.session(transcript=TranscriptWriter(path)) as session:
        result = await session.send("Go \ud800 on.")
    assert result.ok
    records = read_records(path)  # readable: valid UTF-8 JSON on every line
    repaired = [r for r in records if "text_repaired" in r]
    assert repaired and all("U+FFFD" in r["text_repaired"] for r in repaired)
    assert any(r["type"] == "run_started" and r["prompt"] == "Go \ufffd on." for r in records)
    # The tool's text is recorded too (made safe here, or already by the dispatch).
    texts = [r["event"].get("text") or "" for r in records if r["type"] == "event"]
    assert any(text.startswith("bad ") and text.endswith(("byte", ")", "]")) for text in texts)
    assert records[-1]["type"] == "run_finished"
    assert "\ufffd" in path.read_text(encoding="utf-8")

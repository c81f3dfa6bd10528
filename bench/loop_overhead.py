"""Per-turn cost of the loop itself: render + parse + dispatch + append, no model, no tool work.

For histories of about 1k, 8k and 32k tokens, it runs tool-calling turns through the real
loop (``run_loop``) with a backend that replays pre-tokenized completions instantly and a
function tool that does nothing, and compares the time per turn with what a naive loop
pays: openai-harmony re-rendering the whole conversation every turn and parsing the
completion with harmony's parser. Both run here, in the same process, on the same
conversation.

Usage: ``python bench/loop_overhead.py [--quick]``. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import AsyncIterator

from openai_harmony import Author, Conversation, Message, Role

from gptoss_agent.agent.agent import Agent
from gptoss_agent.agent.backends.base import GenerationRequest, GenerationStats
from gptoss_agent.agent.harmony.codec import HarmonyCodec, load_codec
from gptoss_agent.agent.limits import LoopLimits
from gptoss_agent.agent.loop import run_loop
from gptoss_agent.tools.function import function_tool

CALL = (
    "<|channel|>analysis<|message|>I will look up the next record.<|end|><|start|>assistant"
    "<|channel|>commentary to=functions.lookup <|constrain|>json<|message|>"
    '{{"key": "record-{index}"}}<|call|>'
)
FINAL = "<|channel|>final<|message|>Done.<|return|>"
FILLER = "The quick brown fox jumps over the lazy dog. " * 40  # about 400 tokens


@function_tool
async def lookup(key: str) -> str:
    """Look a record up (does no work; async, so no worker-thread hop is measured)."""
    return "ok"


class ReplayBackend:
    """Yields pre-tokenized completions at once: no model work at all."""

    def __init__(self, completions: list[list[int]]) -> None:
        self._completions = completions
        self._index = 0

    async def generate(self, request: GenerationRequest) -> AsyncIterator[int]:
        tokens = self._completions[self._index]
        self._index += 1
        for token in tokens:
            yield token

    def last_stats(self, session_id: str) -> GenerationStats | None:
        return None

    async def release(self, session_id: str) -> None:
        return None

    async def aclose(self) -> None:
        return None


def build_history(codec: HarmonyCodec, target_tokens: int) -> tuple[Agent, list[Message]]:
    """An agent session whose history is about ``target_tokens`` long, and the same
    conversation as harmony messages (for the naive baseline)."""
    turns = 4
    completions = [codec.encode_with_special(CALL.format(index=i)) for i in range(turns)]
    completions.append(codec.encode_with_special(FINAL))
    agent = Agent(ReplayBackend(completions), [lookup], codec=codec,
                  conversation_start_date="2026-11-28",
                  limits=LoopLimits(max_generations=10_000, max_sampled_tokens=10**9))
    messages = [Message.from_role_and_content(Role.SYSTEM, agent.header_texts()[0][1]),
                Message.from_role_and_content(Role.DEVELOPER, agent.header_texts()[1][1])]
    session = agent.session("bench")
    while len(session.conversation) < target_tokens:
        session.conversation.add_user(FILLER)
        messages.append(Message.from_role_and_content(Role.USER, FILLER))
    return agent, messages


def measure_ours(codec: HarmonyCodec, history: int, turns: int) -> float:
    agent, _ = build_history(codec, history)
    completions = [codec.encode_with_special(CALL.format(index=i)) for i in range(turns)]
    completions.append(codec.encode_with_special(FINAL))
    session = agent.session("bench")
    while len(session.conversation) < history:
        session.conversation.add_user(FILLER)
    session.state.backend = ReplayBackend(completions)

    def ignore(event: object) -> None:
        return None

    started = time.perf_counter()
    result = asyncio.run(run_loop(session.state, "go", ignore))
    elapsed = time.perf_counter() - started
    assert result.ok and result.tool_calls == turns, result.stop_reason
    return elapsed / (turns + 1) * 1e6


def measure_naive(codec: HarmonyCodec, history: int, turns: int) -> float:
    """Full harmony re-render each turn plus harmony's parse of the completion."""
    _, messages = build_history(codec, history)
    encoding = codec.encoding
    messages = [*messages, Message.from_role_and_content(Role.USER, "go")]
    completions = [codec.encode_with_special(CALL.format(index=i)) for i in range(turns)]
    started = time.perf_counter()
    for tokens in completions:
        encoding.render_conversation_for_completion(
            Conversation.from_messages(messages), Role.ASSISTANT
        )
        parsed = encoding.parse_messages_from_completion_tokens(tokens, Role.ASSISTANT)
        messages.extend(parsed)
        messages.append(
            Message.from_author_and_content(Author.new(Role.TOOL, "functions.lookup"), "ok")
            .with_channel("commentary").with_recipient("assistant")
        )
    return (time.perf_counter() - started) / turns * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run (under a minute)")
    args = parser.parse_args()
    codec = load_codec()
    turns = 10 if args.quick else 40
    repeats = 3 if args.quick else 5
    sizes = {"1k": 1_000, "8k": 8_000, "32k": 32_000}
    figures: dict[str, float] = {}
    print(f"{'history':>8} {'ours µs/turn':>14} {'naive µs/turn':>15} {'ratio':>8}")
    for label, size in sizes.items():
        ours = statistics.median(measure_ours(codec, size, turns) for _ in range(repeats))
        naive = statistics.median(measure_naive(codec, size, turns) for _ in range(repeats))
        ratio = naive / ours
        figures[f"us_per_turn_{label}"] = round(ours, 1)
        figures[f"naive_us_per_turn_{label}"] = round(naive, 1)
        figures[f"ratio_{label}"] = round(ratio, 1)
        print(f"{label:>8} {ours:>14.1f} {naive:>15.1f} {ratio:>7.1f}x")
    goal = figures["ratio_8k"] >= 10 and figures["us_per_turn_8k"] < 2000
    print(f"goal (8k: >= 10x cheaper and < 2 ms per turn): {'met' if goal else 'NOT met'}")
    print(json.dumps({"bench": "loop_overhead", "ratio_8k": figures["ratio_8k"],
                      "us_per_turn_8k": figures["us_per_turn_8k"], **figures}))


if __name__ == "__main__":
    main()

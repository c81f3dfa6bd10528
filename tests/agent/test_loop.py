"""The loop's budgets, guards, events, usage and multi-turn behaviour."""

from __future__ import annotations

import asyncio

import pytest

from gptoss_agent.agent.backends.base import GenerationRequest, GenerationStats
from gptoss_agent.agent.backends.scripted import ScriptedCompletion, ScriptError
from gptoss_agent.agent.events import (
    FinalAnswer,
    MessageRecorded,
    Preamble,
    PreambleDelta,
    ReasoningDelta,
    RunFinished,
    TextDelta,
    ToolCallFinished,
    ToolCallStarted,
    UsageUpdated,
)
from gptoss_agent.agent.harmony.codec import HarmonyCodec
from gptoss_agent.agent.limits import LoopLimits
from gptoss_agent.agent.result import StopReason
from gptoss_agent.tools.function import function_tool
from tests.agent.scripting import CALL_ADD, FINAL, NEXT, scripted_agent


async def test_stream_yields_typed_events_in_order(codec: HarmonyCodec) -> None:
    script = [
        f"<|channel|>analysis<|message|>Let me add.<|end|>{NEXT}<|channel|>commentary"
        f"<|message|>Adding now.<|end|>{NEXT}{CALL_ADD}",
        FINAL,
    ]
    agent, _ = scripted_agent(codec, script)
    events = [event async for event in agent.stream("2+3?")]
    reasoning = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    preamble = "".join(e.text for e in events if isinstance(e, PreambleDelta))
    answer = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert reasoning == "Let me add." and preamble == "Adding now." and answer == "The sum is 5."
    kinds = [type(e).__name__ for e in events if not isinstance(
        e, ReasoningDelta | PreambleDelta | TextDelta | MessageRecorded)]
    assert kinds == [
        "Preamble", "UsageUpdated", "ToolCallStarted", "ToolCallFinished",
        "UsageUpdated", "FinalAnswer", "RunFinished",
    ]
    recorded = [(e.message.role, e.message.channel) for e in events
                if isinstance(e, MessageRecorded)]
    assert recorded == [
        ("user", None), ("assistant", "analysis"), ("assistant", "commentary"),
        ("assistant", "commentary"), ("tool", "commentary"), ("assistant", "final"),
    ]
    started = next(e for e in events if isinstance(e, ToolCallStarted))
    finished = next(e for e in events if isinstance(e, ToolCallFinished))
    assert started.call.recipient == "functions.add" and finished.result.text == "5"
    assert isinstance(events[-1], RunFinished) and events[-1].result.final_text == "The sum is 5."
    assert next(e for e in events if isinstance(e, Preamble)).text == "Adding now."
    assert next(e for e in events if isinstance(e, FinalAnswer)).text == "The sum is 5."


async def test_usage_is_split_by_channel(codec: HarmonyCodec) -> None:
    script = [f"<|channel|>analysis<|message|>think<|end|>{NEXT}{CALL_ADD}", FINAL]
    agent, _ = scripted_agent(codec, script)
    result = await agent.run("2+3?")
    usage = result.usage
    assert usage.generations == 2
    assert usage.analysis_tokens > 0 and usage.commentary_tokens > 0 and usage.final_tokens > 0
    # The first message's <|start|>assistant comes from the prompt, not the sampler.
    assert (usage.analysis_tokens + usage.commentary_tokens + usage.final_tokens
            == usage.sampled_tokens + 2 * len(codec.encode_text("assistant")) + 2)
    assert usage.tool_output_tokens == len(
        codec.encode_with_special(
            "<|start|>functions.add to=assistant<|channel|>commentary<|message|>5<|end|>"
        )
    )


async def test_max_generations_budget(codec: HarmonyCodec) -> None:
    other = CALL_ADD.replace('"a": 2', '"a": 7')
    agent, backend = scripted_agent(codec, [CALL_ADD, other], limits=LoopLimits(max_generations=2))
    result = await agent.run("loop")
    backend.assert_finished()
    assert result.stop_reason is StopReason.MAX_GENERATIONS and result.tool_calls == 2


async def test_token_budget_stops_the_run(codec: HarmonyCodec) -> None:
    agent, _ = scripted_agent(codec, [CALL_ADD, FINAL], limits=LoopLimits(max_sampled_tokens=25))
    result = await agent.run("2+3")
    assert result.stop_reason is StopReason.MAX_SAMPLED_TOKENS
    assert result.usage.sampled_tokens <= 25


async def test_repeated_identical_calls_are_stopped(codec: HarmonyCodec) -> None:
    # Same call with the same arguments, differently spaced JSON: still the same call.
    again = CALL_ADD.replace('{"a": 2, "b": 3}', '{"b":3,"a":2}')
    agent, backend = scripted_agent(
        codec, [CALL_ADD, again, CALL_ADD], limits=LoopLimits(max_repeated_calls=3)
    )
    result = await agent.run("2+3")
    backend.assert_finished()
    assert result.stop_reason is StopReason.REPEATED_CALL
    assert result.tool_calls == 2, "the third identical call is not dispatched"


async def test_wall_time_budget_interrupts_a_slow_tool(codec: HarmonyCodec) -> None:
    gate = asyncio.Event()

    @function_tool
    async def wait_forever() -> str:
        """Never returns on its own."""
        await gate.wait()
        return "never"

    call = CALL_ADD.replace("functions.add", "functions.wait_forever").replace(
        '{"a": 2, "b": 3}', "{}"
    )
    agent, _ = scripted_agent(codec, [call], tools=[wait_forever],
                              limits=LoopLimits(wall_time_s=0.3))
    result = await agent.run("wait")
    assert result.stop_reason is StopReason.WALL_TIME
    assert result.tool_errors == 1
    assert "did not answer within" in result.messages[-1].text


class FailingBackend:
    def __init__(self, codec: HarmonyCodec) -> None:
        self.codec = codec

    async def generate(self, request: GenerationRequest):
        yield self.codec.special.channel
        raise ConnectionError("server went away")

    def last_stats(self, session_id: str) -> GenerationStats | None:
        return None

    async def release(self, session_id: str) -> None:
        return None

    async def aclose(self) -> None:
        return None


async def test_backend_failure_stops_cleanly_with_nothing_lost(codec: HarmonyCodec) -> None:
    from gptoss_agent.agent.agent import Agent

    agent = Agent(FailingBackend(codec), [], codec=codec)
    result = await agent.run("hello")
    assert result.stop_reason is StopReason.BACKEND_ERROR
    assert "server went away" in (result.error or "")
    assert [m.text for m in result.messages] == ["hello"]


async def test_follow_up_messages_continue_the_session(codec: HarmonyCodec) -> None:
    script = [
        FINAL,
        ScriptedCompletion(
            "<|channel|>final<|message|>Still 5.<|return|>",
            check_prompt=lambda prompt: _assert_in("The sum is 5.<|end|>", prompt),
        ),
    ]
    agent, backend = scripted_agent(codec, script)
    async with agent.session() as chat:
        first = await chat.send("2+3?")
        second = await chat.send("Are you sure?")
    backend.assert_finished()
    assert (first.final_text, second.final_text) == ("The sum is 5.", "Still 5.")
    assert [m.role for m in second.messages] == ["user", "assistant", "user", "assistant"]
    assert [m.text for m in second.new_messages] == ["Are you sure?", "Still 5."]


def _assert_in(needle: str, haystack: str) -> None:
    assert needle in haystack


async def test_scripted_backend_fails_loudly_on_extra_generation(codec: HarmonyCodec) -> None:
    agent, _ = scripted_agent(codec, [CALL_ADD])
    with pytest.raises(ScriptError, match="only 1 completion"):
        await agent.run("2+3")


async def test_scripted_backend_reports_unused_completions(codec: HarmonyCodec) -> None:
    agent, backend = scripted_agent(codec, [FINAL, FINAL])
    await agent.run("2+3")
    with pytest.raises(ScriptError, match="1 unused completion"):
        backend.assert_finished()


async def test_scripted_backend_rejects_text_after_a_stop_token(codec: HarmonyCodec) -> None:
    agent, _ = scripted_agent(codec, [CALL_ADD + "<|start|>assistant"])
    with pytest.raises(ScriptError, match="continues after a stop token"):
        await agent.run("2+3")


def test_run_sync_works_from_synchronous_code(codec: HarmonyCodec) -> None:
    agent, _ = scripted_agent(codec, [FINAL])
    assert agent.run_sync("2+3?").final_text == "The sum is 5."


def test_bad_settings_are_rejected_early(codec: HarmonyCodec) -> None:
    with pytest.raises(ValueError, match="reasoning_effort"):
        scripted_agent(codec, [], reasoning_effort="extreme")
    with pytest.raises(ValueError, match="max_generations"):
        LoopLimits(max_generations=0)


async def test_usage_event_reports_speed(codec: HarmonyCodec) -> None:
    agent, _ = scripted_agent(codec, [FINAL])
    events = [e async for e in agent.stream("x")]
    usage = [e for e in events if isinstance(e, UsageUpdated)]
    assert len(usage) == 1 and usage[0].tokens_per_second > 0 and usage[0].generation == 1


async def test_unavailable_tool_infrastructure_stops_the_run(codec: HarmonyCodec) -> None:
    from gptoss_agent.tools.base import NamespaceSpec, ToolCall, ToolContext, ToolResult
    from gptoss_agent.tools.errors import ToolUnavailableError

    class DeadSandbox:
        spec = NamespaceSpec("python", "Runs code.", builtin=True)

        async def call(self, call: ToolCall, context: ToolContext) -> ToolResult:
            raise ToolUnavailableError("python sandbox unavailable: no Docker engine")

        async def aclose(self) -> None:
            return None

    call = "<|channel|>analysis to=python<|message|>1+1<|call|>"
    agent, _ = scripted_agent(codec, [call], tools=[DeadSandbox()])
    result = await agent.run("compute")
    assert result.stop_reason is StopReason.TOOL_UNAVAILABLE
    assert "no Docker engine" in (result.error or "")


async def test_repeated_call_stop_leaves_a_well_formed_history(codec: HarmonyCodec) -> None:
    agent, backend = scripted_agent(
        codec, [CALL_ADD, CALL_ADD, FINAL], limits=LoopLimits(max_repeated_calls=2))
    async with agent.session() as chat:
        first = await chat.send("2+3")
        assert first.stop_reason is StopReason.REPEATED_CALL
        second = await chat.send("just answer")
    assert second.ok
    last_prompt = backend.decoded_prompts()[-1]
    # Every call in the history has an answer before the next user message.
    assert last_prompt.count("<|call|>") == last_prompt.count("<|start|>functions.add to=")
    assert "this exact call was made 2 times in a row" in last_prompt


async def test_drop_all_keeps_calls_with_their_results(codec: HarmonyCodec) -> None:
    from gptoss_agent.agent.harmony.conversation import AnalysisPolicy
    from tests.agent.scripting import EchoPython

    call = ("<|channel|>analysis<|message|>THINK<|end|><|start|>assistant<|channel|>analysis "
            "to=python<|message|>print(1)<|call|>")
    agent, backend = scripted_agent(codec, [call, FINAL], tools=[EchoPython()],
                                    analysis_policy=AnalysisPolicy.DROP_ALL)
    await agent.run("go")
    second = backend.decoded_prompts()[1]
    assert "THINK" not in second
    assert "to=python<|message|>print(1)<|call|><|start|>python to=assistant" in second


async def test_wall_time_cut_generation_is_recorded(codec: HarmonyCodec) -> None:
    class Stalling:
        async def generate(self, request: GenerationRequest):
            for token in codec.encode_with_special("<|channel|>analysis<|message|>thinking"):
                yield token
            await asyncio.Event().wait()

        def last_stats(self, session_id: str) -> GenerationStats | None:
            return None

        async def release(self, session_id: str) -> None:
            return None

        async def aclose(self) -> None:
            return None

    from gptoss_agent.agent.agent import Agent

    agent = Agent(Stalling(), [], codec=codec, limits=LoopLimits(wall_time_s=0.5))
    result = await agent.run("hello")
    assert result.stop_reason is StopReason.WALL_TIME
    assert result.usage.generations == 1 and result.usage.sampled_tokens > 0
    assert result.messages[-1].text == "thinking"

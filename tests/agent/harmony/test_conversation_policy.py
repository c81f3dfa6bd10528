"""Token-exact history and the chain-of-thought policy, seen through the prompts sent."""

from __future__ import annotations

import pytest

from gptoss_agent.agent.harmony.codec import HarmonyCodec
from gptoss_agent.agent.harmony.conversation import AnalysisPolicy, Conversation
from gptoss_agent.agent.harmony.parser import parse_completion
from tests.agent.scripting import CALL_ADD, NEXT, scripted_agent


def turn(thought: str, answer: str) -> str:
    return (
        f"<|channel|>analysis<|message|>{thought}<|end|>{NEXT}"
        f"<|channel|>final<|message|>{answer}<|return|>"
    )


async def test_turn_three_prompt_holds_no_earlier_analysis(codec: HarmonyCodec) -> None:
    script = [
        turn("SECRET-ONE reasoning", "One."),
        turn("SECRET-TWO reasoning", "Two."),
        turn("SECRET-THREE reasoning", "Three."),
    ]
    agent, backend = scripted_agent(codec, script, tools=[])
    async with agent.session() as chat:
        for question in ("q1", "q2", "q3"):
            result = await chat.send(question)
            assert result.ok
    backend.assert_finished()
    third = backend.decoded_prompts()[2]
    assert "SECRET-ONE" not in third and "SECRET-TWO" not in third
    # The answers stay, as final messages closed with <|end|> (not <|return|>).
    assert "<|channel|>final<|message|>One.<|end|>" in third
    assert "<|channel|>final<|message|>Two.<|end|>" in third
    assert "<|return|>" not in third


async def test_analysis_is_kept_inside_the_tool_loop_until_final(codec: HarmonyCodec) -> None:
    script = [
        f"<|channel|>analysis<|message|>PLAN-A<|end|>{NEXT}{CALL_ADD}",
        f"<|channel|>analysis<|message|>PLAN-B<|end|>{NEXT}{CALL_ADD.replace('2', '4')}",
        turn("PLAN-C", "Done."),
        turn("NEXT-TURN", "Again."),
    ]
    agent, backend = scripted_agent(codec, script)
    async with agent.session() as chat:
        first = await chat.send("add twice")
        second = await chat.send("and again?")
    assert first.ok and second.ok
    prompts = backend.decoded_prompts()
    assert "PLAN-A" in prompts[1]
    assert "PLAN-A" in prompts[2] and "PLAN-B" in prompts[2]
    # After the final, the whole turn's analysis is gone, but calls and results stay.
    assert "PLAN-A" not in prompts[3] and "PLAN-B" not in prompts[3] and "PLAN-C" not in prompts[3]
    assert prompts[3].count("to=functions.add") == 2
    assert prompts[3].count("<|start|>functions.add to=assistant") == 2


async def test_sampled_tokens_are_appended_verbatim(codec: HarmonyCodec) -> None:
    # Harmony would re-render this call as "assistant to=functions.add<|channel|>...".
    agent, backend = scripted_agent(codec, [CALL_ADD, turn("t", "5")])
    await agent.run("2+3")
    sampled = codec.encode_with_special(CALL_ADD)
    second_prompt = list(backend.prompts[1])
    first_prompt = list(backend.prompts[0])
    assert second_prompt[: len(first_prompt)] == first_prompt, "history is a strict prefix"
    assert second_prompt[len(first_prompt) : len(first_prompt) + len(sampled)] == sampled


@pytest.mark.parametrize(
    ("policy", "expect_first_turn_analysis", "expect_tool_loop_analysis"),
    [
        (AnalysisPolicy.KEEP_ALL, True, True),
        (AnalysisPolicy.DROP_ALL, False, False),
        (AnalysisPolicy.PER_TURN, False, True),
    ],
)
async def test_policies(codec, policy, expect_first_turn_analysis, expect_tool_loop_analysis):
    script = [
        turn("FIRST-TURN", "ok"),
        f"<|channel|>analysis<|message|>IN-LOOP<|end|>{NEXT}{CALL_ADD}",
        turn("t", "5"),
    ]
    agent, backend = scripted_agent(codec, script, analysis_policy=policy)
    async with agent.session() as chat:
        await chat.send("hello")
        await chat.send("2+3")
    prompts = backend.decoded_prompts()
    assert ("FIRST-TURN" in prompts[1]) is expect_first_turn_analysis
    assert ("IN-LOOP" in prompts[2]) is expect_tool_loop_analysis


def test_conversation_round_trips_through_records(codec: HarmonyCodec) -> None:
    conversation = Conversation(codec, [("system", "sys")])
    conversation.add_user("hi")
    completion = parse_completion(codec, codec.encode_with_special(turn("why", "because")))
    conversation.add_assistant(completion.messages)
    restored = Conversation.from_records(codec, conversation.to_records())
    assert restored.prompt() == conversation.prompt()
    assert restored.turn == conversation.turn == 1


def test_drop_all_keeps_a_cut_off_call_with_its_answer(codec: HarmonyCodec) -> None:
    from gptoss_agent.agent.harmony.parser import CompletionParser

    conversation = Conversation(codec, [("system", "sys")], AnalysisPolicy.DROP_ALL)
    conversation.add_user("hi")
    parser = CompletionParser(codec)
    for token in codec.encode_with_special("<|channel|>analysis<|message|>THINKING<|end|>"
                                           "<|start|>assistant<|channel|>analysis to=python "
                                           "code<|message|>print(1"):
        parser.feed(token)
    conversation.add_assistant(parser.finish(max_tokens_hit=True).messages)
    conversation.add_tool_result("python", "analysis", "Your last message could not be used")
    text = codec.decode(conversation.tokens())
    assert "THINKING" not in text  # reasoning goes
    assert "to=python code<|message|>print(1<|end|><|start|>python to=assistant" in text

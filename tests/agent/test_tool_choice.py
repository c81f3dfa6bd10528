"""``tool_choice`` and strict calls: what the backend is asked to enforce, and what the
loop enforces itself for a backend that samples freely."""

from __future__ import annotations

import pytest

from gptoss_agent.agent.agent import Agent
from gptoss_agent.agent.harmony.codec import HarmonyCodec
from gptoss_agent.agent.result import StopReason
from gptoss_agent.tools.function import function_tool
from tests.agent.scripting import CALL_ADD, FINAL, add
from tests.agent.test_structured_output import Recording


@function_tool(strict=True)
def shout(text: str) -> str:
    """Upper-case ``text``."""
    return text.upper()


def agent_for(codec: HarmonyCodec, script: list[str], **kwargs: object
              ) -> tuple[Agent, Recording]:
    backend = Recording(script, codec=codec)
    tools = kwargs.pop("tools", [add])
    return Agent(backend, tools, codec=codec, conversation_start_date="",  # type: ignore[arg-type]
                 **kwargs), backend  # type: ignore[arg-type]


async def test_required_makes_the_model_call_before_it_answers(codec: HarmonyCodec) -> None:
    agent, backend = agent_for(codec, [FINAL, CALL_ADD, FINAL], tool_choice="required")
    result = await agent.run("2+3?")
    assert result.stop_reason is StopReason.FINAL and result.tool_calls == 1
    assert [i.kind for i in result.incidents] == ["tool_choice"]
    assert "Call one of the tools before answering" in backend.decoded_prompts()[1]
    first, second, third = (r.constraint for r in backend.requests)
    assert first is not None and first.tool_choice == "required"
    assert second is not None and second.tool_choice == "required"
    assert third is None  # after the first call the choice is auto again


async def test_none_refuses_calls(codec: HarmonyCodec) -> None:
    agent, backend = agent_for(codec, [CALL_ADD, FINAL], tool_choice="none")
    result = await agent.run("2+3?")
    assert result.stop_reason is StopReason.FINAL and result.tool_calls == 0
    assert "tool_choice is none" in backend.decoded_prompts()[1]


async def test_a_named_choice_is_normalised_and_enforced(codec: HarmonyCodec) -> None:
    agent, backend = agent_for(codec, [FINAL, CALL_ADD, FINAL], tool_choice="add")
    assert agent.tool_choice == "functions.add"
    result = await agent.run("2+3?")
    assert result.tool_calls == 1
    assert backend.requests[0].constraint is not None
    assert backend.requests[0].constraint.tool_choice == "functions.add"


def test_an_unknown_choice_is_refused(codec: HarmonyCodec) -> None:
    with pytest.raises(ValueError, match="names no tool"):
        agent_for(codec, [], tool_choice="subtract")


async def test_strict_tools_send_their_schemas(codec: HarmonyCodec) -> None:
    agent, backend = agent_for(codec, [FINAL], tools=[add, shout])
    await agent.run("hi")
    constraint = backend.requests[0].constraint
    assert constraint is not None
    assert constraint.target("functions.shout").schema == shout.parameters  # type: ignore[union-attr]
    assert constraint.target("functions.add").schema is None  # type: ignore[union-attr]
    everything, backend = agent_for(codec, [FINAL], strict=True)
    await everything.run("hi")
    strict = backend.requests[0].constraint
    assert strict is not None and strict.target("functions.add").schema == add.parameters  # type: ignore[union-attr]


async def test_free_sampling_sends_no_constraint(codec: HarmonyCodec) -> None:
    agent, backend = agent_for(codec, [FINAL])
    await agent.run("hi")
    assert backend.requests[0].constraint is None

"""Structured final output: the response format in the prompt, the answer validated and
typed, a wrong answer sent back within a retry budget, and the constraint the backend
receives."""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import pytest

from gptoss_agent.agent.agent import Agent
from gptoss_agent.agent.backends.base import GenerationRequest
from gptoss_agent.agent.backends.scripted import ScriptedBackend
from gptoss_agent.agent.harmony.codec import HarmonyCodec
from gptoss_agent.agent.limits import LoopLimits
from gptoss_agent.agent.result import StopReason
from tests.agent.scripting import CALL_ADD, add


@dataclasses.dataclass
class Weather:
    """The weather in one city."""

    city: str
    temperature: float
    unit: Literal["celsius", "fahrenheit"] = "celsius"


def final(text: str) -> str:
    return f"<|channel|>final<|constrain|>json<|message|>{text}<|return|>"


class Recording(ScriptedBackend):
    """A scripted backend that keeps every request it was given."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.requests: list[GenerationRequest] = []

    def generate(self, request: GenerationRequest):  # type: ignore[no-untyped-def]
        self.requests.append(request)
        return super().generate(request)


def agent_for(codec: HarmonyCodec, script: list[str], **kwargs: Any) -> tuple[Agent, Recording]:
    backend = Recording(script, codec=codec)
    return Agent(backend, kwargs.pop("tools", ()), codec=codec, conversation_start_date="",
                 output_type=Weather, **kwargs), backend


async def test_a_valid_answer_is_typed(codec: HarmonyCodec) -> None:
    agent, backend = agent_for(codec, [final('{"city": "Paris", "temperature": 18.5}')])
    result = await agent.run("Weather in Paris?")
    assert result.stop_reason is StopReason.FINAL
    assert result.output == Weather("Paris", 18.5)
    prompt = backend.decoded_prompts()[0]
    assert "# Response Formats" in prompt and "## Weather" in prompt
    assert "// The weather in one city." in prompt
    constraint = backend.requests[0].constraint
    assert constraint is not None and constraint.final_schema == agent.output.schema  # type: ignore[union-attr]


async def test_a_wrong_answer_goes_back_and_is_repaired(codec: HarmonyCodec) -> None:
    agent, backend = agent_for(codec, [final('{"city": "Paris"}'),
                                       final('{"city": "Paris", "temperature": 18.5}')])
    result = await agent.run("Weather in Paris?")
    assert result.output == Weather("Paris", 18.5)
    assert [i.kind for i in result.incidents] == ["invalid_output"]
    correction = backend.decoded_prompts()[1]
    assert "'temperature' is a required property" in correction
    assert "Weather response format" in correction


async def test_the_retry_budget_ends_the_run_with_its_own_reason(codec: HarmonyCodec) -> None:
    agent, _ = agent_for(codec, [final("not json"), final("{}")],
                         limits=LoopLimits(max_output_retries=1, max_consecutive_errors=5))
    result = await agent.run("Weather in Paris?")
    assert result.stop_reason is StopReason.INVALID_OUTPUT
    assert result.output is None and result.final_text is None
    assert "required property" in (result.error or "")


async def test_structured_output_works_with_tools(codec: HarmonyCodec) -> None:
    agent, backend = agent_for(codec, [CALL_ADD, final('{"city": "Sum", "temperature": 5}')],
                               tools=[add])
    result = await agent.run("Add, then report.")
    assert result.tool_calls == 1 and result.output == Weather("Sum", 5.0)
    assert backend.requests[0].constraint is not None


@pytest.mark.parametrize("output_type", [{"type": "object", "properties": {"x": {}}},
                                         Weather])
def test_output_types_take_schemas_and_types(codec: HarmonyCodec, output_type: Any) -> None:
    agent = Agent(ScriptedBackend([], codec=codec), codec=codec, output_type=output_type)
    assert agent.output is not None and agent.output.schema["type"] == "object"


def test_an_output_type_without_a_schema_is_a_type_error(codec: HarmonyCodec) -> None:
    with pytest.raises(TypeError, match="no JSON schema"):
        Agent(ScriptedBackend([], codec=codec), codec=codec, output_type=object())

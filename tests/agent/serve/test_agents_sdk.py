"""One run of the ``openai-agents`` SDK against our endpoint, calling a function tool."""

from __future__ import annotations

import os

import openai

from tests.agent.serve.conftest import CALL_WEATHER, SUNNY, ServeFactory

os.environ.setdefault("OPENAI_AGENTS_DISABLE_TRACING", "1")
import agents  # a dev dependency: missing, the test fails (never skips)


async def test_the_agents_sdk_runs_a_function_tool_through_us(serve: ServeFactory) -> None:
    agents.set_tracing_disabled(True)
    seen: list[str] = []

    @agents.function_tool
    def get_weather(city: str) -> str:
        """The current weather in a city.

        Args:
            city: The city.
        """
        seen.append(city)
        return "sunny, 21 C"

    with serve([CALL_WEATHER, SUNNY]) as running:
        api = openai.AsyncOpenAI(base_url=running.url, api_key="unused", max_retries=0)
        model = agents.OpenAIResponsesModel(model="scripted", openai_client=api)
        agent = agents.Agent(name="weather", instructions="Answer weather questions.",
                             tools=[get_weather], model=model)
        result = await agents.Runner.run(agent, "What's the weather in Paris?")
        await api.close()
        assert seen == ["Paris"]
        assert result.final_output == "It is sunny in Paris."
        prompt = running.backend.decoded_prompts()[1]
        assert "sunny, 21 C" in prompt and "Answer weather questions." in prompt


async def test_a_streamed_agents_sdk_run_sees_reasoning_calls_and_the_answer(
        serve: ServeFactory) -> None:
    agents.set_tracing_disabled(True)

    @agents.function_tool
    def get_weather(city: str) -> str:
        """The current weather in a city.

        Args:
            city: The city.
        """
        return "sunny"

    thinking = "<|channel|>analysis<|message|>Ask the tool.<|end|><|start|>assistant"
    with serve([thinking + CALL_WEATHER, SUNNY]) as running:
        api = openai.AsyncOpenAI(base_url=running.url, api_key="unused", max_retries=0)
        agent = agents.Agent(name="weather", tools=[get_weather],
                             model=agents.OpenAIResponsesModel(model="scripted",
                                                               openai_client=api))
        result = agents.Runner.run_streamed(agent, "What's the weather in Paris?")
        items = [event.item.type async for event in result.stream_events()
                 if event.type == "run_item_stream_event"]
        await api.close()
        assert items == ["reasoning_item", "tool_call_item", "tool_call_output_item",
                         "message_output_item"]
        assert result.final_output == "It is sunny in Paris."

"""One run of the ``openai-agents`` SDK against our endpoint, calling a function tool."""

from __future__ import annotations

import os
from typing import Any

import openai

from tests.agent.serve.conftest import CALL_WEATHER, SUNNY, ServeFactory

os.environ.setdefault("OPENAI_AGENTS_DISABLE_TRACING", "1")
import agents  # a dev dependency: missing, the test fails (never skips)

THINKING = "<|channel|>analysis<|message|>Ask the tool.<|end|><|start|>assistant"


def weather_tool(answer: str, seen: list[str] | None = None) -> Any:
    """An SDK function tool ``get_weather`` that answers ``answer`` (cities go to ``seen``)."""

    @agents.function_tool
    def get_weather(city: str) -> str:
        """The current weather in a city.

        Args:
            city: The city.
        """
        if seen is not None:
            seen.append(city)
        return answer

    return get_weather


async def test_the_agents_sdk_runs_a_function_tool_through_us(serve: ServeFactory) -> None:
    agents.set_tracing_disabled(True)
    seen: list[str] = []
    get_weather = weather_tool("sunny, 21 C", seen)

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
    get_weather = weather_tool("sunny")
    with serve([THINKING + CALL_WEATHER, SUNNY]) as running:
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


async def test_a_second_agents_sdk_turn_resends_its_history_to_a_fresh_server(
        serve: ServeFactory) -> None:
    # The SDK keeps the conversation itself: its next turn sends every earlier item
    # (reasoning, the call, its output, the answer), here to a server that was restarted.
    agents.set_tracing_disabled(True)
    get_weather = weather_tool("sunny, 21 C")
    welcome = "<|channel|>final<|message|>You are welcome.<|return|>"
    history: list[Any] = []
    for script, text in (([THINKING + CALL_WEATHER, SUNNY], "What's the weather in Paris?"),
                         ([welcome], "Thanks!")):
        with serve(script) as running:
            api = openai.AsyncOpenAI(base_url=running.url, api_key="unused", max_retries=0)
            agent = agents.Agent(name="weather", tools=[get_weather],
                                 model=agents.OpenAIResponsesModel(model="scripted",
                                                                   openai_client=api))
            result = await agents.Runner.run(agent, [*history,
                                                     {"role": "user", "content": text}])
            await api.close()
            history = result.to_input_list()
            prompts = running.backend.decoded_prompts()
    assert result.final_output == "You are welcome."
    assert ('to=functions.get_weather <|constrain|>json<|message|>{"city": "Paris"}<|call|>'
            '<|start|>functions.get_weather to=assistant<|channel|>commentary<|message|>'
            'sunny, 21 C<|end|>') in prompts[0]
    assert prompts[0].endswith("It is sunny in Paris.<|end|><|start|>user<|message|>Thanks!"
                               "<|end|><|start|>assistant")

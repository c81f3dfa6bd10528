"""The one agent configuration the tiny model is trained and evaluated with.

Training, evaluation and the end-to-end tests all build their agent here, so the system
and developer messages the model sees are byte-identical everywhere: ``Reasoning: low``,
no date line, one short instruction, and the family's tools. The ``coding`` family has its
own instruction and larger budgets (five or six generations, a patch in one of them);
the three first families' configuration is unchanged, so the shipped model keeps working.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from examples.tiny_model.coding_family import CODING, CODING_INSTRUCTIONS
from examples.tiny_model.families import INSTRUCTIONS
from gptoss_agent.agent.agent import Agent
from gptoss_agent.agent.backends.base import ModelBackend, SamplingParams
from gptoss_agent.agent.limits import LoopLimits

CODING_MAX_TOKENS = 256
"""Token budget of one generation of the coding family (a patch is about 80 tokens)."""
CODING_LIMITS = LoopLimits(max_generations=8, max_consecutive_errors=2, tool_timeout_s=60.0)
"""Loop budgets of the coding family: five generations, six with a recovery, two spare."""


def tiny_agent(model: ModelBackend, tools: Sequence[Any], *, max_tokens: int = 96,
               family: str | None = None) -> Agent:
    """An agent with the tiny model's prompt: low reasoning, no date, greedy decoding.

    Args:
        model: The backend (the teacher while generating data, the tiny model later).
        tools: The family's tools.
        max_tokens: Token budget of one generation (the coding family's is
            :data:`CODING_MAX_TOKENS`).
        family: The task family; only ``coding`` changes the configuration.
    """
    if family == CODING:
        return Agent(model=model, tools=tools, instructions=CODING_INSTRUCTIONS,
                     reasoning_effort="low", conversation_start_date="",
                     sampling=SamplingParams(temperature=0.0, max_tokens=CODING_MAX_TOKENS),
                     limits=CODING_LIMITS)
    return Agent(
        model=model,
        tools=tools,
        instructions=INSTRUCTIONS,
        reasoning_effort="low",
        conversation_start_date="",
        sampling=SamplingParams(temperature=0.0, max_tokens=max_tokens),
        limits=LoopLimits(max_generations=4, max_consecutive_errors=1, tool_timeout_s=60.0),
    )

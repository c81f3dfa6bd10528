"""Held-out evaluation of a tiny-model checkpoint: exact success per family through the
real loop (parsing, tool dispatch, transcripts of nothing but the model's own tokens).

Held-out cases are drawn with :data:`EVAL_SEED` and exclude every prompt of the training
set (re-drawn from the training seed), so they are inputs the model never saw.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from examples.tiny_model.agents import tiny_agent
from examples.tiny_model.families import Case, final_answer_matches
from examples.tiny_model.generate import sample_cases
from examples.tiny_model.toolsets import PageSource, offline_tools

EVAL_SEED = 777
TRAIN_PER_FAMILY = 3000
"""Cases per family in the shipped model's training set (``train.py --per-family``)."""


@dataclass(frozen=True)
class CaseOutcome:
    """How one held-out case went.

    Attributes:
        case: The case.
        answer: The model's final answer, or ``None``.
        stop_reason: Why the run stopped.
        seconds: Wall time of the run.
    """

    case: Case
    answer: str | None
    stop_reason: str
    seconds: float

    @property
    def success(self) -> bool:
        """Exact success."""
        return final_answer_matches(self.case, self.answer)


def heldout_cases(family: str, count: int, train_per_family: int = TRAIN_PER_FAMILY,
                  train_seed: int | None = None) -> list[Case]:
    """``count`` cases of ``family`` whose prompts are not in the training set."""
    from examples.tiny_model.train import SEED

    seed = SEED if train_seed is None else train_seed
    seen = frozenset(c.prompt for c in sample_cases(family, train_per_family, seed))
    return sample_cases(family, count, EVAL_SEED, exclude=seen)


def load_backend(path: Path) -> Any:
    """The transformers backend on ``path`` (CPU, float32, KV-cache reuse on)."""
    from gptoss_agent.agent.backends.transformers_backend import (
        TransformersBackend,
        TransformersBackendConfig,
    )

    return TransformersBackend.load(
        TransformersBackendConfig(model=str(path), device="cpu", dtype="float32"))


ToolsFor = Callable[[Case], Sequence[Any]]


def offline_tools_for(case: Case) -> Sequence[Any]:
    """The family's offline tools, with the case's page when it has one."""
    pages = PageSource({case.data["url"]: case.data["html"]} if "url" in case.data else {})
    return offline_tools(case.family, pages)


async def run_case(backend: Any, case: Case, tools_for: ToolsFor = offline_tools_for, *,
                   close_tools: bool = True) -> CaseOutcome:
    """Run one case through the loop with the model.

    Args:
        backend: The model backend.
        case: The case.
        tools_for: Makes the tools of a case.
        close_tools: Close the tools afterwards (``False`` when they are shared).
    """
    agent = tiny_agent(backend, tools_for(case))
    started = time.perf_counter()
    try:
        result = await agent.run(case.prompt)
    finally:
        if close_tools:
            await agent.aclose()
    return CaseOutcome(case, result.final_text, str(result.stop_reason.value),
                       time.perf_counter() - started)

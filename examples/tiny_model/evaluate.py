"""Held-out evaluation of a tiny-model checkpoint: exact success per family through the
real loop (parsing, tool dispatch, transcripts of nothing but the model's own tokens).

Held-out cases are drawn with :data:`EVAL_SEED` and exclude every prompt of the training
data (re-drawn from each data draw the shipped model's ``provenance.json`` lists), so they
are inputs the model never saw. The coding family's runs are evaluated by
:mod:`examples.tiny_model.coding_eval` (the suite re-run in the Docker sandbox).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from examples.tiny_model.agents import tiny_agent
from examples.tiny_model.families import FAMILIES, Case, final_answer_matches
from examples.tiny_model.generate import sample_cases
from examples.tiny_model.toolsets import PageSource, offline_tools

EVAL_SEED = 777
TRAIN_PER_FAMILY = 3000
"""Cases per family of the first training stage (provenance files older than ``stages``)."""


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


def training_draws(provenance_file: Path | None = None) -> list[tuple[int, dict[str, int]]]:
    """``(seed, cases per family)`` of every data draw a model was trained on, from its
    ``provenance.json`` (default: the shipped model's).

    Raises:
        FileNotFoundError: ``provenance_file`` does not exist.
    """
    from examples.tiny_model.shipped import PROVENANCE, SHIPPED
    from examples.tiny_model.train import SEED

    path = provenance_file or SHIPPED / PROVENANCE
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: without the training draws, held-out "
                                "cases cannot be told apart from training cases")
    provenance = json.loads(path.read_text())
    if "stages" not in provenance:
        per_family = int(provenance.get("per_family") or TRAIN_PER_FAMILY)
        return [(int(provenance.get("seed", SEED)), dict.fromkeys(FAMILIES, per_family))]
    return [(int(stage["data"]["seed"]),
             {family: int(n) for family, n in stage["data"]["per_family"].items()})
            for stage in provenance["stages"]]


def heldout_cases(family: str, count: int,
                  provenance_file: Path | None = None) -> list[Case]:
    """``count`` cases of ``family`` whose keys (:attr:`Case.key`: the prompt, or the coding
    family's bugged module) are in no training draw of the model whose ``provenance.json``
    is ``provenance_file`` (default: the shipped model)."""
    seen: set[str] = set()
    for seed, per_family in training_draws(provenance_file):
        seen.update(c.key for c in sample_cases(family, per_family.get(family, 0), seed))
    return sample_cases(family, count, EVAL_SEED, exclude=frozenset(seen))


def load_backend(path: Path) -> Any:
    """The transformers backend on ``path`` (CPU, float32, KV-cache reuse on)."""
    from gptoss_agent.agent.backends.transformers.backend import (
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

"""Held-out evaluation of the ``coding`` family: the suite must be green after the model's run.

A case runs through the real loop with the real python tool and coding toolkit in the
Docker sandbox (the model's own commands and patches never run on the host). Before
the session closes, the project's tests are run again in the same sandbox workspace:
the case succeeds when they pass and the final answer names the bugged function. Beside
success it records whether the model's first patch applied and how many tool calls the
run made.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from examples.tiny_model.agents import tiny_agent
from examples.tiny_model.case import Case
from examples.tiny_model.coding_family import names_the_fix, tests_pass
from examples.tiny_model.coding_tools import coding_tools
from gptoss_agent.agent.result import ChatMessage
from gptoss_agent.tools.base import ToolContext
from gptoss_agent.tools.python_tool import PythonTool


@dataclass(frozen=True)
class CodingOutcome:
    """How one held-out coding case went.

    Attributes:
        case: The case.
        answer: The model's final answer, or ``None``.
        stop_reason: Why the run stopped.
        seconds: Wall time of the run.
        suite: What re-running the project's tests printed after the run.
        tool_calls: Tool calls the run made.
        first_patch_applied: Whether the first ``apply_patch`` call applied (``None``: no
            patch was written).
    """

    case: Case
    answer: str | None
    stop_reason: str
    seconds: float
    suite: str
    tool_calls: int
    first_patch_applied: bool | None

    @property
    def success(self) -> bool:
        """The suite passes after the run and the answer names the bugged function."""
        return tests_pass(self.suite) and names_the_fix(self.case, self.answer)


def first_patch_applied(messages: Sequence[ChatMessage]) -> bool | None:
    """Whether the first ``functions.apply_patch`` result of a run is a success."""
    for message in messages:
        if message.role == "tool" and message.author == "functions.apply_patch":
            return not message.is_error
    return None


async def run_coding_case(backend: Any, case: Case, python: PythonTool) -> CodingOutcome:
    """Run one coding case with ``backend`` in ``python``'s (Docker) sandbox and re-run the
    project's tests at the end.

    Args:
        backend: The model backend.
        case: A ``coding`` case.
        python: The python tool whose sessions run the commands (shared between cases;
            the caller closes it).
    """
    tools, toolkit = coding_tools(case.data["project"], python=python)
    agent = tiny_agent(backend, tools, family=case.family)
    started = time.perf_counter()
    async with agent.session() as session:
        result = await session.send(case.prompt)
        seconds = time.perf_counter() - started
        check = await toolkit.shell(case.data["project"].test_command, 60.0,
                                    ToolContext(session.session_id))
    return CodingOutcome(case, result.final_text, str(result.stop_reason.value), seconds,
                         check.text, result.tool_calls,
                         first_patch_applied(result.new_messages))


def summarise(outcomes: Sequence[CodingOutcome]) -> dict[str, float]:
    """Success, first-try patch-apply rate (of the runs that wrote a patch) and mean tool
    calls per run."""
    patched = [o.first_patch_applied for o in outcomes if o.first_patch_applied is not None]
    count = max(1, len(outcomes))
    return {
        "success": round(sum(o.success for o in outcomes) / count, 4),
        "first_patch_applies": round(sum(patched) / len(patched), 4) if patched else 0.0,
        "mean_tool_calls": round(sum(o.tool_calls for o in outcomes) / count, 2),
        "cases": len(outcomes),
    }

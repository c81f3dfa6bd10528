"""Success checks: a task's ``check:`` function, run by the framework when the run ends.

A check is ``module:function`` or ``file.py:function`` taking a :class:`CheckContext`
(sync or async). It passes by returning (optionally a sentence saying what it verified)
and fails by raising ``AssertionError`` (or returning ``False``). It runs before the
session closes, so it can still run commands in the session's sandbox.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gptoss_agent.agent.result import RunResult
from gptoss_agent.tools.base import ToolContext
from gptoss_agent.tools.coding.toolkit import CodingToolkit


@dataclass(frozen=True)
class CheckContext:
    """What a check can look at.

    Attributes:
        result: The run's result (final answer, messages, usage).
        session_id: The session the run used.
        data_dir: The host folder that was ``/mnt/data`` (``None`` without python).
        toolkit: The coding toolkit, when the task enabled ``tools.coding``.
    """

    result: RunResult
    session_id: str
    data_dir: Path | None
    toolkit: CodingToolkit | None

    @property
    def workspace(self) -> Path:
        """The host folder holding the coding workspace."""
        if self.toolkit is None:
            raise AssertionError("the task has no coding workspace (tools.coding)")
        return self.toolkit.workspace(self.session_id)

    async def shell(self, command: str, timeout_s: float = 120.0) -> str:
        """Run ``command`` in the session's sandbox workspace; its output and exit line."""
        if self.toolkit is None:
            raise AssertionError("the task has no coding workspace (tools.coding)")
        result = await self.toolkit.shell(command, timeout_s, ToolContext(self.session_id))
        return result.text

    def diff(self) -> str:
        """The agent's changes to the project, as a unified diff."""
        if self.toolkit is None:
            raise AssertionError("the task has no coding workspace (tools.coding)")
        return self.toolkit.diff(self.session_id)


@dataclass(frozen=True)
class CheckOutcome:
    """Whether the check passed, and what it said."""

    passed: bool
    detail: str


async def run_check(check: Any, context: CheckContext) -> CheckOutcome:
    """Call a check and turn its answer or its failure into a :class:`CheckOutcome`."""
    try:
        answer = check(context)
        if inspect.isawaitable(answer):
            answer = await answer
    except AssertionError as exc:
        return CheckOutcome(False, str(exc) or "assertion failed")
    except Exception as exc:  # a broken check is a failed check, with the reason
        return CheckOutcome(False, f"the check raised {type(exc).__name__}: {exc}")
    if answer is False:
        return CheckOutcome(False, "the check returned False")
    return CheckOutcome(True, answer if isinstance(answer, str) else "passed")

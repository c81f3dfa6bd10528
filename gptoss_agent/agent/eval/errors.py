"""The evaluation's own error: bad eval input (a grid, a ``k``, an output folder)."""

from __future__ import annotations

from gptoss_agent.agent.errors import AgentError


class EvalError(AgentError, ValueError):
    """An eval cannot start as asked; the message says which option is wrong and why."""

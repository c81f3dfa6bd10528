"""Whether a call whose result was lost may be run again (:func:`may_rerun`).

A run that stops while a call is in flight (a crash, a killed process) leaves a call that
was started but never answered. Running it again on resume is only safe for a tool whose
calls are idempotent: reading a page, listing files, a pure function. Everything else is
assumed to have possibly taken effect, and the model is told so instead.

A tool says so with :class:`RerunnableTool` (per function of a namespace) or a plain
``idempotent`` attribute (the whole tool). Nothing said means "not idempotent".
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from gptoss_agent.tools.base import Tool


@runtime_checkable
class RerunnableTool(Protocol):
    """A tool that knows which of its functions are safe to call twice."""

    def is_idempotent(self, name: str | None) -> bool:
        """Whether calling ``name`` (``None`` for a freeform tool) twice does no harm."""
        ...


def may_rerun(tool: Tool, name: str | None) -> bool:
    """Whether a lost call of ``tool``'s ``name`` may be run again."""
    if isinstance(tool, RerunnableTool):
        return bool(tool.is_idempotent(name))
    return getattr(tool, "idempotent", False) is True

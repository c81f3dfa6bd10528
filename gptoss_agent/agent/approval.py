"""Human approval of tool calls: which calls need a yes, and who gives it.

A call needs approval when its recipient (``functions.delete_file``, ``browser.open``),
what the model wrote for it (``functions.git_commit`` for the prefixed ``git.commit``) or
its namespace (``python``, ``browser``, ``git``) is listed. The approver is a
callback: the CLI asks at the terminal, an embedding application decides however it
likes. A refusal goes back to the model as a tool message; the run goes on.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from gptoss_agent.tools.base import ToolCall

Approver = Callable[[ToolCall], bool | Awaitable[bool]]


@dataclass(frozen=True)
class ApprovalPolicy:
    """Which calls need a yes, and the callback that answers.

    Attributes:
        required: Recipients or namespaces that need approval.
        approver: Answers ``True`` to allow a call; ``None`` refuses every such call.
    """

    required: frozenset[str] = field(default_factory=frozenset)
    approver: Approver | None = None

    @classmethod
    def of(cls, required: Iterable[str], approver: Approver | None) -> ApprovalPolicy:
        """Build from any iterable of names."""
        return cls(frozenset(required), approver)

    def needs_approval(self, call: ToolCall) -> bool:
        """Whether ``call`` must be approved before it runs."""
        return bool({call.recipient, call.written, call.namespace} & self.required)

    async def decide(self, call: ToolCall) -> bool:
        """Ask the approver; no approver means no."""
        if self.approver is None:
            return False
        answer = self.approver(call)
        if inspect.isawaitable(answer):
            answer = await answer
        return bool(answer)

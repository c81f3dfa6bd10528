"""What the server serves: the agent's settings (:class:`ServedAgent`) and its limits.

:class:`ServedAgent` is built once at start, from the server's task file
(:meth:`ServedAgent.from_task`: its model, built-in tools, instructions, sampling and
budgets) or from a bare checkpoint; every conversation's agent is made from it with the
request's functions, instructions and output format. :class:`ServeLimits` bounds what
clients may ask for: body size, conversations kept, runs in progress.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

from gptoss_agent.agent.backends.base import ModelBackend, SamplingParams
from gptoss_agent.agent.harmony.codec import HarmonyCodec
from gptoss_agent.agent.harmony.conversation import AnalysisPolicy
from gptoss_agent.agent.limits import LoopLimits
from gptoss_agent.agent.task.build import build_tools
from gptoss_agent.agent.task.settings import TaskSettings
from gptoss_agent.tools.base import Tool


@dataclass(frozen=True)
class ServeLimits:
    """Bounds on what clients may ask of the server.

    Attributes:
        max_body_bytes: Largest request body (413 beyond).
        max_conversations: Conversations (response chains) kept; the least recently
            used idle one is dropped for a new one (else the least recently used one
            waiting for a client's function output; 429 when every one is busy).
        max_runs: Runs in progress at once, a run waiting for a client's function output
            included (429 beyond).
        api_key: The bearer token every request must carry, or ``None`` (loopback only).
    """

    max_body_bytes: int = 64 * 1024 * 1024
    max_conversations: int = 64
    max_runs: int = 8
    api_key: str | None = None

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "max_conversations", "max_runs"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")


@dataclass(frozen=True)
class ServedAgent:
    """The agent every conversation starts from.

    Attributes:
        backend: The model (shared by every conversation; sessions keep their caches).
        model_name: The name ``/v1/models`` lists and responses carry.
        codec: The Harmony codec.
        builtin_tools: Server-side tools by kind (``python``, ``browser``), shared by
            every conversation (their state is per session).
        instructions: Developer instructions before the request's own.
        reasoning_effort: The effort when a request sets none.
        sampling: Sampling settings (a request may lower ``max_tokens`` and set
            ``temperature`` / ``top_p``).
        limits: The budgets of each run.
        analysis_policy: When past reasoning leaves the prompt.
        conversation_start_date: For the system message (``None``: today; ``""``: none).
    """

    backend: ModelBackend
    model_name: str
    codec: HarmonyCodec
    builtin_tools: Mapping[str, Tool] = field(default_factory=dict)
    instructions: str | None = None
    reasoning_effort: str = "medium"
    sampling: SamplingParams = field(default_factory=SamplingParams)
    limits: LoopLimits = field(default_factory=LoopLimits)
    analysis_policy: AnalysisPolicy = AnalysisPolicy.PER_TURN
    conversation_start_date: str | None = None

    @classmethod
    def from_task(cls, settings: TaskSettings, backend: ModelBackend, model_name: str,
                  codec: HarmonyCodec) -> ServedAgent:
        """The served agent a task file describes (its python and browser tools only).

        Raises:
            TaskFileError: A tool section cannot be built.
        """
        only_builtins = dataclasses.replace(settings, functions=(), mcp=(), coding=None)
        tools = build_tools(only_builtins).tools
        builtin = {tool.spec.name: tool for tool in tools
                   if tool.spec.name in ("python", "browser") and isinstance(tool, Tool)}
        return cls(backend=backend, model_name=model_name, codec=codec,
                   builtin_tools=builtin, instructions=settings.instructions,
                   reasoning_effort=settings.reasoning_effort, sampling=settings.sampling,
                   limits=settings.limits, analysis_policy=settings.analysis_policy,
                   conversation_start_date=settings.conversation_start_date)

    async def aclose(self) -> None:
        """Close the built-in tools (containers, browsers) and the backend."""
        try:
            for tool in self.builtin_tools.values():
                await tool.aclose()
        finally:
            await self.backend.aclose()

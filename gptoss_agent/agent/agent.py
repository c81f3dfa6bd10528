"""The public entry point: ``Agent`` (configuration) and ``AgentSession`` (one conversation).

Example::

    agent = Agent(model=backend, tools=[get_weather], instructions="Be brief.")
    result = await agent.run("What's the weather in Paris?")      # one-shot
    result = agent.run_sync("...")                                 # from sync code
    async for event in agent.stream("..."):                        # typed events
        ...
    async with agent.session() as chat:                            # multi-turn chat
        await chat.send("Hi")
        await chat.send("And tomorrow?")
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from types import TracebackType

from gptoss_agent.agent.backend import ModelBackend, SamplingParams
from gptoss_agent.agent.conversation import AnalysisPolicy, Conversation
from gptoss_agent.agent.encoding import HarmonyCodec, load_codec
from gptoss_agent.agent.events import Event
from gptoss_agent.agent.loop import LoopLimits, SessionState, run_loop
from gptoss_agent.agent.prompt import (
    ReasoningEffort,
    SystemSettings,
    developer_message_text,
    system_message_text,
)
from gptoss_agent.agent.result import RunResult
from gptoss_agent.tools.base import SessionScopedTool
from gptoss_agent.tools.registry import ToolLike, ToolRegistry


class Agent:
    """A configured gpt-oss agent: a model, tools, instructions and budgets.

    Args:
        model: The backend that samples tokens.
        tools: Tool namespaces (python, browser), function tools or typed callables.
        instructions: The developer instructions.
        reasoning_effort: ``low``, ``medium`` or ``high``.
        sampling: Sampling parameters (temperature, top_p, max tokens per turn, seed).
        limits: Budgets of each run.
        analysis_policy: When past reasoning leaves the prompt.
        conversation_start_date: ``YYYY-MM-DD`` for the system message; today if
            ``None``; ``""`` leaves the line out.
        codec: The Harmony codec (loaded offline when omitted).

    Raises:
        ToolRegistrationError: Duplicate or invalid tools.
        ValueError: A bad reasoning effort, date or limit.
    """

    def __init__(
        self,
        model: ModelBackend,
        tools: Iterable[ToolLike] = (),
        *,
        instructions: str | None = None,
        reasoning_effort: ReasoningEffort = "medium",
        sampling: SamplingParams | None = None,
        limits: LoopLimits | None = None,
        analysis_policy: AnalysisPolicy = AnalysisPolicy.PER_TURN,
        conversation_start_date: str | None = None,
        codec: HarmonyCodec | None = None,
    ) -> None:
        self.model = model
        self.registry = ToolRegistry(tools)
        self.instructions = instructions
        date = (
            _dt.date.today().isoformat()
            if conversation_start_date is None
            else conversation_start_date or None
        )
        self.system = SystemSettings(reasoning_effort=reasoning_effort,
                                     conversation_start_date=date)
        self.sampling = sampling or SamplingParams()
        self.limits = limits or LoopLimits()
        self.analysis_policy = AnalysisPolicy(analysis_policy)
        self.codec = codec or load_codec()

    def header_texts(self) -> list[tuple[str, str]]:
        """The ``(role, text)`` of the system and developer messages."""
        developer_specs = self.registry.developer_specs
        texts = [
            ("system", system_message_text(
                self.system, self.registry.builtin_specs, bool(developer_specs))),
        ]
        developer = developer_message_text(self.instructions, developer_specs)
        if developer is not None:
            texts.append(("developer", developer))
        return texts

    def session(self, session_id: str | None = None) -> AgentSession:
        """A new conversation with this agent."""
        return AgentSession(self, session_id or uuid.uuid4().hex[:12])

    async def run(self, task: str, *, on_event: Callable[[Event], None] | None = None
                  ) -> RunResult:
        """Run ``task`` in a fresh session and close it."""
        async with self.session() as session:
            return await session.send(task, on_event=on_event)

    def run_sync(self, task: str) -> RunResult:
        """:meth:`run` for synchronous code (starts its own event loop)."""
        return asyncio.run(self.run(task))

    async def stream(self, task: str) -> AsyncIterator[Event]:
        """Run ``task`` in a fresh session, yielding events as they happen."""
        async with self.session() as session:
            async for event in session.stream(task):
                yield event

    async def aclose(self) -> None:
        """Close every tool (containers, browsers). The model backend is the caller's."""
        await self.registry.aclose()

    async def __aenter__(self) -> Agent:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class AgentSession:
    """One conversation: follow-up messages see everything said before.

    Use as an async context manager, or call :meth:`aclose` when done, so tools free
    what they hold for this session and the backend drops its cache.
    """

    def __init__(self, agent: Agent, session_id: str) -> None:
        self.agent = agent
        self.session_id = session_id
        self.state = SessionState(
            session_id=session_id,
            codec=agent.codec,
            conversation=Conversation(agent.codec, agent.header_texts(), agent.analysis_policy),
            backend=agent.model,
            registry=agent.registry,
            sampling=agent.sampling,
            limits=agent.limits,
        )
        self._lock = asyncio.Lock()
        self._closed = False

    @property
    def conversation(self) -> Conversation:
        """The token-exact history."""
        return self.state.conversation

    async def send(self, text: str, *, on_event: Callable[[Event], None] | None = None
                   ) -> RunResult:
        """Add a user message and run until the model answers or a budget runs out."""
        if self._closed:
            raise RuntimeError(f"session {self.session_id} is closed")
        async with self._lock:
            return await run_loop(self.state, text, on_event or _ignore)

    async def stream(self, text: str) -> AsyncIterator[Event]:
        """:meth:`send`, yielding events; the last one is :class:`RunFinished`."""
        queue: asyncio.Queue[object] = asyncio.Queue()

        async def produce() -> None:
            try:
                await self.send(text, on_event=queue.put_nowait)
            finally:
                queue.put_nowait(_END)

        task = asyncio.create_task(produce())
        try:
            while (item := await queue.get()) is not _END:
                yield item  # type: ignore[misc]
            await task  # re-raises what went wrong, if anything
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def aclose(self) -> None:
        """Free this session's tool resources and backend cache. Idempotent."""
        if self._closed:
            return
        self._closed = True
        for tool in self.agent.registry.tools:
            if isinstance(tool, SessionScopedTool):
                await tool.close_session(self.session_id)
        await self.agent.model.release(self.session_id)

    async def __aenter__(self) -> AgentSession:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


_END = object()


def _ignore(_event: Event) -> None:
    return None

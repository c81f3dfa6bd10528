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
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from types import TracebackType
from typing import Any

from gptoss_agent.agent.approval import ApprovalPolicy
from gptoss_agent.agent.backends.base import ModelBackend, SamplingParams
from gptoss_agent.agent.choice import normalise_choice
from gptoss_agent.agent.context.config import CompactionConfig
from gptoss_agent.agent.errors import SessionClosedError
from gptoss_agent.agent.event_json import event_to_dict, result_to_dict
from gptoss_agent.agent.events import DELTA_EVENTS, Event, RunFinished, ToolCallFinished
from gptoss_agent.agent.harmony.codec import HarmonyCodec, load_codec
from gptoss_agent.agent.harmony.conversation import AnalysisPolicy, Conversation
from gptoss_agent.agent.harmony.prompt import (
    ReasoningEffort,
    ResponseFormat,
    SystemSettings,
    developer_message_text,
    system_message_text,
)
from gptoss_agent.agent.limits import LoopLimits
from gptoss_agent.agent.loop import run_loop
from gptoss_agent.agent.output import output_spec
from gptoss_agent.agent.result import RunResult
from gptoss_agent.agent.state import SessionState
from gptoss_agent.agent.tool_output import output_store
from gptoss_agent.agent.transcript import TranscriptError, TranscriptWriter, replay_conversation
from gptoss_agent.tools.base import SessionScopedTool, StatefulTool
from gptoss_agent.tools.registry import ToolLike, ToolRegistry


class Agent:
    """A configured gpt-oss agent: a model, tools, instructions and budgets.

    Args:
        model: The backend that samples tokens.
        tools: Tool namespaces (python, browser), function tools or typed callables.
        instructions: The developer instructions.
        reasoning_effort: ``low``, ``medium`` or ``high``.
        sampling: Sampling parameters (temperature, top_p, max tokens per generation, seed).
        limits: Budgets of each run.
        analysis_policy: When past reasoning leaves the prompt.
        approval: Which calls need a yes and who answers (default: none need one).
        output_type: The type of the final answer: a pydantic model, a dataclass, a
            ``TypedDict`` or a raw JSON schema. It is shown to the model as a response
            format; an answer that does not match goes back to the model
            (``LoopLimits.max_output_retries``), and ``RunResult.output`` is the typed
            value.
        tool_choice: ``auto``, ``required`` (call a tool before answering), ``none``
            (no calls) or a tool (``get_weather`` or ``functions.get_weather``); it
            holds until the run's first call.
        strict: Every call's arguments must match their schema by construction where
            the backend constrains decoding (per tool: ``function_tool(strict=True)``).
        conversation_start_date: ``YYYY-MM-DD`` for the system message; today if
            ``None``; ``""`` leaves the line out.
        codec: The Harmony codec (loaded offline when omitted).
        context_window: The window in tokens; wins over what the backend says (a
            checkpoint's ``max_position_embeddings``, a server's ``max_model_len``).
        compaction: When and how the history is compacted to fit the window (default
            ``CompactionConfig()``: elide old tool outputs, then drop old reasoning, near
            the window's edge; ``CompactionConfig(strategies=())`` never compacts, and a
            run that outgrows the window stops with ``context_full``).

    Raises:
        ToolRegistrationError: Duplicate or invalid tools.
        ValueError: A bad reasoning effort, date, limit or tool choice.
        TypeError: An output type with no JSON schema.
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
        approval: ApprovalPolicy | None = None,
        codec: HarmonyCodec | None = None,
        output_type: Any = None,
        tool_choice: str = "auto",
        strict: bool = False,
        context_window: int | None = None,
        compaction: CompactionConfig | None = None,
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
        self.approval = approval or ApprovalPolicy()
        self.codec = codec or load_codec()
        self.registry.check_names()  # clashes across tool groups, reported at start
        self.output = output_spec(output_type) if output_type is not None else None
        self.tool_choice = normalise_choice(tool_choice, self.registry)
        self.strict = strict
        if context_window is not None and context_window < 1:
            raise ValueError(f"context_window must be at least 1, got {context_window}")
        self.context_window = context_window
        self.compaction = compaction or CompactionConfig()

    def header_texts(self) -> list[tuple[str, str]]:
        """The ``(role, text)`` of the system and developer messages."""
        developer_specs = self.registry.developer_specs
        texts = [
            ("system", system_message_text(
                self.system, self.registry.builtin_specs, bool(developer_specs))),
        ]
        response = (ResponseFormat(self.output.name, self.output.schema,
                                   self.output.description)
                    if self.output is not None else None)
        developer = developer_message_text(self.instructions, developer_specs,
                                           response_format=response)
        if developer is not None:
            texts.append(("developer", developer))
        return texts

    def session(
        self,
        session_id: str | None = None,
        *,
        transcript: TranscriptWriter | None = None,
    ) -> AgentSession:
        """A new conversation with this agent.

        Args:
            session_id: Stable id (tools key per-session state on it); random if omitted.
            transcript: Where to record everything, durably; the session writes the
                header (with the writer's metadata) and owns the writer from now on.
        """
        sid = session_id or uuid.uuid4().hex[:12]
        if transcript is not None:
            transcript.write_header(sid)
        return AgentSession(self, sid, transcript=transcript)

    def restore_session(
        self, records: list[dict[str, Any]], transcript: TranscriptWriter | None = None
    ) -> AgentSession:
        """Rebuild the session a transcript describes, to continue it.

        The history is rebuilt token for token and stateful tools (the browser's page
        stack) get their last recorded state back.

        Raises:
            TranscriptError: The records hold no header.
        """
        if not records or records[0].get("type") != "header":
            raise TranscriptError("the records do not start with a transcript header")
        replayed = replay_conversation(records)
        session = AgentSession(self, str(records[0]["session_id"]), transcript=transcript,
                               segments=replayed.segments)
        session.state.runs = replayed.runs
        session.state.calls_made = replayed.calls
        session.state.lost_call = replayed.lost_call
        output_store(session.state).restore(session.session_id, records)
        for tool in self.registry.tools:
            state = replayed.tool_states.get(tool.spec.name)
            if state is not None and isinstance(tool, StatefulTool):
                tool.restore(session.session_id, state)
        return session

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

    def __init__(
        self,
        agent: Agent,
        session_id: str,
        *,
        transcript: TranscriptWriter | None = None,
        segments: Sequence[dict[str, Any]] | None = None,
    ) -> None:
        self.agent = agent
        self.session_id = session_id
        self.transcript = transcript
        observer = transcript.write if transcript is not None else None
        if segments is None:
            conversation = Conversation(
                agent.codec, agent.header_texts(), agent.analysis_policy, observer
            )
        else:
            conversation = Conversation.from_records(
                agent.codec, segments, agent.analysis_policy, observer
            )
        self.state = SessionState(
            session_id=session_id,
            codec=agent.codec,
            conversation=conversation,
            backend=agent.model,
            registry=agent.registry,
            sampling=agent.sampling,
            limits=agent.limits,
            approval=agent.approval,
            tool_choice=agent.tool_choice,
            strict=agent.strict,
            output=agent.output,
            compaction=agent.compaction,
            window=agent.context_window,
            journal=transcript.write if transcript is not None else None,
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
        return await self._run(text, on_event)

    async def resume(self, *, on_event: Callable[[Event], None] | None = None) -> RunResult:
        """Continue an interrupted run from its last complete record.

        The session comes from :meth:`Agent.restore_session`; a call without a result
        is answered first: run, if it never started or its tool is idempotent, else
        told to the model as lost (it may have taken effect).
        """
        return await self._run(None, on_event)

    async def _run(self, text: str | None, on_event: Callable[[Event], None] | None
                   ) -> RunResult:
        if self._closed:
            raise SessionClosedError(f"session {self.session_id} is closed")
        user_sink = on_event or _ignore
        finished: list[RunResult] = []

        def sink(event: Event) -> None:
            if isinstance(event, RunFinished):
                finished.append(event.result)
            elif self.transcript is not None and not isinstance(event, DELTA_EVENTS):
                # Deltas are not recorded: the complete messages are (MessageRecorded).
                self.transcript.write_event(event_to_dict(event))
                if isinstance(event, ToolCallFinished):
                    self._record_tool_state(event.call.namespace)
            user_sink(event)

        async with self._lock:  # one run at a time; its records stay together
            self._record({"type": "run_started", "prompt": text, "resumed": text is None})
            try:
                result = await run_loop(self.state, text, sink)
            finally:  # a cancelled run is recorded as finished too, with its reason
                if finished:
                    self._record({"type": "run_finished",
                                  "result": result_to_dict(finished[-1])})
        return result

    def _record(self, record: dict[str, Any]) -> None:
        if self.transcript is not None:
            self.transcript.write(record)

    def _record_tool_state(self, namespace: str) -> None:
        """After a call to a stateful tool, save its state for a later resume."""
        for tool in self.agent.registry.tools:
            if isinstance(tool, StatefulTool) and tool.spec.name == namespace:
                self._record({"type": "tool_state", "tool": namespace,
                              "state": dict(tool.snapshot(self.session_id))})

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
        try:
            for tool in self.agent.registry.tools:
                if isinstance(tool, SessionScopedTool):
                    await tool.close_session(self.session_id)
            await self.agent.model.release(self.session_id)
        finally:
            if self.transcript is not None:
                self.transcript.close()

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

"""One served conversation: an agent session, its run in progress, the client's calls.

A :class:`Chain` is what a chain of responses linked by ``previous_response_id`` shares:
one :class:`~gptoss_agent.agent.agent.AgentSession` (so the backend keeps its KV cache),
the run in progress and its event queue. A function tool of the client is a real
function tool whose handler waits: when the model calls it, the chain puts a
:class:`ClientCallPending` on the queue (the response ends there with a
``function_call`` item) and the run stays suspended inside the call until
:meth:`Chain.answer` hands it the client's ``function_call_output``; the run then goes
on where it was, token-exact, and its events make the next response.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from gptoss_agent.agent.agent import AgentSession
from gptoss_agent.agent.events import Event, RunFinished, ToolCallStarted
from gptoss_agent.agent.result import Usage
from gptoss_agent.agent.serve.history import replay
from gptoss_agent.agent.serve.items import InputItem
from gptoss_agent.agent.serve.request import FunctionToolSpec
from gptoss_agent.tools.base import ToolCall
from gptoss_agent.tools.function import FunctionTool


@dataclass(frozen=True)
class ClientCall:
    """A call of a client function, as the client sees it."""

    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class ClientCallPending:
    """The run waits for the client to run ``call`` (the response ends here)."""

    call: ClientCall


@dataclass(frozen=True)
class RunCrashed:
    """The run raised instead of finishing (a bug, or a scripted backend's mismatch)."""

    error: BaseException


ChainEvent = Event | ClientCallPending | RunCrashed


class Chain:
    """One conversation served over a chain of responses.

    Args:
        chain_id: The session id (tools and the backend key their state on it).
    """

    def __init__(self, chain_id: str) -> None:
        self.chain_id = chain_id
        self.session: AgentSession | None = None
        self.client_names: frozenset[str] = frozenset()
        self.settings: dict[str, object] = {}  # what it was made with (continuations match)
        self.hold_answer = False  # answers may be rejected: send them once accepted
        self.responses: dict[str, dict[str, Any]] = {}
        self.busy = False
        self.last_used = time.monotonic()
        self.pending: ClientCall | None = None
        self.reported = Usage()  # the run's usage earlier responses of it reported
        self._answer: asyncio.Future[str] | None = None
        self._queue: asyncio.Queue[ChainEvent] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._started: ToolCall | None = None

    @property
    def latest_response(self) -> str | None:
        """The id of the last response of the chain (the one that may be continued)."""
        return next(reversed(self.responses), None)

    @property
    def running(self) -> bool:
        """Whether a run is in progress (generating, or waiting for the client)."""
        return self._task is not None and not self._task.done()

    def client_tools(self, specs: Sequence[FunctionToolSpec]) -> list[FunctionTool]:
        """Function tools for the client's functions; their calls suspend the run.

        Raises:
            ToolRegistrationError: A bad name or JSON schema.
        """
        self.client_names = frozenset(spec.name for spec in specs)
        return [FunctionTool.from_schema(spec.name, spec.description, spec.parameters,
                                         self._handler(spec.name), timeout_s=None,
                                         strict=spec.strict) for spec in specs]

    def _handler(self, name: str) -> Any:
        async def wait_for_client(**arguments: Any) -> str:
            started = self._started
            text = (started.arguments if started is not None and started.name == name
                    else json.dumps(arguments))
            call = ClientCall(f"call_{uuid.uuid4().hex[:24]}", name, text)
            self._answer = asyncio.get_running_loop().create_future()
            self.pending = call
            self._queue.put_nowait(ClientCallPending(call))
            try:
                return await self._answer
            finally:
                self.pending = self._answer = None

        return wait_for_client

    def replay(self, items: Sequence[InputItem]) -> None:
        """Put a client's resent history into the conversation (see :mod:`.history`).

        Raises:
            HTTPError: 400 for an output that answers no call of the input.
        """
        assert self.session is not None
        replay(self.session.conversation, self.session.agent.codec, items)

    @property
    def unobserved(self) -> bool:
        """Whether a run goes on that no response is waiting for.

        That is a run whose client call timed out (``budgets.tool_timeout_s``): the
        response ended with the call, the model was told it timed out and goes on.
        """
        return self.running and self.pending is None

    def start(self, text: str | None) -> None:
        """Start a run on ``text`` (a user message); its events fill the queue.

        ``None`` goes on from the replayed history: the calls it ends with are answered
        (a client that resends the whole history instead of ``previous_response_id``).

        Events an unobserved run left (one whose client call timed out) are dropped
        first: they belong to no response.
        """
        assert self.session is not None and not self.running
        while not self._queue.empty():
            self._queue.get_nowait()
        self._task = asyncio.create_task(self._run(self.session, text))

    async def _run(self, session: AgentSession, text: str | None) -> None:
        try:
            if text is None:
                await session.resume(on_event=self._sink)
            else:
                await session.send(text, on_event=self._sink)
        except asyncio.CancelledError:
            raise
        except BaseException as error:  # reported to the client as a failed response
            self._queue.put_nowait(RunCrashed(error))

    def _sink(self, event: Event) -> None:
        if isinstance(event, ToolCallStarted):
            self._started = event.call
        self._queue.put_nowait(event)

    def answer(self, output: str) -> None:
        """Give the suspended call the client's output; the run goes on."""
        assert self._answer is not None
        self._answer.set_result(output)

    async def events(self) -> AsyncIterator[ChainEvent]:
        """The run's events up to the end of this response (a client call or the end)."""
        while True:
            event = await self._queue.get()
            yield event
            if isinstance(event, RunFinished | ClientCallPending | RunCrashed):
                return

    async def aclose(self) -> None:
        """Cancel a run in progress and close the session (tools' state, KV cache)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self.session is not None:
            await self.session.aclose()

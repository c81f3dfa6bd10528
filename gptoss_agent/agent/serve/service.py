"""The Responses API over the agent: conversations kept, routed and run.

:class:`ResponsesService` answers a validated :class:`~.request.ResponseRequest`.
:meth:`~ResponsesService.prepare` finds what the request continues (by
``previous_response_id``, or by the ``call_id`` of a pending call for clients that
resend the whole history) or starts a new conversation from the input's items (a
history resent without ``previous_response_id`` is replayed, and one that ends with
answered calls goes on from them), and raises the 4xx errors
(unknown id 404, a pending call left unanswered 400, a busy conversation 409, limits
429) before anything streams; :meth:`~ResponsesService.run` then produces the response,
its stream events going to a callback as they happen.
"""

from __future__ import annotations

import dataclasses
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from gptoss_agent.agent.agent import Agent
from gptoss_agent.agent.backends.base import SamplingParams
from gptoss_agent.agent.backends.http.errors import HTTPError
from gptoss_agent.agent.events import RunFinished, UsageUpdated
from gptoss_agent.agent.limits import LoopLimits
from gptoss_agent.agent.output import output_spec
from gptoss_agent.agent.result import RunResult, StopReason, Usage
from gptoss_agent.agent.serve.chain import Chain, ChainEvent, ClientCallPending, RunCrashed
from gptoss_agent.agent.serve.config import ServedAgent, ServeLimits
from gptoss_agent.agent.serve.request import InputMessage, ResponseRequest
from gptoss_agent.agent.serve.writer import ResponseWriter, StreamSink, new_id
from gptoss_agent.tools.errors import ToolError


@dataclass(frozen=True)
class Prepared:
    """A request routed to its conversation: a run on ``text``, or an answered call.

    With neither ``text`` nor ``output``, the run goes on from the replayed history.
    """

    request: ResponseRequest
    chain: Chain
    text: str | None = None
    output: str | None = None


def _rate_limited(message: str) -> HTTPError:
    return HTTPError(429, message, code="rate_limit_exceeded")


class ResponsesService:
    """Conversations and runs behind ``/v1/responses``.

    Args:
        served: The agent every conversation starts from.
        limits: Conversations kept and runs in progress.
    """

    def __init__(self, served: ServedAgent, limits: ServeLimits) -> None:
        self.served = served
        self.limits = limits
        self._chains: OrderedDict[str, Chain] = OrderedDict()
        self._by_response: dict[str, Chain] = {}

    async def prepare(self, request: ResponseRequest) -> Prepared:
        """Route ``request`` to its conversation, checking every limit first.

        Raises:
            HTTPError: 400, 404, 409 or 429, OpenAI-shaped.
        """
        chain = self._continued(request)
        if chain is not None:
            prepared = self._continue(request, chain)
        else:  # a new conversation, or a whole history resent (stateless)
            text = self._turn_text(request)
            prepared = Prepared(request, await self._start(request, text), text=text)
        prepared.chain.busy = True  # reserved until run() has answered
        return prepared

    async def _start(self, request: ResponseRequest, text: str | None) -> Chain:
        """A new conversation for ``request``, kept once the limits allow it."""
        self._check_runs()
        chain = self._new_chain(request, text)  # a bad request is refused before any is dropped
        try:
            await self._make_room()
            self._check_runs()  # others may have started while a dropped chain closed
        except BaseException:
            await chain.aclose()
            raise
        self._chains[chain.chain_id] = chain
        return chain

    def _continued(self, request: ResponseRequest) -> Chain | None:
        """The conversation the request continues, if any."""
        previous = request.previous_response_id
        if previous is not None:
            chain = self._by_response.get(previous)
            if chain is None:
                raise HTTPError(404, f"Previous response with id '{previous}' not found.",
                                param="previous_response_id",
                                code="previous_response_not_found")
            if chain.latest_response != previous:
                raise HTTPError(400, f"Response '{previous}' is not the latest of its "
                                "conversation; only the latest response can be continued.",
                                param="previous_response_id")
            return chain
        for output in request.outputs:  # a client that resends the whole history
            for chain in self._chains.values():
                if chain.pending is not None and chain.pending.call_id == output.call_id:
                    return chain
        return None

    def _continue(self, request: ResponseRequest, chain: Chain) -> Prepared:
        self._check_settings(request, chain)
        if chain.busy:
            raise HTTPError(409, "A response for this conversation is still in progress.",
                            param="previous_response_id", code="conversation_busy")
        if chain.unobserved:
            raise HTTPError(409, "The function call of this conversation timed out and "
                            "the model is still answering that; retry later.",
                            param="previous_response_id", code="conversation_busy")
        if chain.pending is not None:
            wanted = chain.pending.call_id
            output = next((o for o in request.outputs if o.call_id == wanted), None)
            if output is None:
                raise HTTPError(400, f"No tool output found for function call {wanted}.",
                                param="input")
            return Prepared(request, chain, output=output.output)
        if request.answers:
            raise HTTPError(400, f"No pending function call with call_id "
                            f"'{request.answers[0].call_id}'.", param="input")
        self._check_runs()
        text = self._turn_text(request)
        if text is None:
            raise HTTPError(400, "'input' holds no user message", param="input")
        return Prepared(request, chain, text=text)

    @staticmethod
    def _turn_text(request: ResponseRequest) -> str | None:
        """The new user message; ``None`` when the input ends with answered calls."""
        if request.answers:
            return None
        last = request.last_user
        if last is None:
            raise HTTPError(400, "'input' holds no user message", param="input")
        message = request.items[last]
        assert isinstance(message, InputMessage)
        return message.text

    def _check_runs(self) -> None:
        running = sum(chain.running or chain.busy for chain in self._chains.values())
        if running >= self.limits.max_runs:
            raise _rate_limited(f"The server runs at most {self.limits.max_runs} responses "
                                "at once (a response waiting for a function output counts); "
                                "retry later.")

    async def _make_room(self) -> None:
        """Drop the least recently used idle conversation when the store is full.

        With none idle, the least recently used one waiting for a client's function
        output goes (its run is cancelled): a client that never answers must not keep
        its conversation, sandbox and cache forever.
        """
        if len(self._chains) < self.limits.max_conversations:
            return
        chains = [c for c in self._chains.values() if not c.busy]
        idle = ([c for c in chains if not c.running]
                or [c for c in chains if c.pending is not None])
        if not idle:
            raise _rate_limited(f"The server keeps at most {self.limits.max_conversations} "
                                "conversations and all of them are in use; retry later.")
        await self.drop(min(idle, key=lambda c: c.last_used))

    async def drop(self, chain: Chain) -> None:
        """Forget a conversation and free its session."""
        self._chains.pop(chain.chain_id, None)
        for response_id in chain.responses:
            self._by_response.pop(response_id, None)
        await chain.aclose()

    def _new_chain(self, request: ResponseRequest, text: str | None) -> Chain:
        served = self.served
        missing = sorted(request.builtins - served.builtin_tools.keys())
        if missing:
            raise HTTPError(400, f"This server has no {missing[0]} tool: its task file "
                            f"does not enable tools.{missing[0]}.", param="tools")
        chain = Chain(new_id("conv"))
        chain.settings = self._settings(request)
        try:
            tools = [served.builtin_tools[name] for name in sorted(request.builtins)]
            agent = Agent(served.backend, [*tools, *chain.client_tools(request.functions)],
                          instructions=self._instructions(request),
                          reasoning_effort=request.effort or served.reasoning_effort,  # type: ignore[arg-type]
                          sampling=self._sampling(request), limits=self._limits(request),
                          analysis_policy=served.analysis_policy,
                          conversation_start_date=served.conversation_start_date,
                          codec=served.codec, tool_choice=request.tool_choice)
            fmt = request.output_format
            if fmt is not None:
                agent.output = dataclasses.replace(output_spec(fmt.schema, fmt.name),
                                                   description=fmt.description)
        except (ToolError, ValueError, TypeError) as error:
            raise HTTPError(400, str(error), param="tools") from error
        chain.session = agent.session(chain.chain_id)
        chain.hold_answer = (agent.output is not None
                             or agent.tool_choice not in ("auto", "none"))
        # A new session holds nothing yet: one refused here needs no closing.
        chain.replay(request.items if text is None else request.items[:request.last_user])
        return chain

    def _settings(self, request: ResponseRequest) -> dict[str, object]:
        """What a conversation is made with, as its first request resolved it."""
        return {"tools": (request.functions, request.builtins), "text": request.output_format,
                "reasoning": request.effort or self.served.reasoning_effort,
                "tool_choice": request.tool_choice, "instructions": request.instructions}

    def _check_settings(self, request: ResponseRequest, chain: Chain) -> None:
        """A continuation may repeat its conversation's settings, not change them.

        Clients resend them every turn; the session was made with the first request's.

        Raises:
            HTTPError: 400 naming the first field that differs.
        """
        settings = self._settings(request)
        for key in sorted(request.given):
            if settings[key] != chain.settings.get(key):
                raise HTTPError(400, f"'{key}' differs from the first request of this "
                                "conversation, whose session was made with it; start a new "
                                "conversation, or resend the history without "
                                "previous_response_id", param=key)

    def _instructions(self, request: ResponseRequest) -> str | None:
        parts = [self.served.instructions, request.instructions,
                 *(m.text for m in request.messages if m.role in ("system", "developer"))]
        return "\n\n".join(p for p in parts if p) or None

    def _sampling(self, request: ResponseRequest) -> SamplingParams:
        sampling = self.served.sampling
        changes: dict[str, Any] = {}
        if request.temperature is not None:
            changes["temperature"] = request.temperature
        if request.top_p is not None:
            changes["top_p"] = request.top_p
        if request.max_output_tokens is not None:
            changes["max_tokens"] = min(sampling.max_tokens, request.max_output_tokens)
        return dataclasses.replace(sampling, **changes)

    def _limits(self, request: ResponseRequest) -> LoopLimits:
        limits = self.served.limits
        if request.max_output_tokens is None:
            return limits
        return dataclasses.replace(limits, max_sampled_tokens=min(
            limits.max_sampled_tokens, request.max_output_tokens))

    async def run(self, prepared: Prepared, sink: StreamSink | None = None) -> dict[str, object]:
        """Produce the response ``prepared`` asks for; stream events go to ``sink``.

        Call it once for each :meth:`prepare` (which reserved the conversation).
        """
        chain, request = prepared.chain, prepared.request
        try:
            self._chains.move_to_end(chain.chain_id)
            writer = ResponseWriter(self.served.model_name, self._echo(request),
                                    chain.client_names, sink, hold_answer=chain.hold_answer)
            writer.start()
            if prepared.output is not None:
                chain.answer(prepared.output)
            else:
                chain.start(prepared.text)
            event, usage = await self._consume(chain, writer)
            shown = _since(usage, chain.reported)  # a run spans responses: each its share
            chain.reported = usage if isinstance(event, ClientCallPending) else Usage()
            response = self._finish(writer, (event, shown))
            chain.responses[writer.id] = response
            self._by_response[writer.id] = chain
            return response
        finally:
            chain.busy = False
            chain.last_used = time.monotonic()

    async def _consume(self, chain: Chain, writer: ResponseWriter) -> tuple[ChainEvent, Usage]:
        usage = Usage()
        last: ChainEvent | None = None
        async for event in chain.events():
            last = event
            if isinstance(event, UsageUpdated):
                usage = event.usage
            elif isinstance(event, ClientCallPending):
                writer.client_call(event.call)
            elif isinstance(event, RunFinished):
                usage = event.result.usage
            elif not isinstance(event, RunCrashed):
                writer.feed(event)
        assert last is not None
        return last, usage

    @staticmethod
    def _finish(writer: ResponseWriter, last: tuple[ChainEvent, Usage]) -> dict[str, object]:
        event, usage = last
        if isinstance(event, ClientCallPending):
            return writer.finish("completed", usage)
        if isinstance(event, RunCrashed):
            error = event.error
            return writer.finish("failed", usage, error=f"{type(error).__name__}: {error}")
        assert isinstance(event, RunFinished)
        return _finish_run(writer, event.result, usage)

    def _echo(self, request: ResponseRequest) -> dict[str, object]:
        echo: dict[str, object] = dict(request.echo)
        echo.update(instructions=request.instructions,
                    previous_response_id=request.previous_response_id,
                    temperature=request.temperature, top_p=request.top_p,
                    max_output_tokens=request.max_output_tokens)
        echo["reasoning"] = {"effort": request.effort or self.served.reasoning_effort,
                             "summary": None}
        return echo

    def retrieve(self, response_id: str) -> dict[str, object]:
        """A response kept with its conversation.

        Raises:
            HTTPError: 404 when no kept conversation holds it.
        """
        chain = self._by_response.get(response_id)
        if chain is None:
            raise HTTPError(404, f"Response with id '{response_id}' not found.",
                            param="response_id", code="response_not_found")
        return chain.responses[response_id]

    async def aclose(self) -> None:
        """Close every conversation (runs in progress are cancelled).

        One that fails to close does not keep the others' sandboxes and caches alive:
        every conversation is closed, then the first failure is raised.
        """
        failures: list[Exception] = []
        for chain in list(self._chains.values()):
            try:
                await self.drop(chain)
            except Exception as error:
                failures.append(error)
        if failures:
            raise failures[0]


_COUNTERS = ("generations", "prompt_tokens", "prefilled_tokens", "sampled_tokens",
             "analysis_tokens", "commentary_tokens", "final_tokens", "tool_output_tokens",
             "compactions")


def _since(usage: Usage, before: Usage) -> Usage:
    """The run's usage since ``before`` (what earlier responses of the run reported)."""
    return dataclasses.replace(usage, **{name: getattr(usage, name) - getattr(before, name)
                                         for name in _COUNTERS})


def _finish_run(writer: ResponseWriter, result: RunResult, usage: Usage) -> dict[str, object]:
    """The response's status from why the run stopped; ``usage`` is this response's."""
    reason = result.stop_reason
    if reason is StopReason.FINAL:
        return writer.finish("completed", usage)
    if reason in (StopReason.MAX_SAMPLED_TOKENS, StopReason.MAX_GENERATIONS):
        return writer.finish("incomplete", usage, incomplete="max_output_tokens")
    message = f"the run stopped: {reason.value}" + (f": {result.error}" if result.error else "")
    code = "context_length_exceeded" if reason is StopReason.CONTEXT_FULL else "server_error"
    return writer.finish("failed", usage, error=message, code=code)

"""The agent loop: one user message in, a final answer (or a clear stop reason) out.

:func:`run_loop` is the whole algorithm; :class:`SessionState` is what it works on and
:class:`LoopLimits` the budgets that bound it. The loop never prints; it emits events.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from typing import assert_never

from gptoss_agent.agent.approval import ApprovalPolicy
from gptoss_agent.agent.backend import GenerationRequest, ModelBackend, SamplingParams
from gptoss_agent.agent.conversation import Conversation
from gptoss_agent.agent.encoding import HarmonyCodec
from gptoss_agent.agent.events import (
    Event,
    FinalAnswer,
    IncidentRaised,
    MessageRecorded,
    Preamble,
    PreambleDelta,
    ReasoningDelta,
    RunFinished,
    TextDelta,
    ToolCallFinished,
    ToolCallStarted,
    UsageUpdated,
)
from gptoss_agent.agent.outcome import Calls, Final, Problem, Retry, classify
from gptoss_agent.agent.parser import (
    CompletionParser,
    MessageHeader,
    ParsedCompletion,
    ParsedMessage,
    parse_completion,
)
from gptoss_agent.agent.result import ChatMessage, Incident, RunResult, StopReason, Usage
from gptoss_agent.tools.base import ToolCall, ToolContext, ToolResult
from gptoss_agent.tools.errors import ToolUnavailableError
from gptoss_agent.tools.registry import Resolution, ToolRegistry

EventSink = Callable[[Event], None]


@dataclass(frozen=True)
class LoopLimits:
    """Budgets of one run.

    Attributes:
        max_generations: Most model generations (loop turns) per run.
        max_tokens: Most sampled tokens per run (all generations together).
        wall_time_s: Most seconds per run, or ``None``.
        max_repeated_calls: Stop when the same call (recipient and arguments) is
            made this many times in a row (at least 2).
        max_consecutive_errors: Stop after this many generations in a row that the
            model had to be corrected for.
        tool_timeout_s: Deadline of one tool call, or ``None``.
    """

    max_generations: int = 32
    max_tokens: int = 32_768
    wall_time_s: float | None = None
    max_repeated_calls: int = 3
    max_consecutive_errors: int = 3
    tool_timeout_s: float | None = 300.0

    def __post_init__(self) -> None:
        for name in ("max_generations", "max_tokens", "max_consecutive_errors"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.max_repeated_calls < 2:
            raise ValueError("max_repeated_calls must be at least 2 (1 would stop every call)")
        for name in ("wall_time_s", "tool_timeout_s"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be positive")


@dataclass
class SessionState:
    """Everything a session carries from one run to the next."""

    session_id: str
    codec: HarmonyCodec
    conversation: Conversation
    backend: ModelBackend
    registry: ToolRegistry
    sampling: SamplingParams
    limits: LoopLimits
    approval: ApprovalPolicy = field(default_factory=ApprovalPolicy)
    messages: list[ChatMessage] = field(default_factory=list)
    calls_made: int = 0
    runs: int = 0


@dataclass
class _Run:
    """Mutable bookkeeping of one run."""

    started: float
    emit: EventSink
    usage: Usage = field(default_factory=Usage)
    incidents: list[Incident] = field(default_factory=list)
    new_messages: list[ChatMessage] = field(default_factory=list)
    generation: int = 0
    tool_calls: int = 0
    tool_errors: int = 0
    consecutive_errors: int = 0
    last_call_key: tuple[str, str] | None = None
    repeat_count: int = 0


def _usage_add(usage: Usage, **deltas: int) -> Usage:
    return replace(usage, **{key: getattr(usage, key) + value for key, value in deltas.items()})


def _call_key(message: ParsedMessage) -> tuple[str, str]:
    text = message.text.strip()
    with contextlib.suppress(ValueError):
        text = json.dumps(json.loads(text), sort_keys=True)
    return (message.recipient or "", text)


async def run_loop(state: SessionState, user_text: str | None, emit: EventSink) -> RunResult:
    """Run one user message to its end (``None``: continue an interrupted run).

    Steps, repeated until something stops the run:

    1. **render**: the conversation's token-exact prompt plus ``<|start|>assistant``;
    2. **generate**: stream tokens from the backend within the remaining budgets;
    3. **parse**: feed each token to the stream parser, emitting text deltas;
    4. **classify**: a final answer, tool calls, or a retry;
    5. **dispatch**: run the tool calls (each with a deadline), or phrase the problems;
    6. **append**: the sampled tokens verbatim, then tool results and error messages.

    The run stops on a final answer, or when a budget runs out (generations, tokens,
    wall time), the same call repeats too often, the model keeps producing unusable
    output, or the backend fails. It never raises for the model's mistakes.
    """
    state.runs += 1
    run = _Run(started=time.monotonic(), emit=emit)
    limits = state.limits
    if user_text is not None:
        _record(state, run, ChatMessage(role="user", text=user_text))
        state.conversation.add_user(user_text)
    else:
        # Resuming after a crash just past the answer: finish with it, do not ask again.
        answered = _recorded_final(state)
        if answered is not None:
            state.conversation.end_turn()
            emit(FinalAnswer(answered.text, answered.content_type))
            return _finished(state, run, emit, StopReason.FINAL, final=answered)
        # Resuming: a call whose result never made it into the history runs first.
        for pending in _pending_calls(state):
            try:
                await _dispatch(state, run, pending, emit)
            except ToolUnavailableError as exc:
                return _finished(state, run, emit, StopReason.TOOL_UNAVAILABLE, error=str(exc))

    def finish(reason: StopReason, final: ParsedMessage | None = None,
               error: str | None = None) -> RunResult:
        return _finished(state, run, emit, reason, final=final, error=error)

    while True:
        # Budgets are checked before each generation.
        if run.generation >= limits.max_generations:
            return finish(StopReason.MAX_TURNS)
        remaining_tokens = limits.max_tokens - run.usage.sampled_tokens
        if remaining_tokens <= 0:
            return finish(StopReason.MAX_TOKENS)
        remaining_time = _remaining(run, limits)
        if remaining_time is not None and remaining_time <= 0:
            return finish(StopReason.WALL_TIME)
        run.generation += 1

        # 1. render
        prompt = state.conversation.prompt()
        budget = min(state.sampling.max_tokens, remaining_tokens)
        request = GenerationRequest(
            prompt=prompt,
            stop_tokens=state.codec.assistant_stop_tokens,
            sampling=replace(state.sampling, max_tokens=budget),
            session_id=state.session_id,
        )
        # 2-3. generate and parse
        parser = CompletionParser(state.codec, on_delta=lambda h, d: _emit_delta(emit, h, d))
        last_token: int | None = None
        gen_started = time.monotonic()
        try:
            async with _deadline(remaining_time):
                async for token in state.backend.generate(request):
                    parser.feed(token)
                    last_token = token
        except TimeoutError:
            completion = parser.finish(max_tokens_hit=False)
            _account_generation(state, run, prompt, completion.messages,
                                completion.sampled_tokens)
            _append_generation(state, run, completion, emit)
            return finish(StopReason.WALL_TIME)
        except AssertionError:
            raise  # a scripted backend's script mismatch is a test failure
        except Exception as exc:  # the backend failed: stop cleanly, keep what we have
            return finish(StopReason.BACKEND_ERROR, error=f"{type(exc).__name__}: {exc}")
        stopped = last_token is not None and last_token in state.codec.assistant_stop_tokens
        completion = parser.finish(max_tokens_hit=not stopped)
        _account_generation(state, run, prompt, completion.messages, completion.sampled_tokens)
        seconds = max(time.monotonic() - gen_started, 1e-9)
        # 6a. append what was sampled, verbatim
        _append_generation(state, run, completion, emit)
        emit(UsageUpdated(run.usage, run.generation, completion.sampled_tokens / seconds,
                          time.monotonic() - run.started))
        if not stopped and run.usage.sampled_tokens >= limits.max_tokens:
            return finish(StopReason.MAX_TOKENS)

        # 4. classify, 5. dispatch, 6b. append
        outcome = classify(completion)
        match outcome:
            case Final(message=message):
                emit(FinalAnswer(message.text, message.content_type))
                return finish(StopReason.FINAL, final=message)
            case Calls(calls=calls, problems=problems):
                had_error = bool(problems)
                for call_message in calls:
                    key = _call_key(call_message)
                    run.repeat_count = run.repeat_count + 1 if key == run.last_call_key else 1
                    run.last_call_key = key
                    if run.repeat_count >= limits.max_repeated_calls:
                        # Answer the call so the history stays well-formed for a follow-up.
                        _append_tool_message(
                            state, run, call_message.recipient or "system",
                            _answer_channel(call_message),
                            f"Error: this exact call was made {run.repeat_count} times in a "
                            "row; the run was stopped.", True)
                        return finish(StopReason.REPEATED_CALL)
                    try:
                        had_error |= not await _dispatch(state, run, call_message, emit)
                    except ToolUnavailableError as exc:
                        _append_tool_message(
                            state, run, call_message.recipient or "system",
                            _answer_channel(call_message), f"Error: {exc}", True)
                        return finish(StopReason.TOOL_UNAVAILABLE, error=str(exc))
                _report(state, run, problems, emit)
            case Retry(problems=problems):
                had_error = True
                _report(state, run, problems, emit)
            case _:
                assert_never(outcome)
        run.consecutive_errors = run.consecutive_errors + 1 if had_error else 0
        if run.consecutive_errors >= limits.max_consecutive_errors:
            return finish(StopReason.MODEL_ERRORS)


def _finished(state: SessionState, run: _Run, emit: EventSink, reason: StopReason, *,
              final: ParsedMessage | None = None, error: str | None = None) -> RunResult:
    """Build the run's result, check its citations, and announce it."""
    result = RunResult(
        final_text=final.text if final is not None else None,
        stop_reason=reason,
        messages=tuple(state.messages),
        new_messages=tuple(run.new_messages),
        usage=run.usage,
        incidents=tuple(run.incidents),
        tool_calls=run.tool_calls,
        tool_errors=run.tool_errors,
        error=error,
        final_content_type=final.content_type if final is not None else None,
    )
    if result.final_text:
        _check_citations(state, result)
    emit(RunFinished(result))
    return result


def _append_generation(state: SessionState, run: _Run, completion: ParsedCompletion,
                       emit: EventSink) -> None:
    """Append a generation's messages verbatim, record them, and report its incidents."""
    state.conversation.add_assistant(completion.messages)
    for message in completion.messages:
        _record(state, run, ChatMessage(
            role="assistant", text=message.text, channel=message.channel,
            recipient=message.recipient, content_type=message.content_type))
        if message.is_preamble and message.terminator is not None:
            emit(Preamble(message.text))
    for issue in completion.issues:
        _incident(run, emit, issue.kind.value, issue.detail, issue.is_repair)


def _check_citations(state: SessionState, result: RunResult) -> None:
    """Resolve ``【cursor†Lx-Ly】`` citations against the lines the browser showed."""
    if "【" not in (result.final_text or ""):
        return
    for tool in state.registry.tools:
        checker = getattr(tool, "check_citations", None)
        if checker is not None:
            report = checker(state.session_id, result.final_text)
            result.extras["citations"] = report.to_json()


def _answer_channel(message: ParsedMessage) -> str:
    """Tool answers go back on the channel the call was made on."""
    return message.channel if message.channel in ("analysis", "commentary") else "commentary"


def _last_assistant_messages(state: SessionState) -> tuple[ParsedMessage, ...]:
    """The messages of the last history segment, re-parsed, if it is the assistant's."""
    segments = state.conversation.segments
    if not segments or segments[-1].kind != "assistant":
        return ()
    prefix = state.conversation.assistant_start
    tokens = segments[-1].tokens
    body = tokens[len(prefix):] if tokens[: len(prefix)] == prefix else tokens
    return parse_completion(state.codec, body).messages


def _recorded_final(state: SessionState) -> ParsedMessage | None:
    """The final answer at the end of the history, if the last run got that far."""
    finals = [m for m in _last_assistant_messages(state)
              if m.channel == "final" and not m.is_call]
    return finals[-1] if finals else None


def _pending_calls(state: SessionState) -> tuple[ParsedMessage, ...]:
    """Calls in the last assistant segment that have no result after them."""
    return tuple(m for m in _last_assistant_messages(state)
                 if m.is_call and m.terminator == "call")


def _remaining(run: _Run, limits: LoopLimits) -> float | None:
    if limits.wall_time_s is None:
        return None
    return limits.wall_time_s - (time.monotonic() - run.started)


@contextlib.asynccontextmanager
async def _deadline(seconds: float | None) -> AsyncIterator[None]:
    if seconds is None:
        yield
        return
    async with asyncio.timeout(seconds):
        yield


def _emit_delta(emit: EventSink, header: MessageHeader, delta: str) -> None:
    if header.recipient is not None:
        return  # call arguments are shown once complete
    if header.channel == "analysis":
        emit(ReasoningDelta(delta))
    elif header.channel == "final":
        emit(TextDelta(delta))
    elif header.channel == "commentary":
        emit(PreambleDelta(delta))


def _record(state: SessionState, run: _Run, message: ChatMessage) -> None:
    state.messages.append(message)
    run.new_messages.append(message)
    run.emit(MessageRecorded(message))


def _incident(run: _Run, emit: EventSink, kind: str, detail: str, repaired: bool) -> None:
    incident = Incident(kind, detail, repaired, run.generation)
    run.incidents.append(incident)
    emit(IncidentRaised(incident))


def _account_generation(
    state: SessionState,
    run: _Run,
    prompt: tuple[int, ...],
    messages: tuple[ParsedMessage, ...],
    sampled: int,
) -> None:
    by_channel = {"analysis": 0, "commentary": 0, "final": 0}
    for message in messages:
        if message.channel in by_channel:
            by_channel[message.channel] += len(message.tokens)
    stats = state.backend.last_stats(state.session_id)
    prefilled = stats.prefilled_tokens if stats is not None else len(prompt)
    run.usage = _usage_add(
        run.usage,
        generations=1,
        prompt_tokens=len(prompt),
        prefilled_tokens=prefilled,
        sampled_tokens=sampled,
        analysis_tokens=by_channel["analysis"],
        commentary_tokens=by_channel["commentary"],
        final_tokens=by_channel["final"],
    )


def _append_tool_message(
    state: SessionState, run: _Run, author: str, channel: str, text: str, is_error: bool
) -> None:
    before = len(state.conversation)
    state.conversation.add_tool_result(author, channel, text)
    run.usage = _usage_add(run.usage, tool_output_tokens=len(state.conversation) - before)
    _record(state, run, ChatMessage(role="tool", text=text, channel=channel, author=author,
                                    is_error=is_error))


def _report(state: SessionState, run: _Run, problems: tuple[Problem, ...],
            emit: EventSink) -> None:
    for problem in problems:
        _append_tool_message(state, run, problem.author, problem.channel, problem.text, True)


async def _dispatch(
    state: SessionState, run: _Run, message: ParsedMessage, emit: EventSink
) -> bool:
    """Run one call and append its result; ``False`` when the model erred."""
    recipient = message.recipient or ""
    channel = _answer_channel(message)
    resolution = state.registry.resolve(recipient)
    if not isinstance(resolution, Resolution):
        _incident(run, emit, resolution.kind, resolution.message, repaired=False)
        _append_tool_message(state, run, recipient, channel, f"Error: {resolution.message}",
                             True)
        return False
    builtin = resolution.tool.spec.builtin
    if not builtin and message.channel != "commentary":
        _incident(run, emit, "function_call_off_commentary",
                  f"{recipient} was called on the {message.channel} channel", repaired=True)
    state.calls_made += 1
    run.tool_calls += 1
    call = ToolCall(
        call_id=f"call_{state.calls_made}",
        namespace=resolution.namespace,
        name=resolution.name,
        arguments=message.text,
        channel=channel,
        content_type=message.content_type,
    )
    emit(ToolCallStarted(call))
    if state.approval.needs_approval(call) and not await state.approval.decide(call):
        declined = ToolResult.error(
            f"The user declined this call to {recipient}. Do not retry it; continue "
            "without it or ask the user.",
            kind="declined",
        )
        _append_tool_message(state, run, recipient, channel, declined.text, True)
        emit(ToolCallFinished(call, declined, 0.0))
        return True
    remaining = _remaining(run, state.limits)
    timeout = state.limits.tool_timeout_s
    if remaining is not None:
        timeout = max(0.001, min(timeout, remaining) if timeout is not None else remaining)
    context = ToolContext(session_id=state.session_id, run_id=str(state.runs), timeout_s=timeout)
    started = time.monotonic()
    try:
        async with _deadline(timeout):
            result = await resolution.tool.call(call, context)
    except TimeoutError:
        result = ToolResult.error(
            f"Error: {recipient} did not answer within {timeout:g} seconds", kind="timeout"
        )
    except ToolUnavailableError:
        raise  # Docker or Chromium is gone: nothing the model can fix
    except Exception as exc:  # a tool bug must not end the run
        result = ToolResult.error(
            f"Error: {recipient} failed: {type(exc).__name__}: {exc}", kind="tool_crash"
        )
    seconds = time.monotonic() - started
    if result.is_error:
        run.tool_errors += 1
    _append_tool_message(state, run, recipient, channel, result.text, result.is_error)
    emit(ToolCallFinished(call, result, seconds))
    invalid = result.is_error and result.metadata.get("kind") == "invalid_arguments"
    return not invalid

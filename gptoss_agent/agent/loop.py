"""The agent loop: one user message in, a final answer (or a clear stop reason) out.

:func:`run_loop` is the whole algorithm; the state it works on is in :mod:`.state`, the
budgets in :mod:`.limits`, one call's dispatch in :mod:`.dispatch`. The loop never
prints; it emits events.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

from gptoss_agent.agent.act import Stop, act
from gptoss_agent.agent.backends.base import GenerationRequest
from gptoss_agent.agent.choice import decoding_constraint, effective_choice
from gptoss_agent.agent.context.fit import fit_window
from gptoss_agent.agent.context.kept import OutputShelf
from gptoss_agent.agent.dispatch import (
    answer_unrun,
    close_unanswered,
    deadline,
    redispatch,
)
from gptoss_agent.agent.events import (
    ContextCompacted,
    FinalAnswer,
    Preamble,
    PreambleDelta,
    ReasoningDelta,
    RunFinished,
    TextDelta,
    UsageUpdated,
)
from gptoss_agent.agent.harmony.parser import (
    CompletionParser,
    MessageHeader,
    ParsedCompletion,
    ParsedMessage,
    parse_completion,
)
from gptoss_agent.agent.limits import DEFAULT_TOOL_OUTPUT_TOKENS
from gptoss_agent.agent.outcome import classify
from gptoss_agent.agent.result import ChatMessage, RunResult, StopReason
from gptoss_agent.agent.state import (
    EventSink,
    RunState,
    SessionState,
    account_generation,
    context_window,
    incident,
    record,
)
from gptoss_agent.agent.tool_output import output_store
from gptoss_agent.tools.base import FinalReviewer
from gptoss_agent.tools.errors import ToolUnavailableError
from gptoss_agent.tools.output_pages import PAGE_HEADER_TOKENS


async def run_loop(state: SessionState, user_text: str | None, emit: EventSink) -> RunResult:
    """Run one user message to its end (``None``: continue an interrupted run).

    Steps, repeated until something stops the run:

    1. **render**: the conversation's token-exact prompt plus ``<|start|>assistant``,
       fitted to the context window (compacted when the configuration says so, the
       generation's budget cut to the room left);
    2. **generate**: stream tokens from the backend within the remaining budgets;
    3. **parse**: feed each token to the stream parser, emitting text deltas;
    4. **classify**: a final answer, tool calls, or a retry;
    5. **dispatch**: run the tool calls (each with a deadline), or phrase the problems;
    6. **append**: the sampled tokens verbatim, then tool results and error messages.

    The run stops on a final answer, or when a budget runs out (generations, sampled
    tokens, wall time, the context window), the same call repeats too often, the model
    keeps producing unusable output, a tool's machinery or the backend fails. It never
    raises for the model's mistakes. A cancelled run (a task cancelled, Ctrl-C) emits its
    :class:`RunFinished` with :attr:`StopReason.CANCELLED`, every call answered, and
    then lets the cancellation propagate.
    """
    state.runs += 1
    run = RunState(emit=emit)
    try:
        stop = await _begin(state, run, user_text)
        while stop is None:
            stop = _budget_stop(state, run)
            if stop is None:
                stop = await _step(state, run)
    except asyncio.CancelledError:
        _finish(state, run, Stop(StopReason.CANCELLED, error="the run was cancelled"))
        raise
    return _finish(state, run, stop)


async def _begin(state: SessionState, run: RunState, user_text: str | None) -> Stop | None:
    """Add the user message, or pick up where an interrupted run stopped."""
    if user_text is not None:
        for pending in _pending_calls(state):  # a restored session sent a new message
            close_unanswered(state, run, pending)
        record(state, run, ChatMessage(role="user", text=user_text))
        state.conversation.add_user(user_text)
        return None
    answered = _recorded_final(state)
    if answered is not None:  # crashed just past the answer: finish with it
        state.conversation.end_turn()
        run.emit(FinalAnswer(answered.text, answered.content_type))
        return Stop(StopReason.FINAL, final=answered)
    for pending in _pending_calls(state):  # a call whose result never made it
        try:
            await redispatch(state, run, pending)
        except ToolUnavailableError as exc:
            return Stop(StopReason.TOOL_UNAVAILABLE, error=str(exc))
    return None


def _budget_stop(state: SessionState, run: RunState) -> Stop | None:
    """Budgets are checked before each generation."""
    limits = state.limits
    if run.generation >= limits.max_generations:
        return Stop(StopReason.MAX_GENERATIONS)
    if run.usage.sampled_tokens >= limits.max_sampled_tokens:
        return Stop(StopReason.MAX_SAMPLED_TOKENS)
    remaining = run.remaining_time(limits)
    if remaining is not None and remaining <= 0:
        return Stop(StopReason.WALL_TIME)
    return None


async def _step(state: SessionState, run: RunState) -> Stop | None:
    """One generation and what it leads to (steps 1-6)."""
    run.generation += 1
    completion, stop = await _generate(state, run)
    if stop is not None or completion is None:
        return stop
    return await act(state, run, classify(completion))


async def _generate(state: SessionState, run: RunState
                    ) -> tuple[ParsedCompletion | None, Stop | None]:
    """Render, generate and parse one completion, and append it verbatim."""
    limits = state.limits
    left = limits.max_sampled_tokens - run.usage.sampled_tokens
    fitted = await _fit_window(state, run, min(state.sampling.max_tokens, left))
    if isinstance(fitted, Stop):
        return None, fitted
    budget = fitted
    prompt = state.conversation.prompt()
    constraint = decoding_constraint(state.registry,
                                     effective_choice(state.tool_choice, run.tool_calls),
                                     state.strict, state.output)
    request = GenerationRequest(prompt=prompt, stop_tokens=state.codec.assistant_stop_tokens,
                                sampling=replace(state.sampling, max_tokens=budget),
                                session_id=state.session_id, constraint=constraint)
    parser = CompletionParser(state.codec, on_delta=lambda h, d: _emit_delta(run.emit, h, d))
    last_token: int | None = None
    sampled = 0
    started = time.monotonic()
    try:
        async with deadline(run.remaining_time(limits)):
            async for token in state.backend.generate(request):
                parser.feed(token)
                last_token = token
                sampled += 1
    except (TimeoutError, asyncio.CancelledError) as exc:
        # Keep what was sampled (the history holds it and the transcript records it),
        # and answer any complete call in it, which will not run now.
        cancelled = isinstance(exc, asyncio.CancelledError)
        completion = parser.finish(max_tokens_hit=False)
        _append_generation(state, run, prompt, completion)
        reason = "the run was cancelled" if cancelled else "the run ran out of time"
        for message in completion.messages:
            if message.is_call and message.terminator == "call":
                answer_unrun(state, run, message, reason)
        if cancelled:
            raise
        return None, Stop(StopReason.WALL_TIME)
    except AssertionError:
        raise  # a scripted backend's script mismatch is a test failure
    except Exception as exc:  # the backend failed: stop cleanly, keep what we have
        return None, Stop(StopReason.BACKEND_ERROR, error=f"{type(exc).__name__}: {exc}")
    stopped = last_token is not None and last_token in state.codec.assistant_stop_tokens
    # Ended without a stop token: at the budget, or because the backend stopped early.
    completion = parser.finish(max_tokens_hit=not stopped and sampled >= budget)
    _append_generation(state, run, prompt, completion)
    seconds = max(time.monotonic() - started, 1e-9)
    run.emit(UsageUpdated(run.usage, run.generation, completion.sampled_tokens / seconds,
                          time.monotonic() - run.started))
    if not stopped and run.usage.sampled_tokens >= limits.max_sampled_tokens:
        return None, Stop(StopReason.MAX_SAMPLED_TOKENS)
    return completion, None


async def _fit_window(state: SessionState, run: RunState, budget: int) -> int | Stop:
    """The generation's budget within the window (compacting first if needed), or a stop."""
    window = await context_window(state)
    if window is None:
        return budget
    try:
        async with deadline(run.remaining_time(state.limits)):  # a summariser may hang
            fit = await fit_window(state.conversation, state.codec, state.compaction,
                                   window=window, budget=budget, backend=state.backend,
                                   session_id=state.session_id, shelf=_shelf(state))
    except AssertionError:
        raise  # a scripted summariser's script mismatch is a test failure
    except Exception as exc:  # a summariser that failed or hung: stop cleanly, keep what we have
        left = run.remaining_time(state.limits)
        if isinstance(exc, TimeoutError) and left is not None and left <= 0:
            return Stop(StopReason.WALL_TIME, error="the run ran out of time while "
                        "compacting the history (a summary was being written)")
        return Stop(StopReason.BACKEND_ERROR,
                    error=f"compaction failed: {type(exc).__name__}: {exc}")
    if fit.report is not None:
        run.add_usage(compactions=1)
        run.emit(ContextCompacted(fit.report))
    if not fit.fits:
        reserve = min(state.compaction.reserve_tokens, budget)
        how = ("nothing more could be compacted" if state.compaction.strategies
               else "no compaction is configured")
        return Stop(StopReason.CONTEXT_FULL, error=(
            f"the prompt ({fit.prompt_tokens} tokens) leaves fewer than {reserve} tokens "
            f"of the {window}-token context window to answer in, and {how}"))
    return fit.budget


def _shelf(state: SessionState) -> OutputShelf:
    """Where compaction keeps elided text: the store the pager reads.

    Pages are as long as the session's default tool-output budget allows.
    """
    budget = state.limits.tool_output_tokens or DEFAULT_TOOL_OUTPUT_TOKENS
    return OutputShelf(output_store(state), state.session_id, budget - PAGE_HEADER_TOKENS)


def _finish(state: SessionState, run: RunState, stop: Stop) -> RunResult:
    """Build the run's result, with the tools' reviews of its answer, and announce it."""
    final = stop.final
    final_text = final.text if final is not None else None
    result = RunResult(
        final_text=final_text,
        stop_reason=stop.reason,
        messages=tuple(state.messages),
        new_messages=tuple(run.new_messages),
        usage=run.usage,
        incidents=tuple(run.incidents),
        tool_calls=run.tool_calls,
        tool_errors=run.tool_errors,
        error=stop.error,
        final_content_type=final.content_type if final is not None else None,
        reviews=_reviews(state, final_text) if final_text else {},
        output=stop.output,
    )
    run.emit(RunFinished(result))
    return result


def _reviews(state: SessionState, text: str) -> dict[str, object]:
    """What the tools that review answers (the browser's citations) say about ``text``."""
    reviews: dict[str, object] = {}
    for tool in state.registry.tools:
        if isinstance(tool, FinalReviewer):
            review = tool.review_final(state.session_id, text)
            if review is not None:
                reviews[tool.review_key] = review
    return reviews


def _append_generation(state: SessionState, run: RunState, prompt: tuple[int, ...],
                       completion: ParsedCompletion) -> None:
    """Count a generation, append its messages verbatim, record them, report issues."""
    account_generation(state, run, prompt, completion.messages, completion.sampled_tokens)
    state.conversation.add_assistant(completion.messages)
    for message in completion.messages:
        record(state, run, ChatMessage(
            role="assistant", text=message.text, channel=message.channel,
            recipient=message.recipient, content_type=message.content_type))
        if message.is_preamble and message.terminator is not None:
            run.emit(Preamble(message.text))
    for issue in completion.issues:
        incident(run, issue.kind.value, issue.detail, issue.is_repair)


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
    """The final answer at the end of the history, if the last run got that far.

    A cut-off answer (closed in the history, but not an answer) does not count.
    """
    segments = state.conversation.segments
    if not segments or not segments[-1].answer:
        return None
    finals = [m for m in _last_assistant_messages(state)
              if m.channel == "final" and not m.is_call]
    return finals[-1] if finals else None


def _pending_calls(state: SessionState) -> tuple[ParsedMessage, ...]:
    """Calls in the last assistant segment that have no result after them."""
    return tuple(m for m in _last_assistant_messages(state)
                 if m.is_call and m.terminator == "call")


def _emit_delta(emit: EventSink, header: MessageHeader, delta: str) -> None:
    if header.recipient is not None:
        return  # call arguments are shown once complete
    if header.channel == "analysis":
        emit(ReasoningDelta(delta))
    elif header.channel == "final":
        emit(TextDelta(delta))
    elif header.channel == "commentary":
        emit(PreambleDelta(delta))

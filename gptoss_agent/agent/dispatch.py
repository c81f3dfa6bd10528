"""Dispatching one tool call: resolve, approve, run under a deadline, append the result.

Every call ends with exactly one tool message after it, whatever happened (an unknown
recipient, a refusal, a timeout, a crash, a cancellation), so the history stays
well-formed for the next generation or a later resume. Every result is made encodable and
bounded to its token budget on the way (:mod:`gptoss_agent.agent.tool_output`); the pager
of cut results (``functions.read_tool_output``) is answered here even when undeclared.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator

from gptoss_agent.agent.events import ToolCallFinished, ToolCallStarted
from gptoss_agent.agent.harmony.parser import ParsedMessage
from gptoss_agent.agent.state import (
    RunState,
    SessionState,
    answer_channel,
    append_tool_message,
    incident,
)
from gptoss_agent.agent.tool_output import (
    bound_result,
    full_text_at,
    output_store,
    safe_result,
)
from gptoss_agent.tools.base import ToolCall, ToolContext, ToolResult
from gptoss_agent.tools.errors import ToolUnavailableError
from gptoss_agent.tools.function_toolset import FunctionToolset
from gptoss_agent.tools.output_pages import PAGER_ADDRESS, PAGER_NAME, is_pager
from gptoss_agent.tools.registry import Resolution, Unresolved
from gptoss_agent.tools.rerun import may_rerun

_BOUND_ON_A_THREAD_CHARS = 65_536
"""Results longer than this are bounded on a worker thread, so other sessions go on."""


@contextlib.asynccontextmanager
async def deadline(seconds: float | None) -> AsyncIterator[None]:
    """``asyncio.timeout`` that accepts ``None`` for no deadline."""
    if seconds is None:
        yield
        return
    async with asyncio.timeout(seconds):
        yield


async def dispatch(state: SessionState, run: RunState, message: ParsedMessage) -> bool:
    """Run one call and append its result.

    Returns:
        ``False`` when the model erred in making the call (an unknown recipient, or
        arguments the tool rejected as malformed), ``True`` otherwise.

    Raises:
        ToolUnavailableError: The tool's machinery is gone (Docker, Chromium); the
            call has been answered with the error first.
        asyncio.CancelledError: The run was cancelled; the call has been answered.
    """
    recipient = message.recipient or ""
    channel = answer_channel(message)
    resolution = _resolve(state, recipient)
    if not isinstance(resolution, Resolution):
        incident(run, resolution.kind, resolution.message, repaired=False)
        append_tool_message(state, run, recipient, channel, f"Error: {resolution.message}",
                            True)
        return False
    if not resolution.tool.spec.builtin and message.channel != "commentary":
        incident(run, "function_call_off_commentary",
                 f"{recipient} was called on the {message.channel} channel", repaired=True)
    state.calls_made += 1
    run.tool_calls += 1
    call = ToolCall(call_id=f"call_{state.calls_made}", namespace=resolution.namespace,
                    name=resolution.name, arguments=message.text, channel=channel,
                    content_type=message.content_type)
    if call.recipient != recipient:  # a prefixed group's function
        call = dataclasses.replace(call, address=recipient)
    run.emit(ToolCallStarted(call))
    if state.approval.needs_approval(call) and not await _approved(state, run, call):
        declined = ToolResult.error(
            f"The user declined this call to {recipient}. Do not retry it; continue "
            "without it or ask the user.", kind="declined")
        _answer(state, run, call, declined, 0.0)
        return True
    if state.journal is not None:  # durable before the code runs: a resume must know
        state.journal({"type": "call_started", "call_id": call.call_id,
                       "recipient": call.written})
    result, seconds = await _call(state, run, resolution, call)
    if len(result.text) > _BOUND_ON_A_THREAD_CHARS:  # counting and keeping take a while
        result = await asyncio.to_thread(bound_result, state, resolution.tool, call, result)
    else:
        result = bound_result(state, resolution.tool, call, result)
    if result.is_error:
        run.tool_errors += 1
    if result.invalid_call:  # the model wrote the call wrongly: an incident of its kind
        kind = str(result.metadata.get("kind") or "invalid_arguments")
        first_line = next(iter(result.text.splitlines()), "(no message)")
        incident(run, kind, f"{call.recipient}: {first_line}", repaired=False)
    _answer(state, run, call, result, seconds)
    return not result.invalid_call


def _resolve(state: SessionState, recipient: str) -> Resolution | Unresolved:
    """The registry's answer; the session's pager of cut outputs answers the pager's address.

    It answers when the pager is not declared, and when a pager is (registered from
    any store: the cut outputs are in the session's); another function of that name wins.
    """
    resolution = state.registry.resolve(recipient)
    if recipient == PAGER_ADDRESS and (isinstance(resolution, Unresolved) or (
            isinstance(resolution.tool, FunctionToolset)
            and is_pager(resolution.tool.get(PAGER_NAME)))):
        pager = FunctionToolset([output_store(state).pager()])
        return Resolution(pager, "functions", PAGER_NAME)
    return resolution


async def _approved(state: SessionState, run: RunState, call: ToolCall) -> bool:
    """Ask for approval; a run cancelled while waiting still answers the call."""
    try:
        return await state.approval.decide(call)
    except asyncio.CancelledError:
        _answer(state, run, call, _cancelled(call), 0.0)
        raise


def _cancelled(call: ToolCall) -> ToolResult:
    return ToolResult.error(
        f"Error: the call to {call.recipient} was cancelled before it finished.",
        kind="cancelled")


def answer_unrun(state: SessionState, run: RunState, message: ParsedMessage,
                 reason: str) -> None:
    """Answer a call that was sampled but will not run (the run stops first)."""
    append_tool_message(state, run, message.recipient or "system", answer_channel(message),
                        f"Error: {reason}; the call was not made.", True)


LOST_RESULT = ("Error: the result of this call was lost: the run stopped while the call was "
               "running, so it may or may not have taken effect. Check its effect before "
               "you repeat it.")


async def redispatch(state: SessionState, run: RunState, message: ParsedMessage) -> None:
    """Answer a call a resumed transcript left without a result.

    A call that never started runs now. One whose code had started (the transcript holds
    its ``call_started`` record) runs again only if its tool says it is idempotent
    (:func:`~gptoss_agent.tools.rerun.may_rerun`); otherwise the model is told its
    result was lost and that it may have taken effect.

    Raises:
        ToolUnavailableError: As :func:`dispatch`.
    """
    lost, state.lost_call = state.lost_call, False
    resolution = _resolve(state, message.recipient or "")
    if lost and not (isinstance(resolution, Resolution)
                     and may_rerun(resolution.tool, resolution.name)):
        append_tool_message(state, run, message.recipient or "system",
                            answer_channel(message), LOST_RESULT, True)
        return
    await dispatch(state, run, message)


def close_unanswered(state: SessionState, run: RunState, message: ParsedMessage) -> None:
    """Answer, without running it, a restored call left without a result.

    A new message was sent to a restored session instead of resuming it: the call is not
    run now (the conversation moved on), and the model is told whether it may have taken
    effect (its code had started) or was not made.
    """
    lost, state.lost_call = state.lost_call, False
    if lost:
        append_tool_message(state, run, message.recipient or "system",
                            answer_channel(message), LOST_RESULT, True)
    else:
        answer_unrun(state, run, message, "a new message came before this call ran")


def _timeout(state: SessionState, run: RunState) -> float | None:
    """The call's deadline: the tool timeout, shortened to what is left of the run."""
    remaining = run.remaining_time(state.limits)
    timeout = state.limits.tool_timeout_s
    if remaining is not None:
        timeout = max(0.001, min(timeout, remaining) if timeout is not None else remaining)
    return timeout


async def _call(state: SessionState, run: RunState, resolution: Resolution,
                call: ToolCall) -> tuple[ToolResult, float]:
    """Run the tool; its failures become error results the model reads."""
    timeout = _timeout(state, run)
    context = ToolContext(session_id=state.session_id, run_id=str(state.runs),
                          timeout_s=timeout)
    started = time.monotonic()
    try:
        async with deadline(timeout):
            result = await resolution.tool.call(call, context)
    except TimeoutError:
        result = ToolResult.error(
            f"Error: {call.recipient} did not answer within {timeout:g} seconds",
            kind="timeout")
    except ToolUnavailableError as exc:
        _answer(state, run, call, ToolResult.error(f"Error: {exc}", kind="unavailable"),
                time.monotonic() - started)
        raise  # Docker or Chromium is gone: nothing the model can fix
    except asyncio.CancelledError:
        _answer(state, run, call, _cancelled(call), time.monotonic() - started)
        raise
    except Exception as exc:  # a tool bug must not end the run
        result = ToolResult.error(
            f"Error: {call.recipient} failed: {type(exc).__name__}: {exc}", kind="tool_crash")
    return result, time.monotonic() - started


def _answer(state: SessionState, run: RunState, call: ToolCall, result: ToolResult,
            seconds: float) -> None:
    result = safe_result(result)  # nothing unencodable reaches the codec or transcript
    append_tool_message(state, run, call.written, call.channel, result.text,
                        result.is_error, full_text_at(result))
    run.emit(ToolCallFinished(call, result, seconds))

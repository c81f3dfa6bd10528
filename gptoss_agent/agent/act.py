"""What the loop does with one classified generation: answer, call, or correct.

A final answer ends the run unless it breaks the tool choice or the structured output
type; calls are dispatched in order unless the tool choice refuses them; problems go back
to the model. Each step ends in a :class:`Stop` or lets the loop sample again.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from typing import Any, assert_never

from gptoss_agent.agent.choice import choice_problem, effective_choice
from gptoss_agent.agent.dispatch import dispatch
from gptoss_agent.agent.events import FinalAnswer
from gptoss_agent.agent.harmony.parser import ParsedMessage
from gptoss_agent.agent.outcome import Calls, Final, Outcome, Problem, Retry
from gptoss_agent.agent.output import OutputError
from gptoss_agent.agent.result import StopReason
from gptoss_agent.agent.state import (
    RunState,
    SessionState,
    answer_channel,
    append_tool_message,
    incident,
)
from gptoss_agent.tools.errors import ToolUnavailableError


@dataclass(frozen=True)
class Stop:
    """Why the run ends now, and with what."""

    reason: StopReason
    final: ParsedMessage | None = None
    error: str | None = None
    output: Any = None


async def act(state: SessionState, run: RunState, outcome: Outcome) -> Stop | None:
    """Answer, dispatch the calls, or tell the model what was wrong (steps 4-6)."""
    choice = effective_choice(state.tool_choice, run.tool_calls)
    match outcome:
        case Final(message=message):
            stop, erred = _answer(state, run, message, choice)
            if stop is not None:
                return stop
        case Calls(calls=calls, problems=problems):
            stop, erred = await _calls(state, run, calls, choice)
            if stop is not None:
                return stop
            erred |= bool(problems)
            _report(state, run, problems)
        case Retry(problems=problems):
            erred = True
            _report(state, run, problems)
        case _:
            assert_never(outcome)
    run.consecutive_errors = run.consecutive_errors + 1 if erred else 0
    if run.consecutive_errors >= state.limits.max_consecutive_errors:
        return Stop(StopReason.MODEL_ERRORS)
    return None


def _answer(state: SessionState, run: RunState, message: ParsedMessage,
            choice: str) -> tuple[Stop | None, bool]:
    """A final answer ends the run, unless it breaks the tool choice or the output type.

    Returns:
        The stop (``None`` to let the model try again) and whether the model erred.
    """
    problem = choice_problem(choice, answered=True, recipient=None)
    if problem is not None:
        incident(run, "tool_choice", problem, repaired=False)
        append_tool_message(state, run, "system", "commentary", problem, True)
        return None, True
    value = None
    if state.output is not None:
        try:
            value = state.output.check(message.text)
        except OutputError as exc:
            run.invalid_answers += 1
            incident(run, "invalid_output", str(exc).splitlines()[0], repaired=False)
            if run.invalid_answers > state.limits.max_output_retries:
                return Stop(StopReason.INVALID_OUTPUT, error=str(exc)), True
            append_tool_message(state, run, "system", "commentary",
                                f"Your final answer was not accepted: {exc}\nAnswer again on "
                                f"the final channel with JSON in the {state.output.name} "
                                "response format.", True)
            return None, True
    run.emit(FinalAnswer(message.text, message.content_type))
    return Stop(StopReason.FINAL, final=message, output=value), False


async def _calls(state: SessionState, run: RunState, calls: tuple[ParsedMessage, ...],
                 choice: str) -> tuple[Stop | None, bool]:
    """Dispatch a generation's calls in order; the tool choice may refuse some."""
    erred = False
    for call in calls:
        stop = _repeat_stop(state, run, call)
        if stop is not None:
            return stop, erred
        problem = choice_problem(choice, answered=False, recipient=call.recipient)
        if problem is not None:
            incident(run, "tool_choice", problem, repaired=False)
            append_tool_message(state, run, call.recipient or "system", answer_channel(call),
                                f"Error: {problem}", True)
            erred = True
            continue
        try:
            erred |= not await dispatch(state, run, call)
        except ToolUnavailableError as exc:
            return Stop(StopReason.TOOL_UNAVAILABLE, error=str(exc)), erred
    return None, erred


def _repeat_stop(state: SessionState, run: RunState, call: ParsedMessage) -> Stop | None:
    """Stop when the same call is made ``max_repeated_calls`` times in a row."""
    key = _call_key(call)
    run.repeat_count = run.repeat_count + 1 if key == run.last_call_key else 1
    run.last_call_key = key
    if run.repeat_count < state.limits.max_repeated_calls:
        return None
    # Answer the call so the history stays well-formed for a follow-up.
    append_tool_message(state, run, call.recipient or "system", answer_channel(call),
                        f"Error: this exact call was made {run.repeat_count} times in a "
                        "row; the run was stopped.", True)
    return Stop(StopReason.REPEATED_CALL)


def _report(state: SessionState, run: RunState, problems: tuple[Problem, ...]) -> None:
    for problem in problems:
        append_tool_message(state, run, problem.author, problem.channel, problem.text, True)


def _call_key(message: ParsedMessage) -> tuple[str, str]:
    text = message.text.strip()
    with contextlib.suppress(ValueError):
        text = json.dumps(json.loads(text), sort_keys=True)
    return (message.recipient or "", text)

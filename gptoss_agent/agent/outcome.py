"""Classifying a parsed generation into the one thing the loop does next.

A generation ends in exactly one :data:`Outcome`: a final answer, tool calls to dispatch
(possibly alongside problems to report), or a retry because nothing usable came out.
The loop matches on it exhaustively.
"""

from __future__ import annotations

from dataclasses import dataclass

from gptoss_agent.agent.harmony.parser import FormatIssue, ParsedCompletion, ParsedMessage


@dataclass(frozen=True)
class Problem:
    """Something the model must be told, as a tool-style message.

    Attributes:
        kind: Machine-readable kind (``missing_message``, ``unknown_tool``, ...).
        text: What the model reads.
        author: Who the message comes from (the recipient concerned, or ``system``).
        channel: The channel to answer on.
    """

    kind: str
    text: str
    author: str = "system"
    channel: str = "commentary"


@dataclass(frozen=True)
class Final:
    """The generation ended with a final answer."""

    message: ParsedMessage


@dataclass(frozen=True)
class Calls:
    """The generation made tool calls (and maybe also needs problems reported)."""

    calls: tuple[ParsedMessage, ...]
    problems: tuple[Problem, ...] = ()


@dataclass(frozen=True)
class Retry:
    """Nothing usable came out; the model is told why and samples again."""

    problems: tuple[Problem, ...]


Outcome = Final | Calls | Retry


def _problem_from_issue(issue: FormatIssue) -> Problem:
    return Problem(
        kind=issue.kind.value,
        text=f"Your last message could not be used: {issue.detail}.",
        author=issue.recipient or "system",
        channel="commentary",
    )


def classify(completion: ParsedCompletion) -> Outcome:
    """Decide what the loop does with one generation.

    Rules: any message with a recipient is a call (calls are never dropped); a
    ``final`` message without recipient, complete and without errors, is the answer;
    ``final`` message without recipient that was not cut off is the answer (problems in
    other messages of the same generation are still counted by the loop); parse errors
    are reported to the model; a generation with neither is a retry.
    """
    problems = tuple(_problem_from_issue(issue) for issue in completion.errors)
    calls = tuple(
        message
        for message in completion.messages
        if message.is_call and message.terminator is not None
    )
    if calls:
        return Calls(calls, problems)
    finals = [
        message
        for message in completion.messages
        if message.channel == "final" and not message.is_call and message.terminator is not None
    ]
    if finals:
        return Final(finals[-1])
    if not problems:
        problems = (
            Problem(
                kind="no_action",
                text=(
                    "Your last message was neither a final answer nor a tool call. Answer "
                    "on the final channel, or call one of the tools."
                ),
            ),
        )
    return Retry(problems)

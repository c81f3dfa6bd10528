"""Running an eval's attempts: concurrently, on shared backends, each through the lifecycle.

Attempts already recorded as passed or failed are skipped. The rest run ``jobs`` at a
time; attempts naming the same model share one backend (an in-process checkpoint is
loaded once and its decode steps are batched across sessions) through
:class:`~gptoss_agent.agent.task.shared.SharedBackends`, as batch runs do. Each attempt is
:func:`~gptoss_agent.agent.task.lifecycle.run_task` with its own session id, so the task's
check decides pass or fail. One attempt's failure is its record, never the eval's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from gptoss_agent.agent.approval import Approver
from gptoss_agent.agent.errors import AgentError
from gptoss_agent.agent.eval.attempt import (
    AttemptRecord,
    ToolResultTap,
    record_error,
    record_outcome,
)
from gptoss_agent.agent.eval.plan import PlannedAttempt
from gptoss_agent.agent.eval.store import AttemptStore
from gptoss_agent.agent.task.build import build_backend
from gptoss_agent.agent.task.lifecycle import run_shared_task
from gptoss_agent.agent.task.load import TaskFileError
from gptoss_agent.agent.task.shared import SharedBackends
from gptoss_agent.sandbox.errors import SandboxConfigError, SandboxError
from gptoss_agent.tools.errors import ToolConfigError, ToolError, ToolRegistrationError

RecordSink = Callable[[AttemptRecord], None]


def pending(planned: Sequence[PlannedAttempt], store: AttemptStore) -> list[PlannedAttempt]:
    """The attempts the store has no pass or fail for."""
    return [attempt for attempt in planned if store.finished(attempt.spec.key) is None]


async def run_attempts(attempts: Sequence[PlannedAttempt], store: AttemptStore,
                       approver: Approver | None = None, jobs: int = 1,
                       on_record: RecordSink | None = None) -> list[AttemptRecord]:
    """Run ``attempts`` (``jobs`` at a time), recording each as soon as it finishes.

    Returns:
        The new records, in the order the attempts finished.
    """
    models = SharedBackends(build_backend, [a.settings for a in attempts], sessions=jobs)
    limit = asyncio.Semaphore(max(1, jobs))
    finished: list[AttemptRecord] = []

    async def one(attempt: PlannedAttempt) -> None:
        async with limit:
            try:
                record = await _attempt(attempt, models, approver)
            finally:
                await models.done(attempt.settings)  # the last attempt on a model closes it
            store.append(record)
            finished.append(record)
            if on_record is not None:
                on_record(record)

    try:
        await asyncio.gather(*(one(attempt) for attempt in attempts))
    finally:
        await models.aclose()
    return finished


async def _attempt(attempt: PlannedAttempt, models: SharedBackends,
                   approver: Approver | None) -> AttemptRecord:
    """One attempt, whatever happens to it, as its record."""
    spec, settings = attempt.spec, attempt.settings
    started = time.monotonic()
    tap = ToolResultTap()
    try:
        _set_aside(settings.output.transcript)
        outcome = await run_shared_task(settings, models, approver, tap,
                                        session_id=spec.session_id)
        return record_outcome(spec, settings.name, outcome, tap, time.monotonic() - started)
    except Exception as exc:  # one attempt's failure must not stop the others
        return record_error(spec, settings.name, exc, error_kind(exc),
                            time.monotonic() - started)


def _set_aside(transcript: Path | None) -> None:
    """Rename an earlier try's transcript (``KEY.jsonl`` -> ``KEY.try1.jsonl``, ...).

    An attempt runs again only when it did not finish or was an infrastructure failure;
    its new session must not be appended to the old one's file.
    """
    if transcript is None or not transcript.exists():
        return
    tries = 1
    while (earlier := transcript.with_suffix(f".try{tries}{transcript.suffix}")).exists():
        tries += 1
    transcript.replace(earlier)


def error_kind(error: BaseException) -> str:
    """``bad_config``, ``infrastructure`` or ``crash`` (a bug) for what an attempt raised."""
    config = (TaskFileError, ToolRegistrationError, ToolConfigError, SandboxConfigError)
    if isinstance(error, config):
        return "bad_config"
    if isinstance(error, (AgentError, ToolError, SandboxError)):
        return "infrastructure"
    return "crash"

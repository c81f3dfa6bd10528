"""The one life of a task, used by ``run``, batch runs, ``resume`` and ``chat`` alike.

A :class:`TaskRun` is one task in one recorded session: it opens the transcript (whose
header records the task, so a resume can rebuild it), places the task's input files in
``/mnt/data``, sends messages, and when the work is done runs the success check, writes
the coding diff, applies the changes back, writes the final answer and records all of it
as the transcript's ``task_finished`` record. :func:`run_task` is the whole life of a
one-prompt task.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gptoss_agent.agent.agent import AgentSession
from gptoss_agent.agent.approval import Approver
from gptoss_agent.agent.backends.scripted import ScriptedBackend
from gptoss_agent.agent.events import Event
from gptoss_agent.agent.output import parse_answer
from gptoss_agent.agent.result import RunResult
from gptoss_agent.agent.task.build import TaskAgent, build_agent
from gptoss_agent.agent.task.checks import CheckContext, CheckOutcome, run_check
from gptoss_agent.agent.task.load import TaskFileError
from gptoss_agent.agent.task.settings import TaskSettings
from gptoss_agent.agent.task.shared import SharedBackends
from gptoss_agent.agent.transcript import (
    TranscriptBusyError,
    TranscriptWriter,
    read_records,
    replay_conversation,
)

EventSink = Callable[[Event], None]


@dataclass(frozen=True)
class TaskOutcome:
    """What a task's life produced.

    Attributes:
        result: The last run's result.
        transcript: The transcript file.
        check: The success check's verdict, when the task has one.
        diff_lines: Lines of the coding diff, when the task has coding tools.
        diff: Where the diff was written, when ``tools.coding.diff`` asks for it.
        applied_back: Project files the changes were copied onto (``apply_back``).
        final: Where the final answer was written (``output.final``).
    """

    result: RunResult
    transcript: Path
    check: CheckOutcome | None = None
    diff_lines: int | None = None
    diff: Path | None = None
    applied_back: tuple[str, ...] | None = None
    final: Path | None = None

    @property
    def output(self) -> Any:
        """The structured answer as JSON data, when the task has an ``output_schema``."""
        if self.result.output is None or self.result.final_text is None:
            return None
        return parse_answer(self.result.final_text)

    @property
    def passed(self) -> bool:
        """Whether the run answered and its check (if any) passed."""
        return self.result.ok and (self.check is None or self.check.passed)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form recorded as ``task_finished`` and printed by ``--json``."""
        data: dict[str, Any] = {"transcript": str(self.transcript), "passed": self.passed}
        if self.output is not None:
            data["output"] = self.output
        if self.check is not None:
            data["check"] = {"passed": self.check.passed, "detail": self.check.detail}
        for key in ("diff_lines", "diff", "applied_back", "final"):
            value = getattr(self, key)
            if value is not None:
                data[key] = list(value) if isinstance(value, tuple) else (
                    str(value) if isinstance(value, Path) else value)
        return data


def transcript_path_for(settings: TaskSettings, session_id: str) -> Path:
    """Where a run's transcript goes: the task's ``output.transcript`` or ``runs/``."""
    if settings.output.transcript is not None:
        return settings.output.transcript
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{settings.name}-{stamp}-{session_id}.jsonl"


class TaskRun:
    """One task in one recorded session. Make one with :meth:`start` or :meth:`restore`.

    Use as an async context manager, or call :meth:`aclose`: the session (its sandbox
    container, browser context and KV cache) is freed; the agent's tools and backend
    are the caller's.
    """

    def __init__(self, task: TaskAgent, session: AgentSession, transcript: Path) -> None:
        self.task = task
        self.session = session
        self.transcript = transcript

    @classmethod
    async def start(cls, task: TaskAgent, session_id: str | None = None) -> TaskRun:
        """Open the transcript, start the session and place the task's inputs.

        Raises:
            TaskFileError: An input file is missing, or inputs are listed without the
                python tool.
        """
        sid = session_id or uuid.uuid4().hex[:12]
        settings = task.settings
        path = transcript_path_for(settings, sid)
        writer = TranscriptWriter(path, metadata={"task_path": str(settings.path),
                                                  "task": dict(settings.source)})
        return await cls(task, task.agent.session(sid, transcript=writer), path)._with_inputs()

    @classmethod
    async def restore(cls, task: TaskAgent, records: list[dict[str, Any]],
                      writer: TranscriptWriter) -> TaskRun:
        """The session a transcript records, ready to :meth:`resume`.

        The inputs are placed again (the files the crashed run wrote are kept when
        ``tools.python.data_dir`` names a folder; without one, ``/mnt/data`` is new).

        ``records`` must still be the whole transcript now that ``writer`` holds it: a run
        that went on between the read and the lock (and may have finished, or answered
        the call ``records`` leaves open) would otherwise be resumed from a stale state
        and its calls made twice.

        Raises:
            TranscriptBusyError: The transcript was written to after ``records`` were
                read (the writer is closed; read it again).
        """
        _check_unchanged(records, writer)
        session = task.agent.restore_session(records, writer)
        model = task.agent.model
        if isinstance(model, ScriptedBackend):
            # A scripted model must not replay what the crashed run already generated.
            model.skip(replay_conversation(records).generations)
        return await cls(task, session, writer.path)._with_inputs()

    async def _with_inputs(self) -> TaskRun:
        """This run with the task's inputs placed; closed again if they cannot be."""
        try:
            await self._place_inputs()
        except BaseException:
            await self.aclose()
            raise
        return self

    async def _place_inputs(self) -> None:
        inputs = self.task.settings.inputs
        if not inputs:
            return
        python = self.task.tools.python
        where = self.task.settings.path
        if python is None:
            raise TaskFileError(f"{where}: inputs are copied to /mnt/data of the python "
                                "tool; enable tools.python")
        for path in inputs:
            if not path.exists():
                raise TaskFileError(f"{where}: input file {path} does not exist")
            try:
                python.copy_in(self.session.session_id, path)
            except (OSError, ValueError) as exc:
                raise TaskFileError(f"{where}: cannot place input {path}: {exc}") from exc

    async def send(self, text: str, on_event: EventSink | None = None) -> RunResult:
        """One user message, run to its end."""
        return await self.session.send(text, on_event=on_event)

    async def resume(self, records: list[dict[str, Any]],
                     on_event: EventSink | None = None) -> RunResult:
        """Continue the interrupted run ``records`` describe.

        Its prompt is sent again if the crash came before it reached the history.
        """
        replayed = replay_conversation(records)
        if not replayed.prompt_recorded and replayed.last_prompt is not None:
            return await self.session.send(replayed.last_prompt, on_event=on_event)
        return await self.session.resume(on_event=on_event)

    async def finish(self, result: RunResult) -> TaskOutcome:
        """Check, diff, apply back and write the answer; record it all.

        Call once, before :meth:`aclose`: the check may still run commands in the
        session's sandbox.
        """
        toolkit = self.task.tools.coding
        sid = self.session.session_id
        check = None
        if self.task.check is not None:
            python = self.task.tools.python
            data_dir = python.data_dir(sid) if python is not None else None
            check = await run_check(self.task.check, CheckContext(result, sid, data_dir, toolkit))
        outcome = TaskOutcome(result, self.transcript, check, final=self._write_final(result))
        if toolkit is not None:
            outcome = self._coding_outputs(outcome)
        if self.session.transcript is not None:
            self.session.transcript.write({"type": "task_finished",
                                           "outcome": outcome.to_dict()})
        return outcome

    def _coding_outputs(self, outcome: TaskOutcome) -> TaskOutcome:
        coding, toolkit = self.task.settings.coding, self.task.tools.coding
        assert coding is not None and toolkit is not None
        sid = self.session.session_id
        diff = toolkit.diff(sid)
        target = None
        if coding.diff is not None:
            target = self._write("tools.coding.diff", coding.diff, diff)
        applied = None
        if coding.apply_back and outcome.passed:
            try:
                applied = tuple(toolkit.apply_back(sid))
            except (OSError, ValueError) as exc:
                raise TaskFileError(f"{self.task.settings.path}: cannot apply the changes "
                                    f"back onto {coding.project}: {exc}") from exc
        return TaskOutcome(outcome.result, outcome.transcript, outcome.check,
                           len(diff.splitlines()), target, applied, outcome.final)

    def _write_final(self, result: RunResult) -> Path | None:
        target = self.task.settings.output.final
        if target is None or result.final_text is None:
            return None
        return self._write("output.final", target, result.final_text + "\n")

    def _write(self, key: str, target: Path, text: str) -> Path:
        """Write an output the task names; a path that cannot be written is its error."""
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise TaskFileError(f"{self.task.settings.path}: {key}: cannot write {target}: "
                                f"{exc.strerror or exc}") from exc
        return target

    async def aclose(self) -> None:
        """Close the session (and its transcript). Idempotent."""
        await self.session.aclose()

    async def __aenter__(self) -> TaskRun:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _check_unchanged(records: list[dict[str, Any]], writer: TranscriptWriter) -> None:
    """Refuse ``records`` if the transcript ``writer`` now holds has grown since they were read.

    A transcript is only appended to (a repair cuts a torn tail, which reading ignored),
    so the same number of complete records means the same records.
    """
    try:
        now = len(read_records(writer.path))
    except BaseException:
        writer.close()
        raise
    if now != len(records):
        writer.close()
        raise TranscriptBusyError(
            f"the transcript {writer.path} was written to after it was read ({now} records "
            f"now, {len(records)} read): another process was still running it; run the "
            "resume again")


async def run_task(task: TaskAgent, on_event: EventSink | None = None,
                   session_id: str | None = None) -> TaskOutcome:
    """The whole life of a one-prompt task: start, send its prompt, finish, close.

    Raises:
        TaskFileError: The task has no prompt, or its inputs cannot be placed.
    """
    prompt = task.settings.prompt
    if not prompt:
        raise TaskFileError(f"{task.settings.path}: the task has no prompt")
    async with await TaskRun.start(task, session_id) as run:
        result = await run.send(prompt, on_event)
        return await run.finish(result)


async def run_shared_task(settings: TaskSettings, models: SharedBackends,
                          approver: Approver | None = None,
                          on_event: EventSink | None = None,
                          session_id: str | None = None) -> TaskOutcome:
    """:func:`run_task` for a task of a batch or an eval, on the backend ``models`` shares.

    The task's tools (and its backend, when it has one of its own) are closed either way.

    Raises:
        Exception: Whatever getting the backend, building or running the task raised.
    """
    shared = await models.get(settings)
    built = build_agent(settings, shared, approver)
    try:
        return await run_task(built, on_event, session_id)
    finally:
        await built.aclose(close_backend=shared is None)

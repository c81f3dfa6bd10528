"""One finished attempt as a record: pass, fail or infrastructure failure, and its counts.

Tool-call validity sorts the run's incidents (and its tool results, for timeouts) into
the kinds the report shows:

========================  ==============================================================
``parse_error``           output the parser could not use (no ``<|message|>``, no or an
                          unknown channel, a wrong role, truncated) and call arguments
                          that are not JSON (``invalid_json``)
``schema_invalid``        arguments that break the tool's schema (``schema_violation``,
                          ``invalid_arguments``)
``unknown_tool``          a recipient that is not a tool, or a built-in not enabled
``wrong_channel``         a function called off ``commentary`` (repaired, still counted)
``timeout``               a call that did not answer within ``tool_timeout_s``
``other``                 any other error the model was told about (``no_action``,
                          ``tool_choice``, ...), structured-output retries excepted
========================  ==============================================================

Structured-output retries (``invalid_output``) are counted apart as ``output_retries``,
and the parser's silent repairs as ``repairs``. An attempt whose backend or tool
machinery failed, that crashed, or that could not start is ``infra``: it is recorded but
left out of pass@k, and a rerun tries it again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from gptoss_agent.agent.eval.plan import AttemptSpec
from gptoss_agent.agent.events import Event, ToolCallFinished
from gptoss_agent.agent.result import RunResult, StopReason
from gptoss_agent.agent.task.lifecycle import TaskOutcome

VALIDITY_KINDS = ("parse_error", "schema_invalid", "unknown_tool", "wrong_channel",
                  "timeout", "other")
TOKEN_KINDS = ("analysis", "commentary", "final", "sampled", "prompt", "tool_output")
_KIND_OF_INCIDENT = {
    "missing_message": "parse_error", "empty_channel": "parse_error",
    "unknown_channel": "parse_error", "wrong_role": "parse_error",
    "truncated": "parse_error", "invalid_json": "parse_error",
    "schema_violation": "schema_invalid", "invalid_arguments": "schema_invalid",
    "unknown_tool": "unknown_tool", "tool_not_enabled": "unknown_tool",
    "function_call_off_commentary": "wrong_channel",
}
_INFRA_STOPS = (StopReason.BACKEND_ERROR, StopReason.TOOL_UNAVAILABLE, StopReason.CANCELLED)


class ToolResultTap:
    """An event sink that counts tool results by their ``kind`` (timeouts, crashes)."""

    def __init__(self) -> None:
        self.kinds: Counter[str] = Counter()

    def __call__(self, event: Event) -> None:
        """Count ``event`` if it is a failed tool call."""
        if isinstance(event, ToolCallFinished) and event.result.is_error:
            self.kinds[str(event.result.metadata.get("kind") or "error")] += 1


@dataclass(frozen=True)
class AttemptRecord:
    """What one attempt did, as written to the eval's record file.

    Attributes:
        key: The attempt's key (:attr:`AttemptSpec.key`).
        task: The task's name.
        task_path: The task file.
        setting: The grid point's label.
        attempt: The attempt's index at its task and setting.
        seed: Its sampling seed.
        status: ``pass``, ``fail`` or ``infra`` (infra is left out of pass@k).
        outcome: The stop reason, ``check_failed``, or for infra ``bad_config``,
            ``infrastructure`` or ``crash`` when the attempt raised.
        generations: Calls to the model.
        tool_calls: Calls dispatched to tools.
        tokens: Sampled tokens by channel, and ``sampled``, ``prompt``, ``tool_output``.
        validity: Invalid calls by kind (see the module docstring).
        output_retries: Final answers rejected by the output schema.
        repairs: Irregularities the parser fixed silently.
        incidents: Every incident kind and how often it happened.
        seconds: Wall time of the attempt.
        error: What failed (a stop's error, or the exception).
        check: The check's verdict sentence, when the task has a check.
        transcript: The attempt's transcript.
        task_hash: Hash of the task file's content.
    """

    key: str
    task: str
    task_path: str
    setting: str
    attempt: int
    seed: int
    status: str
    outcome: str
    generations: int = 0
    tool_calls: int = 0
    tokens: Mapping[str, int] = field(default_factory=dict)
    validity: Mapping[str, int] = field(default_factory=dict)
    output_retries: int = 0
    repairs: int = 0
    incidents: Mapping[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    error: str | None = None
    check: str | None = None
    transcript: str | None = None
    task_hash: str = ""

    @property
    def counted(self) -> bool:
        """Whether the attempt counts toward pass@k (it was not an infra failure)."""
        return self.status != "infra"

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (one line of the record file)."""
        return {key: dict(value) if isinstance(value, Mapping) else value
                for key, value in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AttemptRecord:
        """A record read back from its JSON form (unknown keys are ignored).

        Raises:
            TypeError: A required field is missing.
        """
        names = cls.__dataclass_fields__
        return cls(**{key: value for key, value in data.items() if key in names})


def _base(spec: AttemptSpec, task: str) -> dict[str, Any]:
    return {"key": spec.key, "task": task, "task_path": spec.task_path,
            "setting": spec.setting.label, "attempt": spec.index, "seed": spec.seed,
            "task_hash": spec.task_hash}


def record_outcome(spec: AttemptSpec, task: str, outcome: TaskOutcome, tap: ToolResultTap,
                   seconds: float) -> AttemptRecord:
    """The record of an attempt that ran to its end."""
    result = outcome.result
    if result.stop_reason in _INFRA_STOPS:
        status, name = "infra", result.stop_reason.value
    elif outcome.passed:
        status, name = "pass", result.stop_reason.value
    else:
        failed_check = result.ok and outcome.check is not None
        status, name = "fail", "check_failed" if failed_check else result.stop_reason.value
    incidents = Counter(incident.kind for incident in result.incidents)
    return AttemptRecord(
        **_base(spec, task), status=status, outcome=name,
        generations=result.usage.generations, tool_calls=result.tool_calls,
        tokens=_tokens(result), validity=_validity(result, tap),
        output_retries=incidents["invalid_output"], repairs=len(result.repairs),
        incidents=dict(sorted(incidents.items())), seconds=round(seconds, 3),
        error=result.error, check=outcome.check.detail if outcome.check else None,
        transcript=str(outcome.transcript))


def record_error(spec: AttemptSpec, task: str, error: BaseException, kind: str,
                 seconds: float) -> AttemptRecord:
    """The record of an attempt that raised ``error`` (always ``infra``)."""
    detail = f"{type(error).__name__}: {error}" if kind != "bad_config" else str(error)
    return AttemptRecord(**_base(spec, task), status="infra", outcome=kind,
                         seconds=round(seconds, 3), error=detail)


def _tokens(result: RunResult) -> dict[str, int]:
    usage = result.usage
    return {"analysis": usage.analysis_tokens, "commentary": usage.commentary_tokens,
            "final": usage.final_tokens, "sampled": usage.sampled_tokens,
            "prompt": usage.prompt_tokens, "tool_output": usage.tool_output_tokens}


def _validity(result: RunResult, tap: ToolResultTap) -> dict[str, int]:
    counts = dict.fromkeys(VALIDITY_KINDS, 0)
    for incident in result.incidents:
        kind = _KIND_OF_INCIDENT.get(incident.kind)
        if kind is None and not incident.repaired and incident.kind != "invalid_output":
            kind = "other"
        if kind is not None:
            counts[kind] += 1
    counts["timeout"] = tap.kinds["timeout"]
    return counts

"""The eval's summary: pass@k, pass^k and counts per task and setting, setting, overall.

pass@k and pass^k of one task at one setting come from its counted attempts (``n``,
infrastructure failures left out) with ``c`` passes; a ``k`` above ``n`` has no value
(``None``). Across tasks (a setting's row, the overall row) each is the mean over the
tasks that have a value at that ``k``, so every task weighs the same whatever its ``n``.
Means of generations, tool calls, tokens and seconds are over counted attempts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from gptoss_agent.agent.eval.attempt import TOKEN_KINDS, VALIDITY_KINDS, AttemptRecord
from gptoss_agent.agent.eval.estimators import pass_at_k, pass_hat_k

ALL = "all"


@dataclass(frozen=True)
class GroupSummary:
    """One row of the report.

    Attributes:
        task: The task's name, or ``all``.
        setting: The setting's label, or ``all``.
        attempts: Attempts recorded, infrastructure failures included.
        n: Attempts counted (not infrastructure failures).
        passed: Counted attempts that passed.
        infra: Infrastructure failures (left out of pass@k).
        pass_at: pass@k by k (``None`` where a task has fewer than k counted attempts).
        pass_hat: pass^k by k.
        mean_generations: Model calls per attempt.
        mean_tool_calls: Tool calls per attempt.
        mean_tokens: Tokens per attempt, by channel and kind.
        validity: Invalid tool calls (and unusable output) by kind, summed.
        output_retries: Structured-output retries, summed.
        repair_rate: Share of counted attempts that needed a structured-output retry.
        repairs: Silent parser repairs, summed.
        stop_reasons: How attempts ended (infra outcomes included), by outcome.
        mean_seconds: Wall time per attempt.
    """

    task: str
    setting: str
    attempts: int
    n: int
    passed: int
    infra: int
    pass_at: Mapping[int, float | None]
    pass_hat: Mapping[int, float | None]
    mean_generations: float
    mean_tool_calls: float
    mean_tokens: Mapping[str, float]
    validity: Mapping[str, int]
    output_retries: int
    repair_rate: float
    repairs: int
    stop_reasons: Mapping[str, int]
    mean_seconds: float

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``k`` keys as strings)."""
        data = asdict(self)
        data["pass_at"] = {str(k): v for k, v in self.pass_at.items()}
        data["pass_hat"] = {str(k): v for k, v in self.pass_hat.items()}
        return data


@dataclass(frozen=True)
class EvalSummary:
    """Every row: per task and setting, per setting, and overall.

    Attributes:
        ks: The k values reported.
        groups: One row per task and setting, in plan order.
        settings: One row per setting, across tasks.
        overall: Every task at every setting.
    """

    ks: tuple[int, ...]
    groups: tuple[GroupSummary, ...]
    settings: tuple[GroupSummary, ...]
    overall: GroupSummary

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of the report."""
        return {"ks": list(self.ks), "groups": [g.to_dict() for g in self.groups],
                "settings": [s.to_dict() for s in self.settings],
                "overall": self.overall.to_dict()}


def summarize(records: Sequence[AttemptRecord], ks: Sequence[int]) -> EvalSummary:
    """The summary of ``records`` (each attempt once) at the k values ``ks``."""
    by_group: dict[tuple[str, str], list[AttemptRecord]] = {}
    for record in records:
        by_group.setdefault((record.task_path, record.setting), []).append(record)
    groups = [_group(items[0].task, setting, items, ks)
              for (_, setting), items in by_group.items()]
    settings = list(dict.fromkeys(setting for _, setting in by_group))
    per_setting = []
    for setting in settings:
        rows = [g for g in groups if g.setting == setting]
        items = [r for (_, s), rs in by_group.items() if s == setting for r in rs]
        per_setting.append(_combined(ALL, setting, items, rows, ks))
    overall = _combined(ALL, ALL, list(records), groups, ks)
    return EvalSummary(tuple(ks), tuple(groups), tuple(per_setting), overall)


def _group(task: str, setting: str, records: Sequence[AttemptRecord],
           ks: Sequence[int]) -> GroupSummary:
    counted = [r for r in records if r.counted]
    n, c = len(counted), sum(r.status == "pass" for r in counted)
    pass_at = {k: pass_at_k(n, c, k) if k <= n else None for k in ks}
    pass_hat = {k: pass_hat_k(n, c, k) if k <= n else None for k in ks}
    return _summary(task, setting, records, pass_at, pass_hat)


def _combined(task: str, setting: str, records: Sequence[AttemptRecord],
              rows: Sequence[GroupSummary], ks: Sequence[int]) -> GroupSummary:
    pass_at = {k: _mean_of(row.pass_at[k] for row in rows) for k in ks}
    pass_hat = {k: _mean_of(row.pass_hat[k] for row in rows) for k in ks}
    return _summary(task, setting, records, pass_at, pass_hat)


def _summary(task: str, setting: str, records: Sequence[AttemptRecord],
             pass_at: Mapping[int, float | None],
             pass_hat: Mapping[int, float | None]) -> GroupSummary:
    counted = [r for r in records if r.counted]
    validity = {kind: sum(r.validity.get(kind, 0) for r in counted) for kind in VALIDITY_KINDS}
    tokens = {kind: _mean([r.tokens.get(kind, 0) for r in counted]) for kind in TOKEN_KINDS}
    retried = sum(r.output_retries > 0 for r in counted)
    return GroupSummary(
        task=task, setting=setting, attempts=len(records), n=len(counted),
        passed=sum(r.status == "pass" for r in counted),
        infra=len(records) - len(counted), pass_at=pass_at, pass_hat=pass_hat,
        mean_generations=_mean([r.generations for r in counted]),
        mean_tool_calls=_mean([r.tool_calls for r in counted]), mean_tokens=tokens,
        validity=validity, output_retries=sum(r.output_retries for r in counted),
        repair_rate=retried / len(counted) if counted else 0.0,
        repairs=sum(r.repairs for r in counted),
        stop_reasons=dict(Counter(r.outcome for r in records).most_common()),
        mean_seconds=_mean([r.seconds for r in counted]))


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _mean_of(values: Iterable[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return sum(present) / len(present) if present else None

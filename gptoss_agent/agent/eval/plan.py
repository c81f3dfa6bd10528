"""The attempts of an eval: every task, at every setting of the grid, ``k`` times.

Each attempt is the task loaded with the eval's fixed overrides, its setting's
assignments and its own seed, ``model.sampling.seed = base + attempt index`` (the base is
``--seed``, else the task's own seed, else 0), so a rerun samples the same way. Its key
hashes the task path, the task file's content, the overrides and the attempt: a result
recorded under that key is the result of exactly this attempt. Outputs a task would
write once (transcript, final answer, diff) go under the eval's folder, one per attempt;
``apply_back`` is off (attempts must not copy their changes onto the project).
Each attempt's session id is ``eval-<key prefix>-seed<seed>``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from gptoss_agent.agent.eval.errors import EvalError
from gptoss_agent.agent.eval.grid import SEED_KEY, Grid, Setting
from gptoss_agent.agent.task.load import TaskFileError, load_task
from gptoss_agent.agent.task.settings import OutputSettings, TaskSettings, task_settings


@dataclass(frozen=True)
class AttemptSpec:
    """Which attempt this is, and what identifies it across reruns.

    Attributes:
        task_path: The task file, resolved.
        task_hash: SHA-256 (hex, 16 digits) of the task file's bytes.
        overrides: The eval's fixed ``--set`` overrides.
        setting: The grid point.
        index: The attempt's index at its task and setting (0-based).
        seed: Its sampling seed.
    """

    task_path: str
    task_hash: str
    overrides: tuple[str, ...]
    setting: Setting
    index: int
    seed: int

    @property
    def key(self) -> str:
        """The attempt's identity: a hash of everything that decides its result."""
        identity = [self.task_path, self.task_hash, list(self.overrides),
                    list(self.setting.assignments), self.index, self.seed]
        return hashlib.sha256(json.dumps(identity).encode()).hexdigest()[:20]

    @property
    def session_id(self) -> str:
        """The attempt's session id (checks can read the seed from it)."""
        return f"eval-{self.key[:8]}-seed{self.seed}"


@dataclass(frozen=True)
class PlannedAttempt:
    """An attempt and the task settings it runs with."""

    spec: AttemptSpec
    settings: TaskSettings


def plan_attempts(tasks: Sequence[Path], grid: Grid, attempts: int, out_dir: Path,
                  base_seed: int | None = None) -> list[PlannedAttempt]:
    """Every attempt of the eval, in order: task, then setting, then attempt index.

    Raises:
        EvalError: ``attempts`` is below 1.
        TaskFileError: A task file is missing or invalid with the overrides (the
            message names the file, the line and the key).
    """
    if attempts < 1:
        raise EvalError(f"-k must be at least 1, got {attempts}")
    planned: list[PlannedAttempt] = []
    unique = {path.resolve(): path for path in tasks}  # a task named twice runs once
    for path in unique.values():
        digest = _file_hash(path)
        for setting in grid.settings:
            overrides = [*grid.fixed, *setting.assignments]
            base = base_seed if base_seed is not None else _task_seed(path, overrides)
            for index in range(attempts):
                spec = AttemptSpec(str(path.resolve()), digest, grid.fixed, setting, index,
                                   base + index)
                settings = task_settings(load_task(path, [*overrides,
                                                          f"{SEED_KEY}={spec.seed}"]))
                planned.append(PlannedAttempt(spec, _confined(settings, spec, out_dir)))
    return planned


def default_folder(task: Path, overrides: Sequence[str]) -> Path:
    """``runs/eval-<name of the task>``: where an eval of ``task`` keeps its records.

    Raises:
        TaskFileError: The task file is missing or invalid.
    """
    name = load_task(task, list(overrides)).name
    safe = "".join(char if char.isalnum() or char in "-_." else "_" for char in name)
    return Path("runs") / f"eval-{safe}"


def _file_hash(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    except OSError as exc:
        raise TaskFileError(f"{path}: cannot read the task file: "
                            f"{exc.strerror or exc}") from exc


def _task_seed(path: Path, overrides: list[str]) -> int:
    seed = task_settings(load_task(path, overrides)).sampling.seed
    return seed if seed is not None else 0


def _confined(settings: TaskSettings, spec: AttemptSpec, out_dir: Path) -> TaskSettings:
    """The settings with the attempt's outputs under ``out_dir`` and no apply-back."""
    folder = out_dir.resolve()
    final = folder / "finals" / f"{spec.key}.txt" if settings.output.final else None
    output = OutputSettings(transcript=folder / "transcripts" / f"{spec.key}.jsonl",
                            final=final)
    coding = settings.coding
    if coding is not None:
        diff = folder / "diffs" / f"{spec.key}.diff" if coding.diff is not None else None
        coding = dataclasses.replace(coding, apply_back=False, diff=diff)
    return dataclasses.replace(settings, output=output, coding=coding)

"""The training progress bar: steps, running loss and accuracy on stderr (rich).

On a console that is not a terminal (CI logs, ``nohup``) the bar cannot redraw, so a
plain line is printed every :data:`LOG_EVERY` steps instead.
"""

from __future__ import annotations

import time
from typing import Any

from gptoss_agent.agent.finetune.evaluate import EvalFigures

LOG_EVERY = 25
"""Steps between progress lines when the console is not a terminal."""


class ProgressBar:
    """A rich progress bar with the running loss, or nothing when disabled.

    Use it as a context manager around the training steps.

    Args:
        total: Steps of the whole run.
        completed: Steps already done (a resumed run).
        enabled: Draw anything at all.
    """

    def __init__(self, total: int, completed: int, *, enabled: bool) -> None:
        self._enabled = enabled
        self._progress: Any = None
        self._task: Any = None
        self._total = total
        self._completed = completed
        self._smooth: float | None = None
        self._started = time.perf_counter()

    def __enter__(self) -> ProgressBar:
        if self._enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("[bold]finetune"), BarColumn(), MofNCompleteColumn(),
                TextColumn("loss {task.fields[loss]}"), TextColumn("acc {task.fields[acc]}"),
                TimeElapsedColumn(), TimeRemainingColumn(),
                console=Console(stderr=True),
            )
            self._progress.__enter__()
            self._task = self._progress.add_task("train", total=self._total,
                                                 completed=self._completed, loss="-", acc="-")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)

    def advance(self, step: int, loss: float, accuracy: float) -> None:
        """Show step ``step`` done with this batch's loss (smoothed) and token accuracy."""
        self._smooth = loss if self._smooth is None else 0.9 * self._smooth + 0.1 * loss
        if self._progress is None:
            return
        self._progress.update(self._task, completed=step, loss=f"{self._smooth:.4f}",
                              acc=f"{accuracy:.3f}")
        console = self._progress.console
        if not console.is_terminal and (step % LOG_EVERY == 0 or step == self._total):
            console.print(f"step {step}/{self._total} loss {self._smooth:.4f} "
                          f"acc {accuracy:.3f} ({time.perf_counter() - self._started:.0f} s)",
                          highlight=False)

    def note(self, step: int, figures: EvalFigures) -> None:
        """Print a held-out evaluation line above the bar."""
        if self._progress is not None:
            self._progress.console.print(
                f"step {step}: held-out loss {figures.loss:.4f}, token accuracy "
                f"{figures.token_accuracy:.4f}, exact {figures.sequence_accuracy:.3f}")

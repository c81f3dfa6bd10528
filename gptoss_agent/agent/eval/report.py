"""Writing the eval's report files: ``report.json`` and ``report.html`` in its folder.

Both are rewritten at the end of every run from all the records of the planned
attempts, so after a resumed run they describe the whole eval, not only what ran last.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gptoss_agent.agent.eval.aggregate import EvalSummary
from gptoss_agent.agent.eval.attempt import AttemptRecord
from gptoss_agent.agent.eval.errors import EvalError
from gptoss_agent.agent.eval.page import render_page


@dataclass(frozen=True)
class ReportFiles:
    """Where the report went."""

    json: Path
    html: Path


def write_reports(folder: Path, summary: EvalSummary, records: Sequence[AttemptRecord],
                  about: Mapping[str, Any], title: str = "gptoss-agent eval") -> ReportFiles:
    """Write ``report.json`` (``about``, the summary and every attempt) and the page.

    Raises:
        EvalError: A file cannot be written.
    """
    data = {**about, **summary.to_dict(), "attempts": [r.to_dict() for r in records]}
    files = ReportFiles(folder / "report.json", folder / "report.html")
    try:
        files.json.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n",
                              encoding="utf-8")
        files.html.write_text(render_page(summary, records, title), encoding="utf-8")
    except OSError as exc:
        raise EvalError(f"{folder}: cannot write the report: {exc.strerror or exc}") from exc
    return files

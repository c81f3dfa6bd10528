"""``gptoss-agent doctor``: is this machine ready? Vocabulary, model, Docker, Chromium.

Each check says what it found and, when something is wrong, how to fix it. With a task
file, the model it names is checked too (the checkpoint folder, or the server's
``/models`` endpoint). Exit code 0 when everything needed is fine, 4 otherwise.
"""

from __future__ import annotations

import argparse
import subprocess
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from gptoss_agent.agent.cli.common import print_error
from gptoss_agent.agent.cli.exit_codes import EXIT_CONFIG, EXIT_INFRA, EXIT_OK
from gptoss_agent.agent.task.load import TaskFileError, load_task
from gptoss_agent.agent.task.settings import (
    ModelChoice,
    ScriptedModel,
    TransformersModel,
    task_settings,
)


@dataclass(frozen=True)
class Finding:
    """One line of the doctor's report."""

    name: str
    ok: bool
    detail: str
    fix: str = ""


def check_vocabulary() -> Finding:
    """The offline o200k vocabulary harmony needs."""
    from gptoss_agent.agent.harmony.vocab import VocabularyError, ensure_vocabulary

    try:
        location = ensure_vocabulary()
    except VocabularyError as exc:
        return Finding("vocabulary", False, str(exc).splitlines()[0],
                       "pip install quicktok-v1, or set TIKTOKEN_ENCODINGS_BASE")
    return Finding("vocabulary", True, f"o200k verified in {location.folder} ({location.source})")


def check_model(model: ModelChoice) -> Finding:
    """The checkpoint folder or server a task names."""
    if isinstance(model, ScriptedModel):
        return Finding("model", True,
                       f"scripted backend ({len(model.completions)} completion(s))")
    if isinstance(model, TransformersModel):
        if not (model.path / "config.json").is_file():
            return Finding("model", False, f"{model.path} holds no config.json",
                           "point model.path at a folder saved with save_pretrained")
        return Finding("model", True, f"checkpoint folder {model.path}")
    url = model.url.rstrip("/")
    try:
        import httpx

        response = httpx.get(f"{url}/models", timeout=5.0)
        response.raise_for_status()
    except Exception as exc:
        return Finding("model", False, f"server {url} did not answer /models: {exc}",
                       "start the server, or fix model.url")
    return Finding("model", True, f"server {url} answers /models")


def check_docker() -> list[Finding]:
    """The Docker engine, the sandbox image and a smoke test."""
    from gptoss_agent.sandbox.doctor import diagnose

    return [Finding(f"sandbox: {c.name}", c.ok, c.detail, c.fix) for c in diagnose()]


def check_chromium() -> Finding:
    """A Chromium that Playwright can drive headless."""
    from gptoss_agent.tools.browser.config import find_chromium

    path = find_chromium(None)
    if path is None:
        return Finding("chromium", False, "no Chromium found",
                       "apt-get install -y chromium (or set tools.browser.executable_path)")
    try:
        version = subprocess.run([path, "--version"], capture_output=True, text=True,
                                 timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        return Finding("chromium", False, f"{path} does not run: {exc}",
                       "reinstall chromium")
    try:
        import playwright  # noqa: F401
    except ImportError:
        return Finding("chromium", False, f"{version}, but Playwright is not installed",
                       "pip install playwright (its browser download is not needed)")
    return Finding("chromium", True, f"{version} at {path}")


def cmd_doctor(args: argparse.Namespace) -> int:
    """Run the checks and print the report."""
    console = Console()
    findings = [check_vocabulary()]
    if args.task is not None:
        try:
            task = task_settings(load_task(args.task, require_prompt=False))
            findings.append(check_model(task.model))
        except TaskFileError as exc:
            print_error(console, str(exc))
            return EXIT_CONFIG
    if not args.skip_docker:
        findings.extend(check_docker())
    if not args.skip_browser:
        findings.append(check_chromium())
    table = Table(title="gptoss-agent doctor", show_lines=False)
    table.add_column("check")
    table.add_column("")
    table.add_column("finding")
    table.add_column("fix")
    for finding in findings:
        mark = Text("ok", style="green") if finding.ok else Text("FAIL", style="bold red")
        table.add_row(finding.name, mark, finding.detail, finding.fix)
    console.print(table)
    return EXIT_OK if all(f.ok for f in findings) else EXIT_INFRA


def add_doctor_command(commands: argparse._SubParsersAction) -> None:
    """Register ``doctor``."""
    doctor = commands.add_parser("doctor", help="check vocabulary, model, Docker, Chromium")
    doctor.add_argument("task", type=Path, nargs="?", default=None,
                        help="also check the model this task names")
    doctor.add_argument("--skip-docker", action="store_true")
    doctor.add_argument("--skip-browser", action="store_true")
    doctor.set_defaults(handler=cmd_doctor)

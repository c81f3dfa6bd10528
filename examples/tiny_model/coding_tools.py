"""The ``coding`` family's tools: the real python tool and coding toolkit, offline or in Docker.

:func:`coding_tools` gives ``python``, ``functions.apply_patch`` and ``functions.shell`` (the
tools, in the order, that a task file with ``python: true`` and ``coding:`` gives) with
the case's project copied into the workspace. Offline, the python tool's sandbox is a
:class:`HostCellSandbox`: each cell the toolkit writes (its patch cell, its shell cell)
runs in a fresh host ``python3`` process with the container's workspace path replaced by
a host folder, so the text the model reads is made by the toolkit's own code.
``tests/e2e/test_tiny_coding_docker.py`` checks it is byte-identical to the Docker
sandbox's.

The host sandbox is **not isolated**: it runs what it is given on this machine. It is
for data generation, where every cell carries the teacher's own commands and patches;
:class:`HostCellSandbox` refuses any shell command other than those the teacher writes.
Evaluate a model's own calls in the Docker sandbox (``offline=False``).
"""

from __future__ import annotations

import ast
import asyncio
import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

from examples.tiny_model.coding_project import Project
from gptoss_agent.sandbox.results import ExceptionInfo, ExecutionResult, ExecutionStatus
from gptoss_agent.tools.coding.toolkit import WORKSPACE_IN_CONTAINER, CodingToolkit
from gptoss_agent.tools.python_tool import PythonTool

TEACHER_COMMANDS = re.compile(r"(python3 test_[a-z_]+\.py|cat [a-z_]+\.py)")
"""The only shell commands the host sandbox runs: the teacher's."""

_RUNNER = """\
import json, sys
source = sys.stdin.read()
try:
    exec(compile(source, "<cell>", "exec"), {"__name__": "__main__"})
except BaseException as exc:
    sys.stdout.flush()
    with open(sys.argv[1], "w") as out:
        json.dump({"name": type(exc).__name__, "message": str(exc)}, out)
"""


class HostCellSandbox:
    """A :class:`~gptoss_agent.sandbox.base.Sandbox` running the coding toolkit's cells on the
    host, ``/mnt/data`` being ``data_dir``. Not isolated: for the teacher's cells only.

    Args:
        data_dir: The host folder standing in for ``/mnt/data``.
        allowed: The shell commands it runs (a full match); others get an error result.
    """

    def __init__(self, data_dir: Path, allowed: re.Pattern[str] = TEACHER_COMMANDS) -> None:
        self._data_dir = data_dir
        self._allowed = allowed

    @property
    def data_dir(self) -> Path:
        """The drive folder."""
        return self._data_dir

    @property
    def timeout_s(self) -> float:
        """Nominal deadline."""
        return 120.0

    @property
    def network(self) -> bool:
        """No network (nominally: nothing here reaches one)."""
        return False

    def _refusal(self, code: str) -> str | None:
        """Why ``code`` is not run, or ``None``: only toolkit cells, only allowed commands."""
        if code.startswith("def __gx_apply_patch("):
            return None
        if not code.startswith("def __gx_shell("):
            return "the offline sandbox runs only the coding toolkit's cells"
        command = _shell_command(code)
        if command is None or not self._allowed.fullmatch(command):
            return f"the offline sandbox runs only the teacher's commands, not {command!r}"
        return None

    async def execute(self, code: str, *, timeout_s: float | None = None) -> ExecutionResult:
        """Run one toolkit cell in a fresh host interpreter (this one's, without ``site``)."""
        refusal = self._refusal(code)
        if refusal is not None:
            return ExecutionResult(ExecutionStatus.ERROR, detail=refusal,
                                   error=ExceptionInfo("PermissionError", refusal, refusal))
        workspace = str(self._data_dir / "workspace")
        cell = code.replace(repr(WORKSPACE_IN_CONTAINER), repr(workspace))
        with tempfile.NamedTemporaryFile(suffix=".json") as error_file:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-S", "-c", _RUNNER, error_file.name, cwd=self._data_dir,
                env=_cell_environment(),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE)
            out, err = await process.communicate(cell.encode("utf-8"))
            raised = error_file.read().decode("utf-8")
        stdout, stderr = out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
        if raised:
            info = json.loads(raised)
            return ExecutionResult(ExecutionStatus.ERROR, stdout=stdout, stderr=stderr,
                                   error=ExceptionInfo(info["name"], info["message"], ""))
        return ExecutionResult(ExecutionStatus.OK, stdout=stdout, stderr=stderr)

    async def close(self) -> None:
        """Nothing to close."""


def _cell_environment() -> dict[str, str]:
    """The environment of a cell: this interpreter's folder first on ``PATH`` (so the
    ``python3`` of a command is a real interpreter, not a slow version-manager shim)."""
    folder = str(Path(sys.executable).parent)
    return {**os.environ, "PATH": f"{folder}{os.pathsep}{os.environ.get('PATH', '')}"}


def _shell_command(code: str) -> str | None:
    """The command a shell cell runs (the first argument of its ``__gx_shell`` call)."""
    for node in ast.walk(ast.parse(code)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id == "__gx_shell" and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)):
            return node.args[0].value
    return None


def write_project(project: Project, folder: Path) -> Path:
    """Write the project's files into ``folder`` (created); returns it."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in project.files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def coding_tools(project: Project, *, python: PythonTool | None = None,
                 offline: bool = True, folder: Path | None = None
                 ) -> tuple[list[Any], CodingToolkit]:
    """``[python, apply_patch, shell]`` on a copy of ``project``, and the toolkit.

    Args:
        project: The bugged project.
        python: A python tool to share (Docker); default a new one.
        offline: With no ``python`` given: host cells (:class:`HostCellSandbox`, teacher
            only) rather than the Docker sandbox.
        folder: Where the copy and the drives go (the caller removes it); default a new
            temporary folder, left for the caller to inspect.
    """
    folder = folder or Path(tempfile.mkdtemp(prefix="tiny-coding-"))
    source = write_project(project, folder / "project")
    if python is None:
        python = PythonTool(data_dir=folder / "drives",
                            sandbox_factory=(lambda _sid, path: HostCellSandbox(path))
                            if offline else None)
    toolkit = CodingToolkit(python, source)
    return [python, *toolkit.tools()], toolkit


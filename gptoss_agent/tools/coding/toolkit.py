"""Tools for coding agents that act inside the sandbox workspace, never on the host.

:class:`CodingToolkit` gives the model two function tools bound to the python tool's
per-session sandbox:

* ``functions.apply_patch(patch)``: a V4A patch, applied *inside the container* by
  :mod:`gptoss_agent.tools.coding.v4a` (sent in as source; standard library only), so a
  symlink the model planted cannot make a write land on the host;
* ``functions.shell(command, timeout_s)``: a bash command in the workspace, under the
  sandbox's limits, killed with its whole process group at the deadline.

The workspace is ``/mnt/data/workspace`` in the container. A host project folder is
*copied* into it when a session starts (the original is untouched); afterwards the
agent's changes can be exported as a unified diff or copied back on request. Mounting
the project read-write instead (``mounted=True``) is an explicit opt-in.
"""

from __future__ import annotations

import difflib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from gptoss_agent.tools.base import ToolContext, ToolResult
from gptoss_agent.tools.coding import v4a
from gptoss_agent.tools.function_tool import FunctionTool, function_tool

WORKSPACE_IN_CONTAINER = "/mnt/data/workspace"
_IGNORED_DIRS = {".git", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache",
                 ".venv", "node_modules"}


class SandboxProvider(Protocol):
    """What the toolkit needs from the python tool: a session's sandbox and its drive."""

    def sandbox(self, session_id: str) -> Any:
        """The session's sandbox (created on first use)."""
        ...

    def data_dir(self, session_id: str) -> Path:
        """The host folder that is ``/mnt/data`` in the session's container."""
        ...

    def put_file(self, session_id: str, name: str, data: bytes | str) -> Path:
        """Write ``/mnt/data/<name>`` without following links the sandbox planted."""
        ...


def _v4a_source() -> str:
    return Path(v4a.__file__).read_text(encoding="utf-8")


def _apply_code(patch: str, root: str) -> str:
    return (
        "import sys as __gx_sys, types as __gx_types\n"
        "__gx = __gx_types.ModuleType('gptoss_v4a')\n"
        "__gx_sys.modules['gptoss_v4a'] = __gx\n"
        f"exec(compile({_v4a_source()!r}, 'gptoss_v4a', 'exec'), __gx.__dict__)\n"
        "try:\n"
        f"    print(__gx.summarise(__gx.apply_patch({patch!r}, __gx.FileSystem({root!r}))))\n"
        "finally:\n"
        "    del __gx_sys.modules['gptoss_v4a']\n"
        "    del __gx, __gx_sys, __gx_types\n"
    )


def _shell_code(command: str, root: str, timeout_s: float) -> str:
    return (
        "import os as __gx_os, signal as __gx_signal, subprocess as __gx_sp\n"
        f"__gx_p = __gx_sp.Popen(['bash', '-c', {command!r}], cwd={root!r}, "
        "stdin=__gx_sp.DEVNULL, start_new_session=True)\n"
        "try:\n"
        f"    __gx_code = __gx_p.wait(timeout={timeout_s!r})\n"
        "    print(f'[exit code {__gx_code}]')\n"
        "except __gx_sp.TimeoutExpired:\n"
        "    __gx_os.killpg(__gx_p.pid, __gx_signal.SIGKILL)\n"
        "    __gx_p.wait()\n"
        f"    print('[killed after {timeout_s:g} seconds]')\n"
        "finally:\n"
        "    del __gx_os, __gx_signal, __gx_sp, __gx_p\n"
    )


def _walk_files(root: Path) -> Iterator[Path]:
    """Regular files under ``root`` (relative paths); symlinks are never followed."""
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs[:] = sorted(d for d in dirs if d not in _IGNORED_DIRS)
        for name in sorted(files):
            path = Path(folder) / name
            if path.is_file() and not path.is_symlink():
                yield path.relative_to(root)


def _give_to_drive_owner(folder: Path, drive: Path) -> None:
    """Make copied files belong to the drive's owner (the sandbox user), so code in the
    container can change them; links are never followed."""
    if os.geteuid() != 0:
        return
    owner = os.stat(drive)
    for parent, dirs, files in os.walk(folder, followlinks=False):
        os.lchown(parent, owner.st_uid, owner.st_gid)
        for name in dirs + files:
            os.lchown(os.path.join(parent, name), owner.st_uid, owner.st_gid)


def _read_text(path: Path) -> list[str] | None:
    try:
        return path.read_text(encoding="utf-8").splitlines(keepends=True)
    except (UnicodeDecodeError, OSError):
        return None


def project_mount(project: str | os.PathLike[str]) -> tuple[str, str]:
    """The ``SandboxConfig.extra_mounts`` entry that mounts ``project`` as the workspace."""
    return (str(Path(project).resolve()), WORKSPACE_IN_CONTAINER)


class CodingToolkit:
    """``apply_patch`` and ``shell`` for one python tool's sessions.

    Args:
        python: The python tool whose sandboxes the commands run in.
        project: A host folder copied into each session's workspace, or ``None`` for an
            empty workspace.
        shell_timeout_s: Default deadline of a shell command.
        mounted: The project is bind-mounted read-write at the workspace path (the python
            tool was configured with it: :func:`project_mount`) instead of copied. The
            agent then edits the project in place; there is nothing to diff or apply back.
    """

    def __init__(self, python: SandboxProvider, project: str | os.PathLike[str] | None = None,
                 *, shell_timeout_s: float = 120.0, mounted: bool = False) -> None:
        self.python = python
        self.project = Path(project).resolve() if project is not None else None
        if self.project is not None and not self.project.is_dir():
            raise ValueError(f"project folder {self.project} does not exist")
        if mounted and self.project is None:
            raise ValueError("mounted=True needs a project folder")
        self.shell_timeout_s = shell_timeout_s
        self.mounted = mounted
        self._prepared: set[str] = set()

    def workspace(self, session_id: str) -> Path:
        """The host folder holding the session's workspace."""
        if self.mounted and self.project is not None:
            return self.project
        return self.python.data_dir(session_id) / "workspace"

    def prepare(self, session_id: str) -> Path:
        """Copy the project into the session's workspace (once per session)."""
        target = self.workspace(session_id)
        if session_id in self._prepared or self.mounted:
            return target
        if self.project is not None:
            for relative in _walk_files(self.project):
                self.python.put_file(session_id, f"workspace/{relative.as_posix()}",
                                     (self.project / relative).read_bytes())
        else:
            self.python.put_file(session_id, "workspace/.keep", b"")
        _give_to_drive_owner(target, self.python.data_dir(session_id))
        self._prepared.add(session_id)
        return target

    def diff(self, session_id: str) -> str:
        """The agent's changes as a unified diff against the original project
        (empty when the project is mounted: the changes are already in it)."""
        if self.mounted:
            return ""
        workspace = self.workspace(session_id)
        original = self.project
        before = set(_walk_files(original)) if original is not None else set()
        after = set(_walk_files(workspace)) if workspace.exists() else set()
        chunks: list[str] = []
        for relative in sorted(before | after):
            old = _read_text(original / relative) if original and relative in before else []
            new = _read_text(workspace / relative) if relative in after else []
            if old is None or new is None:
                if relative not in before:
                    chunks.append(f"Binary file {relative} added\n")
                elif relative not in after:
                    chunks.append(f"Binary file {relative} deleted\n")
                elif original is not None and (
                    (original / relative).read_bytes() != (workspace / relative).read_bytes()
                ):
                    chunks.append(f"Binary file {relative} changed\n")
                continue
            if relative not in before and not new:
                chunks.append(f"Empty file {relative} added\n")
                continue
            if old != new:
                chunks.extend(difflib.unified_diff(
                    old, new,
                    fromfile=f"a/{relative}" if relative in before else "/dev/null",
                    tofile=f"b/{relative}" if relative in after else "/dev/null",
                ))
        return "".join(chunks)

    def apply_back(self, session_id: str) -> list[str]:
        """Copy the agent's changes onto the original project; returns changed paths."""
        if self.project is None:
            raise ValueError("there is no project folder to apply the changes to")
        if self.mounted:
            return []
        workspace = self.workspace(session_id)
        before = set(_walk_files(self.project))
        after = set(_walk_files(workspace))
        changed: list[str] = []
        for relative in sorted(after):
            source, target = workspace / relative, self.project / relative
            if relative not in before or source.read_bytes() != target.read_bytes():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)
                changed.append(str(relative))
        for relative in sorted(before - after):
            (self.project / relative).unlink()
            changed.append(str(relative))
        return changed

    # ------------------------------------------------------------------ the tools
    async def apply_patch(self, patch: str, context: ToolContext) -> ToolResult:
        """Apply a V4A patch inside the sandbox workspace."""
        self.prepare(context.session_id)
        sandbox = self.python.sandbox(context.session_id)
        result = await sandbox.execute(_apply_code(patch, WORKSPACE_IN_CONTAINER))
        if result.error is not None:
            if result.error.name == "PatchError":
                return ToolResult.error(f"Error: the patch was not applied: "
                                        f"{result.error.message}", kind="patch_failed")
            return ToolResult.error(f"Error: {result.error.name}: {result.error.message}",
                                    kind="patch_failed")
        if not result.ok:
            return ToolResult.error(f"Error: {result.detail or result.status.value}",
                                    kind="patch_failed")
        return ToolResult(text=result.stdout.strip(),
                          metadata={"files": list(result.files_created + result.files_modified)})

    async def shell(self, command: str, timeout_s: float, context: ToolContext) -> ToolResult:
        """Run a bash command in the sandbox workspace."""
        self.prepare(context.session_id)
        sandbox = self.python.sandbox(context.session_id)
        deadline = min(timeout_s, self.shell_timeout_s)
        result = await sandbox.execute(_shell_code(command, WORKSPACE_IN_CONTAINER, deadline),
                                       timeout_s=deadline + 10)
        text = result.stdout
        if result.stderr:
            text += ("" if text.endswith("\n") or not text else "\n") + result.stderr
        if result.detail:
            text += f"\n{result.detail}"
        failed = not result.ok or "[exit code 0]" not in result.stdout.splitlines()[-1:]
        return ToolResult(text=text.strip() or "(no output)", is_error=False,
                          metadata={"failed": failed})

    def tools(self) -> list[FunctionTool]:
        """The function tools to give the agent."""
        toolkit = self

        async def apply_patch(patch: str, context: ToolContext) -> ToolResult:
            """Apply a patch to files in the workspace (the current directory of shell).

            Use the V4A format: '*** Begin Patch', then per file '*** Add File: path'
            (lines prefixed '+'), '*** Update File: path' (optional '*** Move to: new',
            then '@@ anchor' hunks of ' ' context, '-' removed and '+' added lines) or
            '*** Delete File: path', then '*** End Patch'. Paths are relative.

            Args:
                patch: The whole patch text.
            """
            return await toolkit.apply_patch(patch, context)

        async def shell(command: str, context: ToolContext, timeout_s: float = 60.0
                        ) -> ToolResult:
            """Run a bash command in the workspace and return its output and exit code.

            Args:
                command: The command line, e.g. "python -m pytest -q".
                timeout_s: Seconds before the command is killed.
            """
            return await toolkit.shell(command, timeout_s, context)

        return [
            function_tool(timeout_s=None)(apply_patch),
            function_tool(timeout_s=None)(shell),
        ]

"""Tools for coding agents that act inside the sandbox workspace, never on the host.

:class:`CodingToolkit` gives the model two function tools bound to the python tool's
per-session sandbox:

* ``functions.apply_patch(patch)``: a V4A patch (:mod:`gptoss_agent.tools.coding.v4a`),
  checked on the host and applied *inside the container* (:mod:`.cells`), so a symlink
  the model planted cannot make a write land on the host;
* ``functions.shell(command, timeout_s)``: a bash command in the workspace, under the
  sandbox's limits, killed with its whole process group at the deadline.

A call the model wrote wrongly (a malformed patch, an empty command, a deadline that is
not positive) comes back as ``ToolResult.invalid``; a well-formed patch that does not
apply comes back as ``ToolResult.error``; a command that fails is reported, not an error.

The workspace is ``/mnt/data/workspace`` in the container. A host project folder is
*copied* into it when a session starts (the original is untouched); afterwards the
agent's changes can be exported as a unified diff or copied back on request
(:mod:`.workspace`). Mounting the project read-write instead (``mounted=True``) is an
explicit opt-in.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Protocol

from gptoss_agent.tools.base import ToolContext, ToolResult
from gptoss_agent.tools.coding.cells import patch_cell, shell_cell
from gptoss_agent.tools.coding.v4a import PatchError, parse_patch
from gptoss_agent.tools.coding.workspace import (
    copy_back,
    give_to_drive_owner,
    unified_diff,
    walk_files,
)
from gptoss_agent.tools.errors import ToolConfigError
from gptoss_agent.tools.function import FunctionTool, function_tool

WORKSPACE_IN_CONTAINER = "/mnt/data/workspace"
"""Where the workspace is inside the container (the shell's working directory)."""


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

    Raises:
        ToolConfigError: The project folder does not exist, or ``mounted`` has none.
    """

    def __init__(self, python: SandboxProvider, project: str | os.PathLike[str] | None = None,
                 *, shell_timeout_s: float = 120.0, mounted: bool = False) -> None:
        self.python = python
        self.project = Path(project).resolve() if project is not None else None
        if self.project is not None and not self.project.is_dir():
            raise ToolConfigError(f"project folder {self.project} does not exist")
        if mounted and self.project is None:
            raise ToolConfigError("mounted=True needs a project folder")
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
            for relative in walk_files(self.project):
                self.python.put_file(session_id, f"workspace/{relative.as_posix()}",
                                     (self.project / relative).read_bytes())
        else:
            self.python.put_file(session_id, "workspace/.keep", b"")
        give_to_drive_owner(target, self.python.data_dir(session_id))
        self._prepared.add(session_id)
        return target

    def diff(self, session_id: str) -> str:
        """The agent's changes as a unified diff against the original project.

        Empty when the project is mounted: the changes are already in it.
        """
        if self.mounted:
            return ""
        return unified_diff(self.project, self.workspace(session_id))

    def apply_back(self, session_id: str) -> list[str]:
        """Copy the agent's changes onto the original project; returns changed paths.

        Raises:
            ToolConfigError: The toolkit has no project folder.
        """
        if self.project is None:
            raise ToolConfigError("there is no project folder to apply the changes to")
        if self.mounted:
            return []
        return copy_back(self.workspace(session_id), self.project)

    # ------------------------------------------------------------------ the tools
    async def apply_patch(self, patch: str, context: ToolContext) -> ToolResult:
        """Apply a V4A patch inside the sandbox workspace.

        The patch is parsed on the host first: a malformed one is an invalid call and
        never reaches the sandbox.
        """
        try:
            parse_patch(patch)
        except PatchError as exc:
            return ToolResult.invalid(f"Error: the patch is malformed: {exc}",
                                      kind="invalid_arguments")
        self.prepare(context.session_id)
        sandbox = self.python.sandbox(context.session_id)
        result = await sandbox.execute(patch_cell(patch, WORKSPACE_IN_CONTAINER))
        if result.error is not None:
            if result.error.name == PatchError.__name__:
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
        """Run a bash command in the sandbox workspace.

        A failing command is reported to the model (``metadata["failed"]``), not an
        error; an empty command or a deadline that is not positive is an invalid call.
        """
        if not command.strip():
            return ToolResult.invalid("Error: the command is empty.", kind="invalid_arguments")
        if not math.isfinite(timeout_s) or timeout_s <= 0:
            return ToolResult.invalid(f"Error: timeout_s must be a positive number of seconds, "
                                      f"not {timeout_s!r}.", kind="invalid_arguments")
        self.prepare(context.session_id)
        sandbox = self.python.sandbox(context.session_id)
        deadline = min(timeout_s, self.shell_timeout_s)
        result = await sandbox.execute(shell_cell(command, WORKSPACE_IN_CONTAINER, deadline),
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
                context: The session the call belongs to (filled in by the loop).
            """
            return await toolkit.apply_patch(patch, context)

        async def shell(command: str, context: ToolContext, timeout_s: float = 60.0
                        ) -> ToolResult:
            """Run a bash command in the workspace and return its output and exit code.

            Args:
                command: The command line, e.g. "python -m pytest -q".
                context: The session the call belongs to (filled in by the loop).
                timeout_s: Seconds before the command is killed.
            """
            return await toolkit.shell(command, timeout_s, context)

        return [
            function_tool(timeout_s=None)(apply_patch),
            function_tool(timeout_s=None)(shell),
        ]

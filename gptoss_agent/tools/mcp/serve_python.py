"""``mcp serve python``: the python sandbox as an MCP tool, one notebook per MCP session.

:class:`PythonToolset` offers one MCP tool, ``python`` (input ``{"code": "..."}``),
backed by :class:`~gptoss_agent.tools.python_tool.PythonTool`: each MCP session gets its
own container with a persistent kernel, so variables, imports and ``/mnt/data`` persist
between its calls. Every limit of the :class:`~gptoss_agent.sandbox.SandboxConfig`
applies (the per-call timeout, memory, CPU, processes, the drive quota); the network is
off unless the config turns it on. A result is what the notebook shows; a traceback, a
timeout or a broken sandbox comes back with ``isError``.

Without a data folder the drives are temporary: a session's drive is deleted when the
session ends, the whole folder when the server stops. With one, ``DIR/<session id>``
is kept (over stdio, ``DIR/mcp-stdio``).
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types

from gptoss_agent.sandbox import SandboxConfig, SandboxError
from gptoss_agent.tools.base import ToolCall, ToolContext
from gptoss_agent.tools.errors import ToolConfigError, ToolUnavailableError
from gptoss_agent.tools.python_tool import PythonTool, SandboxFactory, session_folder_name

DESCRIPTION = (
    "Run Python code as the next cell of a stateful notebook in a hardened Docker sandbox, "
    "and get back what the notebook shows: stdout, stderr, the value of a trailing "
    "expression, or the traceback. Variables, imports and files persist between calls of "
    "the same MCP session (each session has its own sandbox); save files under /mnt/data. "
    "A call times out after {timeout:g} seconds (the code is interrupted and the call "
    "fails); memory is limited to {memory} MB; internet access is {internet}."
)

INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "code": {"type": "string", "description": "Python source to run as the next cell."}
    },
    "required": ["code"],
    "additionalProperties": False,
}


def check_sandbox(config: SandboxConfig) -> None:
    """Fail early when the Docker engine or the sandbox image is missing (blocking).

    Raises:
        ToolUnavailableError: The engine cannot be reached or the image is not built.
    """
    from gptoss_agent.sandbox.engine import Engine, docker_py_installed
    from gptoss_agent.sandbox.image import image_status

    if not docker_py_installed():
        raise ToolUnavailableError("the python sandbox needs docker-py (pip install 'docker>=7')")
    try:
        engine = Engine.connect(config.docker_host, min(config.limits.api_timeout_s, 10.0))
    except SandboxError as exc:
        raise ToolUnavailableError(str(exc)) from exc
    try:
        present = image_status(engine, config.image).present
    except SandboxError as exc:
        raise ToolUnavailableError(str(exc)) from exc
    finally:
        engine.close()
    if not present:
        raise ToolUnavailableError(
            f"the sandbox image {config.image} is not in the Docker engine "
            "(build it with: gptoss-agent sandbox build)"
        )


class PythonToolset:
    """The ``python`` MCP tool over :class:`PythonTool`, one sandbox per session id."""

    name = "gptoss-python"
    instructions = (
        "A stateful Python notebook in a sandbox: call the python tool with code; state "
        "persists across calls of this session."
    )

    def __init__(
        self,
        config: SandboxConfig | None = None,
        *,
        data_dir: str | Path | None = None,
        sandbox_factory: SandboxFactory | None = None,
    ) -> None:
        """Serve sandboxes made from ``config``.

        Args:
            config: Image, limits and network of every session's sandbox.
            data_dir: Keep each session's drive at ``data_dir/<session id>``; ``None``
                uses a temporary folder, deleted as sessions end and at stop.
            sandbox_factory: Makes a session's sandbox (tests swap it).

        Raises:
            ToolConfigError: ``data_dir`` exists and is not a folder.
        """
        self.config = config or SandboxConfig()
        self._keep_drives = data_dir is not None
        if data_dir is None:
            root = Path(tempfile.mkdtemp(prefix="gptoss-mcp-python-"))
        else:
            root = Path(data_dir).absolute()
            if root.exists() and not root.is_dir():
                raise ToolConfigError(f"--data-dir {root} exists and is not a folder")
            root.mkdir(parents=True, exist_ok=True)
        self.data_root = root
        self._tool = PythonTool(self.config, data_dir=root, sandbox_factory=sandbox_factory)
        self._call_ids = itertools.count(1)

    def tools(self) -> list[types.Tool]:
        """The one tool, ``python``, described with the real timeout, memory and network."""
        limits = self.config.limits
        description = DESCRIPTION.format(
            timeout=limits.timeout_s,
            memory=limits.memory_mb,
            internet="enabled" if self.config.network else "disabled",
        )
        annotations = types.ToolAnnotations(
            title="Python sandbox",
            read_only_hint=False,
            destructive_hint=False,
            idempotent_hint=False,
            open_world_hint=self.config.network,
        )
        return [types.Tool(name="python", description=description,
                           input_schema=INPUT_SCHEMA, annotations=annotations)]

    async def start(self) -> None:
        """Check that the engine answers and the image is there."""
        await anyio.to_thread.run_sync(check_sandbox, self.config)

    async def call(
        self, session_id: str, name: str, arguments: Mapping[str, Any]
    ) -> types.CallToolResult:
        """Run ``arguments["code"]`` in the session's notebook."""
        code = arguments.get("code")
        if not isinstance(code, str) or set(arguments) != {"code"}:
            return _text('The python tool takes {"code": "<Python source>"}.', error=True)
        call = ToolCall(f"mcp-{next(self._call_ids)}", "python", None, code)
        context = ToolContext(session_id, timeout_s=self.config.limits.timeout_s)
        try:
            result = await self._tool.call(call, context)
        except ToolUnavailableError as exc:
            return _text(str(exc), error=True)
        return _text(result.text, error=result.is_error)

    async def close_session(self, session_id: str) -> None:
        """Remove the session's container; delete its drive unless drives are kept."""
        await self._tool.close_session(session_id)
        if not self._keep_drives:
            folder = self.data_root / session_folder_name(session_id)
            await anyio.to_thread.run_sync(_remove_tree, folder)

    async def aclose(self) -> None:
        """Remove every container; delete the temporary drives."""
        await self._tool.aclose()
        if not self._keep_drives:
            await anyio.to_thread.run_sync(_remove_tree, self.data_root)


def _text(text: str, *, error: bool = False) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=text)], is_error=error
    )


def _remove_tree(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)

"""How to reach one MCP server: a command over stdio or a Streamable HTTP URL.

:class:`MCPServerConfig` is the typed value the task file's ``tools.mcp`` section and the
library both build. It checks itself when made, so a server that cannot work is refused
before anything starts. It imports nothing of the ``mcp`` SDK.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from gptoss_agent.tools.errors import ToolConfigError

DEFAULT_TIMEOUT_S = 60.0
DEFAULT_STARTUP_TIMEOUT_S = 30.0
DEFAULT_MAX_RESULT_BYTES = 64 * 1024
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _frozen(value: Mapping[str, str] | None, what: str, name: str) -> Mapping[str, str]:
    items = dict(value or {})
    for key, item in items.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise ToolConfigError(f"MCP server {name!r}: {what} must map strings to strings, "
                                  f"not {key!r}: {item!r}")
    return MappingProxyType(items)


@dataclass(frozen=True)
class MCPServerConfig:
    """One MCP server: where it is and how its tools are shown to the model.

    Give either ``command`` (with ``args``, ``env``, ``cwd``: a server started as a child
    process and spoken to over stdio) or ``url`` (with ``headers``: a Streamable HTTP
    endpoint), never both.

    Attributes:
        name: The group's name, an identifier (``git``): the prefix of its functions
            (``functions.git_status``) or its own namespace (``git.status``).
        command: The program that serves MCP on its stdin/stdout.
        args: Its arguments.
        env: Extra environment variables for it, over a small safe inherited set
            (``PATH``, ``HOME``, ...), as the SDK does. Not shown in ``repr``.
        cwd: Its working directory.
        url: A Streamable HTTP endpoint (``http://host:port/mcp``).
        headers: HTTP headers sent with every request (an ``Authorization`` token). Not
            shown in ``repr``.
        prefixed: Show the tools inside ``functions`` as ``<name>_<tool>`` (the
            default); ``False`` shows them as their own namespace ``<name>``.
        timeout_s: The longest one call may take; the loop's own deadline for the call,
            when shorter, wins.
        startup_timeout_s: The longest the server may take to start and list its tools.
        max_result_bytes: The most UTF-8 bytes of one result the model reads; a longer
            result is cut, with a note saying so.

    Raises:
        ToolConfigError: (a ``ValueError``) Both or neither of ``command`` and ``url``,
            a name that is not an identifier, a timeout that is not positive, or
            stdio settings given for a URL (or headers for a command).
    """

    name: str
    command: str | None = None
    args: Sequence[str] = ()
    env: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), repr=False)
    cwd: str | os.PathLike[str] | None = None
    url: str | None = None
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}),
                                       repr=False)
    prefixed: bool = True
    timeout_s: float = DEFAULT_TIMEOUT_S
    startup_timeout_s: float = DEFAULT_STARTUP_TIMEOUT_S
    max_result_bytes: int = DEFAULT_MAX_RESULT_BYTES

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _IDENTIFIER.match(self.name):
            raise ToolConfigError(
                f"MCP server name {self.name!r} must be an identifier (letters, digits and _, "
                "not starting with a digit): it becomes the prefix or namespace of its tools")
        self._check_transport()
        for what in ("timeout_s", "startup_timeout_s"):
            value = getattr(self, what)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ToolConfigError(f"MCP server {self.name!r}: {what} must be a positive "
                                      f"number of seconds, not {value!r}")
        if isinstance(self.max_result_bytes, bool) or not isinstance(self.max_result_bytes, int) \
                or self.max_result_bytes < 1024:
            raise ToolConfigError(f"MCP server {self.name!r}: max_result_bytes must be an "
                                  f"integer of at least 1024, not {self.max_result_bytes!r}")
        if isinstance(self.args, str) or not all(isinstance(a, str) for a in self.args):
            raise ToolConfigError(f"MCP server {self.name!r}: args must be a list of strings")
        object.__setattr__(self, "args", tuple(self.args))
        object.__setattr__(self, "env", _frozen(self.env, "env", self.name))
        object.__setattr__(self, "headers", _frozen(self.headers, "headers", self.name))
        if self.cwd is not None:
            object.__setattr__(self, "cwd", os.fspath(self.cwd))

    def _check_transport(self) -> None:
        if (self.command is None) == (self.url is None):
            raise ToolConfigError(
                f"MCP server {self.name!r} needs exactly one of command (a stdio server) or "
                f"url (a Streamable HTTP server); it has "
                f"{'both' if self.command is not None else 'neither'}")
        if self.command is not None:
            if not isinstance(self.command, str) or not self.command.strip():
                raise ToolConfigError(f"MCP server {self.name!r}: command must be a program")
            if self.headers:
                raise ToolConfigError(f"MCP server {self.name!r}: headers are for a url "
                                      "server, not a command")
            return
        if not isinstance(self.url, str) or not self.url.startswith(("http://", "https://")):
            raise ToolConfigError(f"MCP server {self.name!r}: url must be an http:// or "
                                  f"https:// address, not {self.url!r}")
        if self.args or self.env or self.cwd is not None:
            raise ToolConfigError(f"MCP server {self.name!r}: args, env and cwd are for a "
                                  "command server, not a url")

    @property
    def transport(self) -> Literal["stdio", "http"]:
        """``stdio`` for a command, ``http`` for a URL."""
        return "stdio" if self.command is not None else "http"

    @property
    def where(self) -> str:
        """The command line or URL, for messages (header values are never shown)."""
        if self.command is not None:
            return " ".join([self.command, *self.args])
        return str(self.url)

"""``mcp serve browser``: the browser's ``search``, ``open`` and ``find`` as MCP tools.

:class:`BrowserToolset` offers the three functions of
:class:`~gptoss_agent.tools.browser.BrowserTool` under their own names, with the JSON
schemas and descriptions gpt-oss was trained with; the server's instructions are the
browser namespace's (cursors, citations). One Chromium serves every session; each MCP
session has its own browser context and page stack, so cursors and ``find`` refer to
that session's pages. Every request goes through the browser's egress policy: private,
loopback and link-local addresses are refused unless allowlisted
(:attr:`BrowserConfig.allowlist`).

:func:`search_backend` builds the search backend the command line names.
"""

from __future__ import annotations

import copy
import itertools
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import mcp_types as types

from gptoss_agent.tools.base import ToolCall, ToolContext
from gptoss_agent.tools.browser import (
    BROWSER_SPEC,
    BraveSearchBackend,
    BrowserConfig,
    BrowserTool,
    LocalCorpusBackend,
    SearchBackend,
    SearxngBackend,
)
from gptoss_agent.tools.browser.allowlist import Allowlist
from gptoss_agent.tools.errors import ToolConfigError

SEARCH_KINDS = ("local", "searxng", "brave")
BRAVE_KEY_ENV = "BRAVE_SEARCH_API_KEY"
_TITLES = {"search": "Web search", "open": "Open a page", "find": "Find in page"}


def search_backend(
    kind: str | None, *, corpus: str | Path | None = None, url: str | None = None
) -> SearchBackend | None:
    """The backend for ``--search KIND`` (``None``: ``search`` says none is configured).

    Raises:
        ToolConfigError: A setting is missing, does not belong to ``kind``, or is wrong.
    """
    if kind is not None and kind not in SEARCH_KINDS:
        raise ToolConfigError(f"--search must be one of {', '.join(SEARCH_KINDS)}, got {kind!r}")
    if corpus is not None and kind != "local":
        raise ToolConfigError("--corpus goes with --search local")
    if url is not None and kind != "searxng":
        raise ToolConfigError("--url goes with --search searxng")
    if kind == "local":
        if corpus is None:
            raise ToolConfigError("--search local needs --corpus DIR")
        if not Path(corpus).is_dir():
            raise ToolConfigError(f"--corpus {corpus}: not a folder")
        return LocalCorpusBackend(corpus)
    if kind == "searxng":
        if url is None or urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
            raise ToolConfigError("--search searxng needs --url http(s)://HOST[:PORT]")
        return SearxngBackend(url.rstrip("/"))
    if kind == "brave":
        if not os.environ.get(BRAVE_KEY_ENV):
            raise ToolConfigError(f"--search brave needs the {BRAVE_KEY_ENV} environment variable")
        return BraveSearchBackend()
    return None


def check_allowlist(entries: Iterable[str]) -> tuple[str, ...]:
    """The ``--allow`` entries, checked.

    Each is a host name, ``*.domain``, an address or a network, optionally with
    ``:port`` (that port only).

    Raises:
        ToolConfigError: An entry is a URL or a path, has a bad port, or is empty.
    """
    checked = tuple(raw.strip() for raw in entries)
    for entry in checked:
        if not entry or " " in entry:
            raise ToolConfigError(f"--allow {entry!r}: give a host name, *.domain, an address "
                                  "or a network, optionally with :port")
        try:
            Allowlist.parse([entry])
        except ToolConfigError as exc:
            raise ToolConfigError(f"--allow: {exc}") from None
    return checked


class BrowserToolset:
    """The browser's three functions as MCP tools, one context and page stack per session."""

    name = "gptoss-browser"
    instructions = BROWSER_SPEC.description

    def __init__(self, backend: SearchBackend | None = None,
                 config: BrowserConfig | None = None) -> None:
        """Serve a :class:`BrowserTool` with ``backend`` for search and ``config``."""
        self._tool = BrowserTool(backend, config)
        self._call_ids = itertools.count(1)

    @property
    def tool(self) -> BrowserTool:
        """The browser tool behind the server."""
        return self._tool

    def tools(self) -> list[types.Tool]:
        """``search``, ``open`` and ``find`` with the browser's own schemas."""
        tools = []
        for function in BROWSER_SPEC.functions:
            schema = copy.deepcopy(dict(function.parameters or {"type": "object"}))
            schema.setdefault("properties", {})
            annotations = types.ToolAnnotations(
                title=_TITLES.get(function.name), read_only_hint=True, open_world_hint=True
            )
            tools.append(types.Tool(name=function.name, description=function.description,
                                    input_schema=schema, annotations=annotations))
        return tools

    async def start(self) -> None:
        """Launch Chromium now, so a missing or broken browser stops the server at start."""
        await self._tool.chromium.ensure_browser()

    async def call(
        self, session_id: str, name: str, arguments: Mapping[str, Any]
    ) -> types.CallToolResult:
        """Run ``browser.<name>`` on the session's page stack."""
        call = ToolCall(f"mcp-{next(self._call_ids)}", "browser", name,
                        json.dumps(dict(arguments)))
        result = await self._tool.call(call, ToolContext(session_id))
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=result.text)], is_error=result.is_error
        )

    async def close_session(self, session_id: str) -> None:
        """Close the session's browser context and drop its pages."""
        await self._tool.close_session(session_id)
        self._tool.restore(session_id, {})

    async def aclose(self) -> None:
        """Close every context, Chromium and the search backend."""
        await self._tool.aclose()

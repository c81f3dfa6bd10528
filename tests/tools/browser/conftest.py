"""Fixtures for the browser tests: the local site, the trap, Chromium and the tools.

Every tool here resolves from :attr:`LocalWeb.host_map` alone (``resolve="map"``): a
name outside it is an unknown host, and the system resolver is never asked.

Browser tests skip when Playwright or Chromium is missing -- except under CI (``CI`` set),
where a missing browser fails them: CI installs Chromium and must run these tests.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from gptoss_agent.tools.base import ToolContext
from gptoss_agent.tools.browser import BrowserConfig, BrowserTool, LocalCorpusBackend
from gptoss_agent.tools.browser.config import find_chromium
from tests.support import require_or_skip
from tests.tools.browser.site import Site, TrapServer, serve_site


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Chromium's path; skips (locally) or fails (in CI) when the browser is missing."""
    problem = None
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        problem = "the playwright package is not installed"
    path = find_chromium()
    if problem is None and (path is None or not os.access(path, os.X_OK)):
        problem = "no Chromium executable found (install Debian's chromium package)"
    require_or_skip(problem is None, f"browser tests cannot run: {problem}")
    assert path is not None
    return path


@dataclass
class LocalWeb:
    """The servers a browser test talks to."""

    site: Site
    port: int
    trap: TrapServer

    def url(self, path: str) -> str:
        return f"http://site.test:{self.port}{path}"

    @property
    def host_map(self) -> dict[str, str]:
        """The names the tests use; with ``resolve="map"`` nothing else resolves."""
        return {
            "site.test": "127.0.0.1",
            "evil.test": "127.0.0.1",
            "other.test": "127.0.0.1",
            "localhost": "127.0.0.1",  # what /etc/hosts says, without asking the system
        }


def site_config(chromium_path: str, web: LocalWeb, **changes: Any) -> BrowserConfig:
    """Chromium on the test site: ``site.test`` allowed, names from the fixed map only."""
    return BrowserConfig(executable_path=chromium_path, allowlist=("site.test",),
                         host_map=web.host_map, resolve="map", **changes)


@pytest.fixture(scope="session")
def web() -> Iterator[LocalWeb]:
    trap = TrapServer()
    site = Site(trap_port=trap.port)
    server, port = serve_site(site)
    yield LocalWeb(site=site, port=port, trap=trap)
    site.release_slow.set()
    server.shutdown()
    trap.shutdown()


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory, web: LocalWeb) -> Path:
    folder = tmp_path_factory.mktemp("corpus")
    (folder / "lighthouse.md").write_text(
        "# Lighthouse keeping\n\nKeepers trimmed the wick of the lamp every night.\n"
        "The Fresnel lens focused the beam.\n"
    )
    (folder / "alpha.html").write_text(
        "<html><head><title>Alpha page</title>"
        f"<link rel='canonical' href='{web.url('/target-a')}'></head>"
        "<body><p>Alpha content lives here, by the harbour.</p></body></html>"
    )
    return folder


@pytest_asyncio.fixture(loop_scope="session", scope="session")
async def browser_tool(
    chromium_path: str, web: LocalWeb, corpus_dir: Path
) -> AsyncIterator[BrowserTool]:
    tool = BrowserTool(
        LocalCorpusBackend(corpus_dir),
        site_config(chromium_path, web, load_timeout_s=30.0),
    )
    yield tool
    await tool.aclose()


@pytest_asyncio.fixture(loop_scope="session", scope="session")
async def strict_tool(chromium_path: str, web: LocalWeb) -> AsyncIterator[BrowserTool]:
    """Short load limit and a 1 MiB response cap, for the slow and oversized pages."""
    tool = BrowserTool(
        None,
        site_config(chromium_path, web, load_timeout_s=2.0, max_response_bytes=1024 * 1024),
    )
    yield tool
    await tool.aclose()


@pytest.fixture(scope="session")
def full_chromium_path() -> str:
    """The full browser's path (what a run with a window drives), not the headless shell."""
    path = find_chromium(headless=False)
    full = path is not None and "headless-shell" not in path and os.access(path, os.X_OK)
    require_or_skip(full, "no full Chromium found (install Debian's chromium package)")
    assert path is not None
    return path


def _hostile_tool(chromium_path: str, web: LocalWeb) -> BrowserTool:
    return BrowserTool(
        None,
        site_config(
            chromium_path,
            web,
            load_timeout_s=6.0,
            operation_timeout_s=3.0,
            hang_probe_s=0.75,
            max_dialogs=5,
            max_html_chars=500_000,
        ),
    )


@pytest_asyncio.fixture(loop_scope="session", scope="session")
async def hostile_tool(chromium_path: str, web: LocalWeb) -> AsyncIterator[BrowserTool]:
    """Short deadlines and caps, for pages that hang, loop or open windows."""
    tool = _hostile_tool(chromium_path, web)
    yield tool
    await tool.aclose()


@pytest_asyncio.fixture(loop_scope="session", scope="session")
async def full_hostile_tool(
    full_chromium_path: str, web: LocalWeb
) -> AsyncIterator[BrowserTool]:
    """:func:`hostile_tool` on the full browser, whose popup blocker lets gestures through."""
    tool = _hostile_tool(full_chromium_path, web)
    yield tool
    await tool.aclose()


@pytest.fixture
def session() -> ToolContext:
    return ToolContext(session_id=f"test-{uuid.uuid4().hex[:8]}")

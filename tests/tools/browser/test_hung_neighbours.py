"""A hung tab next to ordinary ones, on real Chromium: only the hung one is judged.

While one session's page spins (``while (true)``, which also keeps a core busy), the
other sessions keep opening ordinary pages; every one of those opens must succeed, and
the hung tab must be closed as soon as it is judged, not at its session's next open.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from gptoss_agent.tools.base import ToolContext
from gptoss_agent.tools.browser import BrowserTool
from tests.tools.browser.calls import call
from tests.tools.browser.conftest import LocalWeb

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

PAGES = {"/target-a": "Alpha content lives here.", "/target-b": "Bravo content lives here."}


async def _spin_until(
    tool: BrowserTool, web: LocalWeb, session: ToolContext, stop: asyncio.Event
) -> list[str]:
    """Open the hung page again and again until ``stop``; the texts that came back."""
    texts = []
    while not stop.is_set() or not texts:
        result = await call(tool, session, "open", id=web.url("/hang-inline"))
        assert result.is_error, result.text
        texts.append(result.text)
    return texts


async def _ordinary(tool: BrowserTool, web: LocalWeb, rounds: int) -> list[str]:
    """One session opening ordinary pages; what went wrong (nothing, we hope)."""
    session, wrong = ToolContext(session_id=f"neighbour-{uuid.uuid4().hex[:8]}"), []
    try:
        for step in range(rounds):
            path, expected = list(PAGES.items())[step % len(PAGES)]
            result = await call(tool, session, "open", id=web.url(path))
            if result.is_error or expected not in result.text:
                wrong.append(f"{path}: {result.text[:200]}")
    finally:
        await tool.close_session(session.session_id)
    return wrong


async def test_ordinary_pages_in_other_sessions_load_while_one_page_spins(
    hostile_tool: BrowserTool, web: LocalWeb, session: ToolContext
) -> None:
    stop = asyncio.Event()
    spinner = asyncio.ensure_future(_spin_until(hostile_tool, web, session, stop))
    try:
        neighbours = await asyncio.gather(*(_ordinary(hostile_tool, web, 4) for _ in range(4)))
    finally:
        stop.set()
    texts = await spinner
    assert [w for wrong in neighbours for w in wrong] == []
    assert all("stopped responding" in t or "Timed out" in t for t in texts), texts
    after = await call(hostile_tool, session, "open", id=web.url("/target-a"))
    assert not after.is_error and "Alpha content lives here." in after.text


async def test_a_hung_tab_is_closed_without_waiting_for_the_next_open(
    hostile_tool: BrowserTool, web: LocalWeb, session: ToolContext
) -> None:
    assert not (await call(hostile_tool, session, "open", id=web.url("/"))).is_error
    page = hostile_tool.chromium.page_of(session.session_id)
    result = await call(hostile_tool, session, "open", id=web.url("/hang-inline"))
    assert result.is_error and "stopped responding" in result.text
    if not page.is_closed():
        await page.wait_for_event("close")  # closed in the background: its renderer ends
    assert hostile_tool.chromium.page_of(session.session_id) is page  # no new tab yet
    assert page.context.pages == []


@pytest.mark.parametrize("path", ["/alert-loop", "/never-finishes"])
async def test_a_retired_tab_is_closed_at_once_whatever_retired_it(
    hostile_tool: BrowserTool, web: LocalWeb, session: ToolContext, path: str
) -> None:
    result = await call(hostile_tool, session, "open", id=web.url(path))
    assert result.is_error, result.text
    page = hostile_tool.chromium.page_of(session.session_id)
    if not page.is_closed():
        await page.wait_for_event("close")
    after = await call(hostile_tool, session, "open", id=web.url("/target-b"))
    assert not after.is_error and "Bravo content lives here." in after.text

"""Pages that fight back, on real Chromium: hangs, dialog loops, popups, sticky handlers.

Each hostile page is opened in a session, and then the session opens an ordinary page:
that second open must work in a fresh tab (the hung one closed), whatever the first did.
"""

from __future__ import annotations

import pytest

from gptoss_agent.tools.base import ToolContext
from gptoss_agent.tools.browser import BrowserTool
from tests.tools.browser.calls import call
from tests.tools.browser.conftest import LocalWeb

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]


async def _next_open_works(tool: BrowserTool, web: LocalWeb, session: ToolContext) -> None:
    result = await call(tool, session, "open", id=web.url("/target-b"))
    assert not result.is_error, result.text
    assert "Bravo content lives here." in result.text
    page = tool.chromium.page_of(session.session_id)
    assert page is not None
    for old in page.context.pages:
        if old is not page and not old.is_closed():
            await old.wait_for_event("close")  # a replaced tab is closed in the background
    assert page.context.pages == [page]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/hang-inline", "stopped responding"),  # while(true) in a parsing script
        ("/hang-onload", "stopped responding"),  # in the load handler: reading hangs
        ("/hang-domready", "stopped responding"),  # in a DOMContentLoaded handler
        ("/alert-loop", "tab was closed and replaced"),  # alert() in a loop
        ("/never-finishes", "Timed out"),  # the document never completes
    ],
)
async def test_a_hung_tab_is_replaced_and_the_next_open_works(
    hostile_tool: BrowserTool, web: LocalWeb, session: ToolContext, path: str, expected: str
) -> None:
    assert not (await call(hostile_tool, session, "open", id=web.url("/"))).is_error
    first = hostile_tool.chromium.page_of(session.session_id)
    result = await call(hostile_tool, session, "open", id=web.url(path))
    assert result.is_error, result.text
    assert expected in result.text
    await _next_open_works(hostile_tool, web, session)
    assert hostile_tool.chromium.page_of(session.session_id) is not first
    assert first.is_closed()


@pytest.mark.parametrize("path", ["/hang-timer", "/hang-microtask"])
async def test_a_page_that_hangs_later_is_read_or_refused_and_the_next_open_works(
    hostile_tool: BrowserTool, web: LocalWeb, session: ToolContext, path: str
) -> None:
    """The loop starts in a timer after ``load``: the page may be read before it."""
    result = await call(hostile_tool, session, "open", id=web.url(path))
    if result.is_error:
        assert "stopped responding" in result.text
    else:
        assert "page." in result.text
    await _next_open_works(hostile_tool, web, session)


async def test_a_hang_on_the_first_open_of_a_session(
    hostile_tool: BrowserTool, web: LocalWeb, session: ToolContext
) -> None:
    result = await call(hostile_tool, session, "open", id=web.url("/hang-inline"))
    assert result.is_error and "stopped responding" in result.text
    assert "tab was closed and replaced" in result.text
    await _next_open_works(hostile_tool, web, session)


async def test_alerts_from_a_timer_are_dismissed_and_the_page_read(
    hostile_tool: BrowserTool, web: LocalWeb, session: ToolContext
) -> None:
    result = await call(hostile_tool, session, "open", id=web.url("/alert-timer"))
    assert not result.is_error, result.text
    assert "Timed alerts." in result.text and "all were dismissed" in result.text
    await _next_open_works(hostile_tool, web, session)


async def test_confirm_and_prompt_are_dismissed_and_reported(
    hostile_tool: BrowserTool, web: LocalWeb, session: ToolContext
) -> None:
    result = await call(hostile_tool, session, "open", id=web.url("/confirm-prompt"))
    assert not result.is_error, result.text
    assert "confirm=false prompt=null" in result.text
    assert "2 dialog(s) (confirm, prompt)" in result.text
    assert result.metadata["dialogs_dismissed"] == ["confirm: Sure?", "prompt: Name?"]
    await _next_open_works(hostile_tool, web, session)


@pytest.mark.parametrize("path", ["/beforeunload-hang", "/pagehide-hang"])
async def test_a_page_that_will_not_let_go_is_left_through_a_fresh_tab(
    hostile_tool: BrowserTool, web: LocalWeb, session: ToolContext, path: str
) -> None:
    sticky = await call(hostile_tool, session, "open", id=web.url(path))
    assert not sticky.is_error, sticky.text
    result = await call(hostile_tool, session, "open", id=web.url("/target-a"))
    assert not result.is_error, result.text
    assert "Alpha content lives here." in result.text
    assert "opened in a fresh tab" in result.text
    await _next_open_works(hostile_tool, web, session)


async def test_a_beforeunload_question_does_not_keep_the_tab(
    hostile_tool: BrowserTool, web: LocalWeb, session: ToolContext
) -> None:
    assert not (await call(hostile_tool, session, "open", id=web.url("/beforeunload-ask"))).is_error
    await _next_open_works(hostile_tool, web, session)
    page = hostile_tool.chromium.page_of(session.session_id)
    assert page is not None
    assert not (await call(hostile_tool, session, "open", id=web.url("/beforeunload-ask"))).is_error
    await hostile_tool.close_session(session.session_id)  # closing never waits on it
    assert page.is_closed()


@pytest.mark.parametrize("path", ["/popup-storm", "/popup-click-storm"])
async def test_popup_storms_open_no_windows(
    hostile_tool: BrowserTool, web: LocalWeb, session: ToolContext, path: str
) -> None:
    await _storm_opens_no_windows(hostile_tool, web, session, path)


@pytest.mark.parametrize("path", ["/popup-storm", "/popup-click-storm"])
async def test_the_full_browser_blocks_popup_storms_too(
    full_hostile_tool: BrowserTool, web: LocalWeb, session: ToolContext, path: str
) -> None:
    await _storm_opens_no_windows(full_hostile_tool, web, session, path)


async def _storm_opens_no_windows(
    hostile_tool: BrowserTool, web: LocalWeb, session: ToolContext, path: str
) -> None:
    result = await call(hostile_tool, session, "open", id=web.url(path))
    assert not result.is_error, result.text
    assert "Storm page." in result.text or "Click storm page." in result.text
    page = hostile_tool.chromium.page_of(session.session_id)
    assert page.context.pages == [page]
    assert "popup window" not in result.text  # Chromium blocked them: none opened or closed
    await _next_open_works(hostile_tool, web, session)


async def test_the_headless_shell_opens_no_window_even_with_a_gesture(
    hostile_tool: BrowserTool, web: LocalWeb, session: ToolContext
) -> None:
    """``--block-new-web-contents``: window.open fails, gesture or not (evaluate has one)."""
    assert "headless-shell" in (hostile_tool.chromium.executable_path or "")
    assert not (await call(hostile_tool, session, "open", id=web.url("/"))).is_error
    page = hostile_tool.chromium.page_of(session.session_id)
    assert await page.evaluate("window.open('/target-a') === null")
    assert page.context.pages == [page]
    await _next_open_works(hostile_tool, web, session)


async def test_a_popup_that_gets_through_is_closed(
    full_hostile_tool: BrowserTool, web: LocalWeb, session: ToolContext
) -> None:
    """The full browser lets a window opened with a user gesture through; it is closed."""
    hostile_tool = full_hostile_tool
    assert not (await call(hostile_tool, session, "open", id=web.url("/"))).is_error
    page = hostile_tool.chromium.page_of(session.session_id)
    async with page.expect_popup() as popup_info:
        await page.evaluate("window.open('/target-a')")
    popup = await popup_info.value
    await popup.wait_for_event("close")
    assert page.context.pages == [page]
    await _next_open_works(hostile_tool, web, session)


async def test_a_huge_dom_is_read_within_its_cap(
    hostile_tool: BrowserTool, web: LocalWeb, session: ToolContext
) -> None:
    result = await call(hostile_tool, session, "open", id=web.url("/huge-dom"))
    if result.is_error:  # a machine too slow to serialise it in time: a clean refusal
        assert "stopped responding" in result.text
    else:
        assert "Huge page." in result.text
        stack = hostile_tool.stack(session.session_id)
        assert stack is not None and stack.pages[-1].truncated  # cut to max_html_chars
    await _next_open_works(hostile_tool, web, session)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/redirect-refused", "is blocked"),  # a redirect to a refused address
        ("/redirect-same-host", "is blocked"),  # to another port of an allowed host
    ],
)
async def test_an_open_right_after_a_refused_navigation_works(
    hostile_tool: BrowserTool, web: LocalWeb, session: ToolContext, path: str, expected: str
) -> None:
    result = await call(hostile_tool, session, "open", id=web.url(path))
    assert result.is_error and expected in result.text
    await _next_open_works(hostile_tool, web, session)
    assert web.trap.connections == 0


async def test_an_open_right_after_a_failed_navigation_works(
    hostile_tool: BrowserTool, web: LocalWeb, session: ToolContext
) -> None:
    # A name that does not resolve, a closed port, a refused https tunnel.
    for url in ("http://nowhere.test/", "http://site.test:1/x", "https://evil.test/"):
        result = await call(hostile_tool, session, "open", id=url)
        assert result.is_error, result.text
        await _next_open_works(hostile_tool, web, session)

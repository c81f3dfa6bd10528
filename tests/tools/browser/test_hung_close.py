"""Closing never hangs: a browser, a driver or a reference tab that stops answering.

Every step of ``ChromiumSessions.aclose`` has the operation deadline, and a driver that
does not stop in time is killed; the reference tab's probe has the same deadline. First
with fakes that never answer, then on real Chromium frozen with ``SIGSTOP`` (the driver,
or the browser itself): the tool's close returns in a few deadlines, the driver is gone,
and nothing is left running.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from gptoss_agent.tools.base import ToolContext
from gptoss_agent.tools.browser import BrowserConfig, BrowserTool
from gptoss_agent.tools.browser import chromium as chromium_module
from gptoss_agent.tools.browser.chromium import ChromiumSessions
from gptoss_agent.tools.browser.driver import driver_process
from gptoss_agent.tools.browser.guards import Reference
from gptoss_agent.tools.browser.policy import UrlPolicy
from tests.support import process_parents
from tests.tools.browser.calls import call
from tests.tools.browser.conftest import LocalWeb, site_config

LIMIT_S = 0.3


async def _forever() -> None:
    await asyncio.Event().wait()


class HungBrowser:
    """A browser whose ``close`` never returns."""

    def __init__(self) -> None:
        self.close_calls = 0

    def is_connected(self) -> bool:
        return True

    async def close(self) -> None:
        self.close_calls += 1
        await _forever()


class HungPlaywright:
    """A driver whose ``stop`` never returns."""

    async def stop(self) -> None:
        await _forever()


async def test_a_hung_browser_and_driver_do_not_hang_the_close(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    killed: list[Any] = []
    monkeypatch.setattr(chromium_module, "kill_driver", killed.append)
    sessions = ChromiumSessions(BrowserConfig(operation_timeout_s=LIMIT_S), UrlPolicy())
    browser, playwright = HungBrowser(), HungPlaywright()
    sessions._browser, sessions._playwright = browser, playwright
    began = time.monotonic()
    await asyncio.wait_for(sessions.aclose(), 10 * LIMIT_S)
    assert time.monotonic() - began < 4 * LIMIT_S
    assert browser.close_calls == 1 and killed == [playwright]
    assert sessions.playwright is None
    await asyncio.wait_for(sessions.aclose(), LIMIT_S)  # idempotent, and nothing left


async def test_a_close_that_fails_is_moved_past(monkeypatch: pytest.MonkeyPatch) -> None:
    killed: list[Any] = []
    monkeypatch.setattr(chromium_module, "kill_driver", killed.append)

    class GoneBrowser(HungBrowser):
        async def close(self) -> None:
            raise RuntimeError("Target closed")

    class StoppingPlaywright:
        async def stop(self) -> None:
            return None

    sessions = ChromiumSessions(BrowserConfig(operation_timeout_s=LIMIT_S), UrlPolicy())
    sessions._browser, sessions._playwright = GoneBrowser(), StoppingPlaywright()
    await asyncio.wait_for(sessions.aclose(), 10 * LIMIT_S)
    assert killed == []  # the driver stopped when asked: nothing to kill


class HungPage:
    """A reference tab that never answers an evaluation."""

    def __init__(self) -> None:
        self.context = self
        self.closed = asyncio.Event()

    def is_closed(self) -> bool:
        return False

    async def evaluate(self, expression: str) -> int:
        await _forever()
        return 1

    async def close(self) -> None:
        self.closed.set()


async def test_a_reference_that_does_not_answer_is_given_up_in_time() -> None:
    reference = Reference(browser=None, timeout_s=LIMIT_S)
    page = HungPage()
    reference._page = page
    began = time.monotonic()
    assert await asyncio.wait_for(reference.answers(), 10 * LIMIT_S) is False
    assert time.monotonic() - began < 3 * LIMIT_S
    await asyncio.wait_for(page.closed.wait(), 2 * LIMIT_S)  # its context, closed
    assert reference._page is None  # reopened on its next use


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid``."""
    return [child for child, parent in process_parents().items() if parent == pid]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


async def _gone(pid: int, within_s: float) -> bool:
    """Whether ``pid`` has exited (or is a zombie) within ``within_s``."""
    for _ in range(int(within_s / 0.05)):
        if not _alive(pid):
            return True
        await asyncio.sleep(0.05)
    return not _alive(pid)


@pytest.mark.browser
@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("frozen", ["driver", "browser"])
async def test_a_frozen_chromium_does_not_hang_the_tools_close(
    chromium_path: str, web: LocalWeb, session: ToolContext, frozen: str
) -> None:
    limit = 1.0
    tool = BrowserTool(None, site_config(chromium_path, web, operation_timeout_s=limit))
    stopped: list[int] = []
    try:
        assert not (await call(tool, session, "open", id=web.url("/target-a"))).is_error
        driver = driver_process(tool.chromium.playwright)
        assert driver is not None, "Playwright keeps its driver elsewhere: see driver.py"
        browsers = _children(driver.pid)
        assert browsers, "the driver has no child: where is Chromium?"
        stopped = [driver.pid] if frozen == "driver" else browsers
        for pid in stopped:
            os.kill(pid, signal.SIGSTOP)
        began = time.monotonic()
        await asyncio.wait_for(tool.aclose(), 15 * limit)
        assert time.monotonic() - began < 4 * limit + 3.0  # four deadlines at most
        assert await _gone(driver.pid, 5.0), "the driver was not stopped"
        if frozen == "driver":  # a live Chromium exits once its pipe to the driver closes
            assert all([await _gone(pid, 10.0) for pid in browsers])
    finally:
        for pid in stopped:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        await tool.aclose()

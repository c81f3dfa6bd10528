"""Telling a hung tab from a slow machine, without Chromium (the rules of ``guards``).

A tab is hung only when its one probe stays unanswered for ``HANG_MISSES`` periods and
the reference tab answers in each; a stall that silences the reference too, or a page
that answers late, is never a hang.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import pytest

from gptoss_agent.tools.browser.errors import PageUnresponsiveError, PreviousPageStuckError
from gptoss_agent.tools.browser.guards import HANG_MISSES, Reference, watch_navigation
from gptoss_agent.tools.browser.tab import Progress, SessionTab

PROBE_S = 0.01
T = TypeVar("T")


class FakePage:
    """A document that answers a probe only once ``answer`` is set (never, if it is not)."""

    def __init__(self) -> None:
        self.answer = asyncio.Event()
        self.answered = asyncio.Event()
        self.asked = 0
        self.asked_again = asyncio.Event()

    async def evaluate(self, expression: str) -> int:
        self.asked += 1
        if self.asked > 1:
            self.asked_again.set()
        await self.answer.wait()
        self.answered.set()
        return 1


class FakeReference(Reference):
    """A reference tab that answers at once, never, or after letting the page answer."""

    def __init__(self, mode: str, page: FakePage | None = None) -> None:
        super().__init__(browser=None, timeout_s=1.0)
        self.mode, self.page = mode, page
        self.asked = asyncio.Event()

    async def answers(self) -> bool:
        self.probes += 1
        self.asked.set()
        if self.mode == "stalled":
            await asyncio.Event().wait()
        if self.mode == "slower than the page" and self.page is not None:
            self.page.answer.set()
            await self.page.answered.wait()
        return True


@dataclass
class FakeTab:
    page: Any
    progress: Progress = field(default_factory=Progress)


def committed_tab(page: FakePage) -> FakeTab:
    tab = FakeTab(page)
    tab.progress.requested = True
    tab.progress.mark_committed()
    return tab


async def watch(
    tab: FakeTab,
    navigation: asyncio.Future[T],
    *,
    leaving: bool,
    reference: Reference | None = None,
) -> T:
    """``watch_navigation`` on a fake tab, probing every ``PROBE_S``."""
    fake = cast(SessionTab, tab)
    return await watch_navigation(fake, navigation, PROBE_S, leaving=leaving, reference=reference)


pytestmark = pytest.mark.asyncio


async def test_a_silent_tab_is_hung_once_the_reference_answered_in_each_period() -> None:
    page = FakePage()
    reference = FakeReference("healthy")
    navigation: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    with pytest.raises(PageUnresponsiveError, match="while other tabs did"):
        await watch(committed_tab(page), navigation, leaving=True, reference=reference)
    assert reference.probes == HANG_MISSES
    assert page.asked == 1  # one probe, kept outstanding: never re-sent while unanswered
    assert navigation.cancelled()


async def test_a_stall_that_silences_the_reference_too_is_not_a_hang() -> None:
    page = FakePage()
    reference = FakeReference("stalled")
    navigation: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    watching = asyncio.ensure_future(
        watch(committed_tab(page), navigation, leaving=True, reference=reference)
    )
    await reference.asked.wait()  # the tab missed a period; the reference did not answer
    navigation.set_result("loaded")  # then the machine caught up and the page loaded
    assert await watching == "loaded"


async def test_a_page_that_answers_late_is_alive_and_probed_again() -> None:
    page = FakePage()
    reference = FakeReference("slower than the page", page)
    navigation: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    watching = asyncio.ensure_future(
        watch(committed_tab(page), navigation, leaving=True, reference=reference)
    )
    await page.asked_again.wait()  # answered its first probe late, so it was asked again
    navigation.set_result("loaded")
    assert await watching == "loaded"
    assert page.answered.is_set()


async def test_a_page_slower_than_one_period_is_not_judged_before_the_reference() -> None:
    """Without a reference answer, even many silent periods are not misses."""
    page = FakePage()
    reference = FakeReference("stalled")
    navigation: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    watching = asyncio.ensure_future(
        watch(committed_tab(page), navigation, leaving=False, reference=reference)
    )
    await reference.asked.wait()
    page.answer.set()  # the page answers while the reference is still silent
    await page.asked_again.wait()
    navigation.set_result("loaded")
    assert await watching == "loaded"


@pytest.mark.parametrize("mode", ["healthy", None])
async def test_a_previous_page_that_holds_the_tab_is_confirmed_the_same_way(
    mode: str | None,
) -> None:
    tab = FakeTab(FakePage())  # no request went out: a beforeunload handler still runs
    reference = None if mode is None else FakeReference(mode)
    navigation: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    with pytest.raises(PreviousPageStuckError):
        await watch(tab, navigation, leaving=True, reference=reference)
    if reference is not None:
        assert reference.probes == HANG_MISSES


async def test_without_a_reference_consecutive_silent_periods_count() -> None:
    page = FakePage()
    navigation: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    with pytest.raises(PageUnresponsiveError):
        await watch(committed_tab(page), navigation, leaving=False)
    assert page.asked == 1


async def test_a_navigation_that_finishes_is_returned_and_a_cancelled_watch_abandons_it() -> None:
    page = FakePage()
    page.answer.set()
    done: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    done.set_result("loaded")
    assert await watch(committed_tab(page), done, leaving=True) == "loaded"
    pending: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    watching = asyncio.ensure_future(watch(committed_tab(page), pending, leaving=True))
    await page.asked_again.wait()  # a live page, probed period after period
    watching.cancel()
    with pytest.raises(asyncio.CancelledError):
        await watching
    assert pending.cancelled()

"""Chromium runs nicer than the agent and cannot raise itself back.

Run as root, Chromium raises its browser and compositor threads to nice -8 by itself;
with ``BrowserConfig.nice`` every thread of every Chromium process stays at least that
many steps nicer than the agent, which the live test reads from ``/proc``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gptoss_agent.tools.base import ToolContext
from gptoss_agent.tools.browser import BrowserConfig, BrowserTool
from gptoss_agent.tools.browser.niceness import (
    CAP_SETPCAP,
    CAP_SYS_NICE,
    launch_command,
    launcher,
)
from tests.support import process_parents
from tests.tools.browser.calls import call
from tests.tools.browser.conftest import LocalWeb, site_config


def descendants(root: int) -> set[int]:
    """The processes below ``root`` (from ``/proc``)."""
    children: dict[int, list[int]] = {}
    for child, parent in process_parents().items():
        children.setdefault(parent, []).append(child)
    found, todo = set(), [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def chromium_below(root: int) -> list[int]:
    """The Chromium processes below ``root`` (one that exits meanwhile is left out)."""
    found = []
    for pid in descendants(root):
        try:
            if "chrom" in Path(f"/proc/{pid}/comm").read_text(errors="replace"):
                found.append(pid)
        except OSError:
            continue
    return found


def thread_niceness(pid: int) -> list[int]:
    values = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            values.append(int((task / "stat").read_text().rsplit(")", 1)[1].split()[16]))
        except OSError:
            continue
    return values


@pytest.mark.browser
@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("nice", [10, None], ids=["niced", "as-launched"])
async def test_every_chromium_thread_runs_nicer_than_the_agent(
        chromium_path: str, web: LocalWeb, session: ToolContext, nice: int | None) -> None:
    tool = BrowserTool(None, site_config(chromium_path, web, nice=nice))
    try:
        result = await call(tool, session, "open", id=web.url("/"))
        assert not result.is_error, result.text
        chromium = chromium_below(os.getpid())
        assert chromium, "no Chromium process found below the test"
        threads = [value for pid in chromium for value in thread_niceness(pid)]
        own = os.getpriority(os.PRIO_PROCESS, 0)
        if nice is not None:
            assert min(threads) >= own + nice, sorted(set(threads))
        else:  # the default launch is the agent's niceness (or, as root, raised)
            assert min(threads) <= own
    finally:
        await tool.aclose()


def test_the_capability_to_raise_priority_is_dropped_only_when_held() -> None:
    held = 1 << CAP_SYS_NICE | 1 << CAP_SETPCAP
    command = launch_command("/usr/lib/chromium/chromium", 7, effective=held)
    assert command[-4:] == [command[-4], "-n", "7", "/usr/lib/chromium/chromium"]
    assert command[-4].endswith("nice")
    assert "--bounding-set=-sys_nice" in command and command[0].endswith("setpriv")
    for caps in (0, 1 << CAP_SYS_NICE, 1 << CAP_SETPCAP):
        plain = launch_command("/x/chromium", 7, effective=caps)
        assert plain[1:] == ["-n", "7", "/x/chromium"] and plain[0].endswith("nice")


def test_the_launcher_runs_its_command_with_the_browser_arguments(tmp_path: Path) -> None:
    path = launcher("/opt/my chromium/chrome", 5, tmp_path)
    text = path.read_text()
    assert text.startswith("#!/bin/sh\nexec ") and text.endswith(' "$@"\n')
    assert "'/opt/my chromium/chrome'" in text and " -n 5 " in text
    assert os.access(path, os.X_OK) and path.stat().st_mode & 0o077 == 0


def test_a_niceness_outside_0_to_19_is_refused() -> None:
    for bad in (-1, 20):
        with pytest.raises(ValueError, match="nice must be between 0 and 19"):
            BrowserConfig(nice=bad)

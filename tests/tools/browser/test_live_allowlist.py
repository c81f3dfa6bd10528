"""One local service allowlisted by ``host:port`` on real Chromium, and nothing else there."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from gptoss_agent.tools.base import ToolContext
from gptoss_agent.tools.browser import BrowserConfig, BrowserTool
from tests.tools.browser.calls import call
from tests.tools.browser.conftest import LocalWeb

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def service_tool(chromium_path: str, web: LocalWeb) -> AsyncIterator[BrowserTool]:
    """Only ``localhost`` at the site's port (spelled as a user might: upper case, a dot)."""
    tool = BrowserTool(
        None,
        BrowserConfig(
            executable_path=chromium_path,
            allowlist=(f"LOCALHOST.:{web.port}",),
            host_map={"localhost": "127.0.0.1"},
            resolve="map",  # the policy never asks the system
        ),
    )
    yield tool
    await tool.aclose()


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST.", "LocalHost"])
async def test_the_allowlisted_service_opens_under_any_spelling(
    service_tool: BrowserTool, web: LocalWeb, session: ToolContext, host: str
) -> None:
    result = await call(service_tool, session, "open", id=f"http://{host}:{web.port}/target-a")
    assert not result.is_error, result.text
    assert "Alpha content lives here." in result.text


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("http://localhost:{trap}/", "only port {port} of it is allowlisted"),
        ("https://localhost:{trap}/", "only port {port} of it is allowlisted"),
        ("http://LOCALHOST.:{trap}/", "only port {port} of it is allowlisted"),
        ("http://127.0.0.1:{port}/target-a", "loopback address and not allowlisted"),
        ("http://localhost:{port}/redirect-same-host", "redirected to"),
    ],
)
async def test_nothing_else_on_that_host_is_reachable(
    service_tool: BrowserTool, web: LocalWeb, session: ToolContext, template: str, expected: str
) -> None:
    url = template.format(trap=web.trap.port, port=web.port)
    result = await call(service_tool, session, "open", id=url)
    assert result.is_error, result.text
    assert expected.format(port=web.port) in result.text
    assert web.trap.connections == 0
    after = await call(service_tool, session, "open", id=f"http://localhost:{web.port}/target-b")
    assert not after.is_error, after.text

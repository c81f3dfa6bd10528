"""Safety on real Chromium: nothing reaches a loopback/private address unless allowlisted.

The trap server listens on 127.0.0.1 and counts TCP connections. The tests reach for it
under names that resolve to loopback (``evil.test`` is mapped to 127.0.0.1 for both the
policy and Chromium), as a bare loopback address, through redirects and as page
subresources, and assert that the trap saw no connection at all and that the session's
egress proxy made no upstream connection for the refused requests: the block happened
before any connection. No test addresses a real private or metadata IP.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from gptoss_agent.tools.base import ToolContext
from gptoss_agent.tools.browser import BrowserTool, MappedResolver
from tests.tools.browser.calls import call
from tests.tools.browser.conftest import LocalWeb, site_config

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]


async def _connected(tool: BrowserTool, context: ToolContext) -> int:
    proxy = tool.chromium.proxy_of(context.session_id)
    return 0 if proxy is None else proxy.stats.connected


@pytest.mark.parametrize(
    "template",
    [
        "http://evil.test:{trap}/",  # a name that resolves to loopback (checked after DNS)
        "https://evil.test:{trap}/",  # the same over a CONNECT tunnel
        "http://127.0.0.1:{trap}/",  # a loopback literal
        "http://localhost:{trap}/",  # loopback's usual name (in the fixed map)
        "http://2130706433:{trap}/",  # 127.0.0.1 spelled as one number
    ],
)
async def test_loopback_targets_are_refused_before_connecting(
    browser_tool: BrowserTool, web: LocalWeb, session: ToolContext, template: str
) -> None:
    url = template.format(trap=web.trap.port)
    # Warm the session so its proxy exists, then count its upstream connections.
    assert not (await call(browser_tool, session, "open", id=web.url("/"))).is_error
    before = await _connected(browser_tool, session)
    result = await call(browser_tool, session, "open", id=url)
    assert result.is_error, result.text
    assert "Refused" in result.text and "not allowlisted" in result.text
    assert "loopback" in result.text
    assert web.trap.connections == 0
    assert await _connected(browser_tool, session) == before


@pytest.mark.parametrize(
    "template",
    [
        "http://nowhere.test:{port}/",  # a name outside the fixed map
        "https://nowhere.test/",  # the same over a CONNECT tunnel
        "http://NoWhere.Test.:{port}/x",  # spelled otherwise: the same name
        "http://sub.site.test:{port}/",  # a mapped name's subdomain is not mapped
    ],
)
async def test_the_tests_resolver_never_asks_the_system(
    browser_tool: BrowserTool,
    web: LocalWeb,
    session: ToolContext,
    monkeypatch: pytest.MonkeyPatch,
    template: str,
) -> None:
    """A name outside the map is an unknown host from the map; the system is not asked."""
    asked: list[str] = []
    real = socket.getaddrinfo

    def spy(host: Any, *args: Any, **kwargs: Any) -> Any:
        asked.append(str(host))
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", spy)
    resolver = browser_tool.policy.resolver
    assert isinstance(resolver, MappedResolver)
    before = len(resolver.lookups)
    url = template.format(port=web.port)
    result = await call(browser_tool, session, "open", id=url)
    name = url.split("//", 1)[1].split("/", 1)[0].split(":", 1)[0].lower().rstrip(".")
    assert result.is_error and f"the host {name} could not be resolved" in result.text
    assert set(resolver.lookups[before:]) == {name}
    assert [host for host in asked if not host.startswith("127.")] == []
    after = await call(browser_tool, session, "open", id=web.url("/target-a"))
    assert not after.is_error and "Alpha content lives here." in after.text
    assert "site.test" in resolver.lookups[before:]


async def test_redirect_to_a_disallowed_address_is_refused(
    browser_tool: BrowserTool, web: LocalWeb, session: ToolContext
) -> None:
    for path in ("/redirect-evil", "/redirect-loopback"):
        result = await call(browser_tool, session, "open", id=web.url(path))
        assert result.is_error, result.text
        assert f"{web.url(path)} redirected to" in result.text
        assert "is blocked" in result.text and "loopback" in result.text
    assert web.trap.connections == 0


async def test_subresource_requests_to_disallowed_addresses_are_refused(
    browser_tool: BrowserTool, web: LocalWeb, session: ToolContext
) -> None:
    result = await call(browser_tool, session, "open", id=web.url("/subresources-evil"))
    assert not result.is_error, result.text
    assert "Visible text." in result.text
    blocked = result.metadata["blocked_requests"]
    urls = {entry["url"] for entry in blocked}
    trap = f"http://evil.test:{web.trap.port}"
    assert {f"{trap}/x.js", f"{trap}/beacon"} <= urls
    assert all(entry["kind"] == "policy" for entry in blocked)
    assert web.trap.connections == 0


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "chrome://version",
        "data:text/html,<h1>x</h1>",
        "javascript:alert(1)",
        "ftp://example.com/file",
        "view-source:http://example.com/",
    ],
)
async def test_non_http_schemes_are_refused(
    browser_tool: BrowserTool, session: ToolContext, url: str
) -> None:
    result = await call(browser_tool, session, "open", id=url)
    assert result.is_error
    assert "Refused to open" in result.text and "only http and https" in result.text


async def test_allowlist_is_what_admits_the_test_site(
    chromium_path: str, web: LocalWeb, session: ToolContext
) -> None:
    """Without ``site.test`` on the allowlist the very same site is refused."""
    from gptoss_agent.tools.browser import BrowserConfig

    tool = BrowserTool(
        None,
        BrowserConfig(executable_path=chromium_path, host_map=web.host_map, resolve="map"),
    )
    hits_before = len(web.site.hits)
    try:
        result = await call(tool, session, "open", id=web.url("/"))
        assert result.is_error and "loopback" in result.text
        assert len(web.site.hits) == hits_before, "the site must not have been contacted"
    finally:
        await tool.aclose()


async def test_slow_page_times_out_and_the_browser_keeps_working(
    strict_tool: BrowserTool, web: LocalWeb, session: ToolContext
) -> None:
    result = await call(strict_tool, session, "open", id=web.url("/slow"))
    assert result.is_error
    assert "Timed out after 2s" in result.text
    web.site.release_slow.set()
    after = await call(strict_tool, session, "open", id=web.url("/target-b"))
    assert not after.is_error, after.text
    assert "Bravo content lives here." in after.text


async def test_oversized_response_is_cut_off(
    strict_tool: BrowserTool, web: LocalWeb, session: ToolContext
) -> None:
    result = await call(strict_tool, session, "open", id=web.url("/big"))
    proxy = strict_tool.chromium.proxy_of(session.session_id)
    assert proxy is not None
    assert any(b.kind == "size" for b in proxy.blocked)
    if not result.is_error:
        # Whatever Chromium rendered of the cut-off body stays under the cap.
        assert len(result.text) < 1024 * 1024


async def test_crashed_tab_is_replaced_and_the_model_told(
    browser_tool: BrowserTool, web: LocalWeb, session: ToolContext
) -> None:
    assert not (await call(browser_tool, session, "open", id=web.url("/"))).is_error
    page = browser_tool.chromium.page_of(session.session_id)
    crashed = asyncio.get_running_loop().create_future()
    page.on("crash", lambda _: crashed.done() or crashed.set_result(True))
    cdp = await page.context.new_cdp_session(page)
    # The renderer dies before it can answer, so the command is not awaited.
    sent = asyncio.ensure_future(cdp.send("Page.crash"))
    try:
        await asyncio.wait_for(crashed, 20)
    finally:
        sent.cancel()
        await asyncio.gather(sent, return_exceptions=True)
    result = await call(browser_tool, session, "open", id=web.url("/target-a"))
    assert not result.is_error, result.text
    assert "Alpha content lives here." in result.text
    assert "tab crashed and was replaced" in result.text


async def test_dead_browser_is_relaunched(
    chromium_path: str, web: LocalWeb, session: ToolContext
) -> None:
    tool = BrowserTool(None, site_config(chromium_path, web))
    try:
        assert not (await call(tool, session, "open", id=web.url("/"))).is_error
        browser = await tool.chromium.ensure_browser()
        await browser.close()
        result = await call(tool, session, "open", id=web.url("/target-b"))
        assert not result.is_error, result.text
        assert "Bravo content lives here." in result.text
        assert "browser had stopped and was restarted" in result.text
        assert tool.chromium.launches == 2
    finally:
        await tool.aclose()

"""No phone-home: Chromium makes no request of its own while opening local pages.

Chromium records everything its network stack does in a NetLog (``--log-net-log``):
every URL request, name lookup and socket connection, in every network context. The
browser runs with a fixed-map resolver in its egress policy (it never asks the system)
and opens pages that tempt its services (forms for autofill, French text for
translation). Then: the session's egress proxy saw only the page's own requests, the
resolver was asked only the page's own name, every TCP connection went to one of the
browser's two local proxies, no datagram was sent, no real name reached Chromium's own
resolver, and the sink proxy that refuses whatever Chromium asks for outside a session
was asked nothing. (Chromium's headless shell, the default for headless runs; the full
browser still checks its profile's sign-in with accounts.google.com at start-up, which
the sink refuses.)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from gptoss_agent.tools.base import ToolContext
from gptoss_agent.tools.browser import BrowserConfig, BrowserTool
from gptoss_agent.tools.browser.policy import Allowlist, MappedResolver, UrlPolicy
from tests.tools.browser.calls import call
from tests.tools.browser.conftest import LocalWeb

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

@dataclass
class NetLog:
    """What one Chromium NetLog file says the network stack did."""

    urls: set[str] = field(default_factory=set)
    resolved: set[str] = field(default_factory=set)
    tcp: set[str] = field(default_factory=set)
    udp_sent: int = 0

    @classmethod
    def read(cls, path: Path) -> NetLog:
        data = json.loads(path.read_text())
        names = {v: k for k, v in data["constants"]["logEventTypes"].items()}
        log = cls()
        for event in data["events"]:
            log.add(names.get(event["type"], ""), event.get("params") or {})
        return log

    def add(self, kind: str, params: dict[str, Any]) -> None:
        if "url" in params and kind.startswith("URL_REQUEST"):
            self.urls.add(str(params["url"]))
        if kind == "HOST_RESOLVER_MANAGER_REQUEST" and "host" in params:
            self.resolved.add(str(params["host"]))
        if kind == "TCP_CONNECT_ATTEMPT" and "address" in params:
            self.tcp.add(str(params["address"]))
        if kind in ("UDP_BYTES_SENT", "UDP_SEND_ERROR"):
            self.udp_sent += 1


def _hosts(urls: set[str]) -> Iterator[str]:
    for url in urls:
        yield url.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]


async def test_the_browser_requests_nothing_of_its_own(
    chromium_path: str, web: LocalWeb, session: ToolContext, tmp_path: Path
) -> None:
    netlog = tmp_path / "netlog.json"
    # The fixed map is the policy's alone: given to Chromium too (``host_map``), it makes
    # Chromium's own resolver look up the mapped address, which this test allows none of.
    resolver = MappedResolver({"site.test": "127.0.0.1"})
    tool = BrowserTool(
        None,
        BrowserConfig(
            executable_path=chromium_path,
            extra_args=(f"--log-net-log={netlog}", "--net-log-capture-mode=Everything"),
        ),
        policy=UrlPolicy(Allowlist.parse(["site.test"]), resolver),
    )
    try:
        for path in ("/bait", "/", "/bait?again"):
            result = await call(tool, session, "open", id=web.url(path))
            assert not result.is_error, result.text
        proxy = tool.chromium.proxy_of(session.session_id)
        assert proxy is not None
        own = f"http://site.test:{web.port}/"
        assert proxy.requested and all(url.startswith(own) for url in proxy.requested)
        proxy_port = proxy.port
    finally:
        stray = tool.chromium.stray_requests
        await tool.aclose()  # Chromium writes the end of its NetLog on exit
    assert set(resolver.lookups) == {"site.test"}
    log = NetLog.read(netlog)
    assert log.tcp, "the NetLog recorded no connection at all"
    sink_ports = {address.rsplit(":", 1)[1] for address in log.tcp} - {str(proxy_port)}
    assert all(address.startswith("127.0.0.1:") for address in log.tcp), log.tcp
    assert len(sink_ports) <= 1, log.tcp  # the session's proxy and, at most, the sink
    assert log.udp_sent == 0
    assert log.resolved <= {"http://~notfound", "https://~notfound", f"http://~notfound:{web.port}"}
    others = {host for host in _hosts(log.urls) if host != "site.test"}
    assert not others, others
    assert not stray, stray

"""The egress proxy, driven by a plain HTTP client (no browser needed)."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request

import pytest

from gptoss_agent.tools.browser.egress import BLOCK_HEADER, EgressProxy, RefuseAll
from gptoss_agent.tools.browser.policy import Allowlist, MappedResolver, UrlPolicy
from tests.tools.browser.site import Site, TrapServer, serve_site


@pytest.fixture
def servers():  # type: ignore[no-untyped-def]
    trap = TrapServer()
    site = Site(trap_port=trap.port)
    server, port = serve_site(site)
    yield site, port, trap
    site.release_slow.set()
    server.shutdown()
    trap.shutdown()


def _get(proxy_url: str, url: str) -> tuple[int, dict[str, str], bytes]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": proxy_url}))
    try:
        with opener.open(url, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


async def test_allowed_request_is_forwarded_and_blocked_one_never_connects(servers) -> None:  # type: ignore[no-untyped-def]
    _site, port, trap = servers
    policy = UrlPolicy(
        Allowlist.parse(["site.test"]),
        MappedResolver({"site.test": "127.0.0.1", "evil.test": "127.0.0.1"}),
    )
    proxy = EgressProxy(policy)
    await proxy.start()
    try:
        status, _, body = await asyncio.to_thread(
            _get, proxy.url, f"http://site.test:{port}/target-a"
        )
        assert status == 200 and b"Alpha content" in body
        assert proxy.stats.connected == 1

        status, headers, body = await asyncio.to_thread(
            _get, proxy.url, f"http://evil.test:{trap.port}/secret"
        )
        assert status == 403 and headers[BLOCK_HEADER] == "policy"
        assert b"loopback" in body
        assert proxy.stats.connected == 1 and trap.connections == 0
        assert proxy.blocked[-1].url == f"http://evil.test:{trap.port}/secret"
    finally:
        await proxy.aclose()


async def test_connect_tunnel_to_loopback_is_refused(servers) -> None:  # type: ignore[no-untyped-def]
    _, _, trap = servers
    proxy = EgressProxy(UrlPolicy(resolver=MappedResolver({"evil.test": "127.0.0.1"})))
    await proxy.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(f"CONNECT evil.test:{trap.port} HTTP/1.1\r\n\r\n".encode())
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        writer.close()
        assert head.startswith(b"HTTP/1.1 403")
        assert trap.connections == 0 and proxy.stats.connected == 0
    finally:
        await proxy.aclose()


async def test_responses_over_the_cap_are_cut_off(servers) -> None:  # type: ignore[no-untyped-def]
    _, port, _ = servers
    policy = UrlPolicy(Allowlist.parse(["site.test"]), MappedResolver({"site.test": "127.0.0.1"}))
    proxy = EgressProxy(policy, max_response_bytes=64 * 1024)
    await proxy.start()
    try:

        def fetch() -> int:
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": proxy.url}))
            try:
                with opener.open(f"http://site.test:{port}/big", timeout=10) as response:
                    return len(response.read())
            except Exception:
                return -1

        received = await asyncio.to_thread(fetch)
        assert received < 3 * 1024 * 1024
        assert [b.kind for b in proxy.blocked] == ["size"]
    finally:
        await proxy.aclose()


async def test_the_sink_refuses_everything_and_records_it(servers) -> None:  # type: ignore[no-untyped-def]
    site, port, trap = servers
    sink = EgressProxy(RefuseAll())
    await sink.start()
    try:
        hits = len(site.hits)
        status, headers, body = await asyncio.to_thread(
            _get, sink.url, f"http://127.0.0.1:{port}/target-a"
        )
        assert status == 403 and headers[BLOCK_HEADER] == "policy"
        assert b"background requests are not allowed" in body
        reader, writer = await asyncio.open_connection("127.0.0.1", sink.port)
        writer.write(f"CONNECT 127.0.0.1:{trap.port} HTTP/1.1\r\n\r\n".encode())
        await writer.drain()
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 403")
        writer.close()
        assert list(sink.requested) == [
            f"http://127.0.0.1:{port}/target-a",
            f"https://127.0.0.1:{trap.port}",
        ]
        assert sink.stats.connected == 0 and trap.connections == 0 and len(site.hits) == hits
    finally:
        await sink.aclose()

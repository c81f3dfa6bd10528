"""The URL/address policy, with literal addresses and an injected resolver (no network).

The system resolver's own tests replace ``socket.getaddrinfo``, so they neither need nor
reach real DNS: a mapped name must not ask it, an unmapped one must.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest

from gptoss_agent.tools.browser import BrowserConfig, BrowserTool
from gptoss_agent.tools.browser.policy import (
    Allowlist,
    IPAddress,
    MappedResolver,
    SystemResolver,
    UrlPolicy,
    address_problem,
    parse_ip,
)


class FakeResolver:
    """Answers from a table; records every lookup."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.lookups: list[str] = []

    async def resolve(self, host: str, port: int) -> tuple[IPAddress, ...]:
        self.lookups.append(host)
        if host not in self.table:
            raise OSError("not found")
        return tuple(ipaddress.ip_address(a) for a in self.table[host])


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("fd00:ec2::254", "private"),
        ("::ffff:127.0.0.1", "loopback"),
        ("100.64.0.1", "not globally routable"),
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_address_classes(address: str, problem: str | None) -> None:
    assert address_problem(ipaddress.ip_address(address)) == problem


@pytest.mark.parametrize("spelling", ["127.1", "0x7f.0.0.1", "2130706433", "[::1]", "017700000001"])
def test_legacy_ip_spellings_are_understood(spelling: str) -> None:
    parsed = parse_ip(spelling)
    assert parsed is not None and parsed.is_loopback


async def test_names_are_checked_after_resolution() -> None:
    resolver = FakeResolver(
        {
            "public.example": ["93.184.216.34"],
            "sneaky.example": ["93.184.216.34", "10.0.0.5"],  # one private record is enough
            "metadata.example": ["169.254.169.254"],
        }
    )
    policy = UrlPolicy(resolver=resolver)
    assert (await policy.check_url("https://public.example/x")).allowed
    sneaky = await policy.check_url("http://sneaky.example/")
    assert not sneaky.allowed and "10.0.0.5" in sneaky.reason and "private" in sneaky.reason
    metadata = await policy.check_url("http://metadata.example/latest/meta-data")
    assert not metadata.allowed and "link-local" in metadata.reason
    assert resolver.lookups == ["public.example", "sneaky.example", "metadata.example"]


async def test_unresolvable_hosts_are_refused_as_unresolved() -> None:
    verdict = await UrlPolicy(resolver=FakeResolver({})).check_url("http://nowhere.example/")
    assert not verdict.allowed and verdict.unresolved


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "chrome://settings",
        "data:text/plain,hi",
        "ftp://x.org/",
        "javascript:alert(1)",
        "about:blank",
        "ws://x.org/",
        "http:///nohost",
    ],
)
async def test_only_http_and_https_with_a_host(url: str) -> None:
    policy = UrlPolicy(resolver=FakeResolver({"x.org": ["93.184.216.34"]}))
    assert not policy.check_scheme(url).allowed
    assert not (await policy.check_url(url)).allowed


async def test_allowlist_by_host_pattern_and_network() -> None:
    resolver = FakeResolver(
        {
            "intranet.corp": ["10.1.2.3"],
            "wiki.corp": ["10.9.9.9"],
            "db.lab": ["192.168.5.5"],
            "other.lab": ["192.168.6.6"],
        }
    )
    policy = UrlPolicy(Allowlist.parse(["intranet.corp", "*.lab", "10.9.0.0/16"]), resolver)
    assert (await policy.check_url("http://intranet.corp/")).allowed
    assert (await policy.check_url("http://db.lab/")).allowed
    assert (await policy.check_url("http://wiki.corp/")).allowed  # by network
    loopback = await policy.check_url("http://127.0.0.1/")
    assert not loopback.allowed and "loopback" in loopback.reason
    allow_local = UrlPolicy(Allowlist.parse(["127.0.0.1"]), resolver)
    assert (await allow_local.check_url("http://127.0.0.1:8080/")).allowed
    assert not (await allow_local.check_url("http://other.lab/")).allowed


class FakeSystem:
    """Stands in for ``socket.getaddrinfo``: records each name, answers from a table."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.asked: list[str] = []

    def __call__(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        name = host.decode() if isinstance(host, bytes) else str(host)
        self.asked.append(name)
        if name not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in self.table[name]
        ]


@pytest.fixture
def system(monkeypatch: pytest.MonkeyPatch) -> FakeSystem:
    """The operating system's resolver, replaced by a table (no real DNS)."""
    fake = FakeSystem({"public.example": ["93.184.216.34", "93.184.216.34", "fe80::1%eth0"]})
    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return fake


async def test_system_resolver_honours_the_host_map_without_dns(system: FakeSystem) -> None:
    resolver = SystemResolver({"site.test": "127.0.0.1"})
    assert await resolver.resolve("SITE.test.", 80) == (ipaddress.ip_address("127.0.0.1"),)
    assert await resolver.resolve("10.0.0.1", 80) == (ipaddress.ip_address("10.0.0.1"),)
    assert await resolver.resolve("0x7f.1", 80) == (ipaddress.ip_address("127.0.0.1"),)
    assert system.asked == []


async def test_system_resolver_asks_the_system_for_unmapped_names(system: FakeSystem) -> None:
    resolver = SystemResolver({"site.test": "127.0.0.1"})
    addresses = await resolver.resolve("public.example", 443)
    assert addresses == (ipaddress.ip_address("93.184.216.34"), ipaddress.ip_address("fe80::1"))
    with pytest.raises(OSError):
        await resolver.resolve("nowhere.test", 80)
    assert system.asked == ["public.example", "nowhere.test"]
    verdict = await UrlPolicy(resolver=resolver).check_url("http://nowhere.test/")
    assert not verdict.allowed and verdict.unresolved


async def test_mapped_resolver_never_asks_the_system(system: FakeSystem) -> None:
    resolver = MappedResolver({"Site.Test.": "127.0.0.1"})
    assert await resolver.resolve("site.test", 80) == (ipaddress.ip_address("127.0.0.1"),)
    for name in ("public.example", "nowhere.test.", "localhost"):
        with pytest.raises(OSError, match="not in the fixed host map"):
            await resolver.resolve(name, 80)
    assert await resolver.resolve("10.0.0.1", 80) == (ipaddress.ip_address("10.0.0.1"),)
    assert resolver.lookups == ["site.test", "public.example", "nowhere.test", "localhost"]
    assert system.asked == []


def test_the_config_chooses_the_resolver() -> None:
    default = BrowserTool(None, BrowserConfig(host_map={"a.test": "127.0.0.1"}))
    assert isinstance(default.policy.resolver, SystemResolver)
    mapped = BrowserTool(None, BrowserConfig(host_map={"A.test.": "127.0.0.1"}, resolve="map"))
    assert isinstance(mapped.policy.resolver, MappedResolver)
    assert dict(mapped.policy.resolver.host_map) == {"a.test": "127.0.0.1"}
    with pytest.raises(ValueError, match="resolve must be 'system' or 'map'"):
        BrowserConfig(resolve="dns")  # type: ignore[arg-type]

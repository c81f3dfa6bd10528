"""The URL/address policy, with literal addresses and an injected resolver (no network)."""

from __future__ import annotations

import ipaddress

import pytest

from gptoss_agent.tools.browser.policy import (
    Allowlist,
    IPAddress,
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


async def test_system_resolver_honours_the_host_map_without_dns() -> None:
    resolver = SystemResolver({"site.test": "127.0.0.1"})
    assert await resolver.resolve("SITE.test.", 80) == (ipaddress.ip_address("127.0.0.1"),)
    assert await resolver.resolve("10.0.0.1", 80) == (ipaddress.ip_address("10.0.0.1"),)

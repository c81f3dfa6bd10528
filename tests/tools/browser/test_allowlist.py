"""Allowlist entries with ports and normalised names, and the fixed-map resolver."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from gptoss_agent.tools.browser.policy import Allowlist, MappedResolver, UrlPolicy
from gptoss_agent.tools.errors import ToolConfigError


def _policy(*entries: str) -> UrlPolicy:
    resolver = MappedResolver({"LocalHost.": "127.0.0.1", "svc.corp.example": "10.1.2.3"})
    return UrlPolicy(Allowlist.parse(entries), resolver)


@pytest.mark.parametrize(
    ("entries", "host", "port", "allowed"),
    [
        (["localhost:8080"], "localhost", 8080, True),
        (["localhost:8080"], "LOCALHOST.", 8080, True),  # case and a trailing dot
        (["LOCALHOST.:8080"], "localhost", 8080, True),  # the entry is normalised too
        (["localhost:8080"], "localhost", 8081, False),  # another port on the same host
        (["localhost:8080"], "127.0.0.1", 8080, False),  # the address is not the name
        (["127.0.0.1:8080"], "127.0.0.1", 8080, True),
        (["127.0.0.1:8080"], "127.0.0.1", 22, False),
        (["127.0.0.1:8080"], "localhost", 8080, True),  # the address it resolves to is
        (["[::1]:8080"], "::1", 8080, True),
        (["[::1]:8080"], "::1", 8081, False),
        (["::1"], "::1", 9, True),  # a bare IPv6 address admits every port
        (["*.corp.example:443"], "svc.corp.example", 443, True),
        (["*.corp.example:443"], "svc.corp.example", 80, False),
        (["10.0.0.0/8:5432"], "svc.corp.example", 5432, True),
        (["10.0.0.0/8:5432"], "svc.corp.example", 5433, False),
        (["localhost"], "localhost", 1, True),  # a name without a port: every port
    ],
)
async def test_entries_with_ports(entries: list[str], host: str, port: int, allowed: bool) -> None:
    verdict = await _policy(*entries).check_host(host, port)
    assert verdict.allowed is allowed, verdict.reason


async def test_the_refusal_names_the_port_that_is_allowed() -> None:
    verdict = await _policy("localhost:8080").check_host("localhost", 9000)
    assert not verdict.allowed
    assert "only port 8080 of it is allowlisted, not 9000" in verdict.reason


async def test_a_port_entry_does_not_restrict_public_hosts() -> None:
    resolver = MappedResolver({"example.org": "93.184.216.34"})
    policy = UrlPolicy(Allowlist.parse(["example.org:8080"]), resolver)
    assert (await policy.check_host("example.org", 443)).allowed


@pytest.mark.parametrize(
    "entry", ["http://localhost:8080", "host:0", "host:65536", "host:http", ":8080", "a/b"]
)
def test_bad_entries_are_refused_clearly(entry: str) -> None:
    with pytest.raises(ToolConfigError, match="allowlist entry"):
        Allowlist.parse([entry])


def test_an_entry_without_a_port_asked_with_or_without_one() -> None:
    allowlist = Allowlist.parse(["intranet.example", "localhost:8080"])
    assert allowlist.admits_host("INTRANET.EXAMPLE.")
    assert allowlist.admits_host("intranet.example", 1234)
    assert not allowlist.admits_host("localhost")  # a port entry needs the port
    assert allowlist.ports_of("LOCALHOST.") == (8080,)


async def test_the_mapped_resolver_never_asks_the_system(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the system resolver was asked")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    resolver = MappedResolver({"Site.Test.": "127.0.0.1"})
    assert await resolver.resolve("site.test", 80) == (ipaddress.ip_address("127.0.0.1"),)
    assert await resolver.resolve("10.0.0.1", 80) == (ipaddress.ip_address("10.0.0.1"),)
    with pytest.raises(OSError, match="not in the fixed host map"):
        await resolver.resolve("localhost", 80)  # the system would know it; the map does not
    assert resolver.lookups == ["site.test", "localhost"]

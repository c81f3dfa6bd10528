"""The URL and host safety policy: which addresses the browser may talk to.

This module owns the decision, not the enforcement: :class:`UrlPolicy` checks a URL's
scheme, resolves its host (through a :class:`HostResolver`) and refuses addresses that
are loopback, private, link-local, multicast, unspecified or otherwise not globally
routable, unless an :class:`Allowlist` admits the host name or the address (on any port,
or on one: ``localhost:8080``). The egress proxy (:mod:`.egress`) asks it about every
connection Chromium opens. Host names are compared normalised (case, a trailing dot).
:class:`MappedResolver` answers from a fixed map only and records what it was asked.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol
from urllib.parse import urlsplit

from gptoss_agent.tools.browser.allowlist import (
    Allowlist,
    IPAddress,
    IPNetwork,
    normalize_host,
)

__all__ = [
    "ALLOWED_SCHEMES",
    "Allowlist",
    "HostResolver",
    "IPAddress",
    "IPNetwork",
    "MappedResolver",
    "SystemResolver",
    "UrlPolicy",
    "Verdict",
    "address_problem",
    "host_resolver_rules",
    "normalize_host",
    "normalized_map",
    "parse_ip",
]

ALLOWED_SCHEMES = frozenset({"http", "https"})


class HostResolver(Protocol):
    """Turns a host name into the addresses a connection would use."""

    async def resolve(self, host: str, port: int) -> tuple[IPAddress, ...]:
        """All addresses of ``host``; raises ``OSError`` when it does not resolve."""
        ...


@dataclass(frozen=True)
class SystemResolver:
    """Resolves through the operating system, after consulting a static host map.

    Attributes:
        host_map: Host name -> IP address overrides, like ``/etc/hosts``. The browser
            passes the same map to Chromium (``--host-resolver-rules``), so both agree.
    """

    host_map: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        object.__setattr__(self, "host_map", normalized_map(self.host_map))

    async def resolve(self, host: str, port: int) -> tuple[IPAddress, ...]:
        """Resolve ``host``: a literal address, a mapped name, or a DNS lookup."""
        literal = parse_ip(host)
        if literal is not None:
            return (literal,)
        mapped = self.host_map.get(normalize_host(host))
        if mapped is not None:
            return (ipaddress.ip_address(mapped),)
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses: list[IPAddress] = []
        for info in infos:
            address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            if address not in addresses:
                addresses.append(address)
        if not addresses:
            raise OSError(f"no addresses for {host}")
        return tuple(addresses)


class MappedResolver:
    """Answers from a fixed ``host -> address`` map and never asks the system resolver.

    Every name it is asked about is recorded in :attr:`lookups` (normalised), so a test
    can see each name the browser's traffic needed. Names outside the map do not resolve.
    """

    def __init__(self, host_map: Mapping[str, str]) -> None:
        """Fix the map (its names are normalised: case, trailing dot).

        Args:
            host_map: Host name -> IP address; nothing else resolves.
        """
        self.host_map = normalized_map(host_map)
        self.lookups: list[str] = []

    async def resolve(self, host: str, port: int) -> tuple[IPAddress, ...]:
        """The mapped address of ``host`` (a literal answers itself); ``OSError`` otherwise."""
        literal = parse_ip(host)
        if literal is not None:
            return (literal,)
        name = normalize_host(host)
        self.lookups.append(name)
        mapped = self.host_map.get(name)
        if mapped is None:
            raise OSError(f"{name} is not in the fixed host map")
        return (ipaddress.ip_address(mapped),)


def normalized_map(host_map: Mapping[str, str]) -> Mapping[str, str]:
    """A read-only copy of ``host_map`` with its names normalised."""
    return MappingProxyType({normalize_host(k): v.strip() for k, v in host_map.items()})


def parse_ip(host: str) -> IPAddress | None:
    """The address ``host`` spells literally, including legacy IPv4 forms.

    ``127.1``, ``0x7f.0.0.1`` and ``2130706433`` all mean 127.0.0.1 to a browser, so
    they must mean it to the policy too.
    """
    host = normalize_host(host)
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    if host and all(
        part and all(c in "0123456789abcdefx" for c in part) for part in host.split(".")
    ):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def address_problem(address: IPAddress) -> str | None:
    """Why ``address`` is not a public unicast address, or ``None`` when it is."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address_problem(address.ipv4_mapped)
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address.is_private:
        return "private"
    if address.is_reserved:
        return "reserved"
    if not address.is_global:
        return "not globally routable"
    return None


@dataclass(frozen=True)
class Verdict:
    """The policy's answer about one URL or host.

    Attributes:
        allowed: Whether a connection may be made.
        reason: Why it was refused (model-readable); empty when allowed.
        addresses: The checked addresses a connection must use (empty when refused).
        unresolved: The host did not resolve (a network fact, not a safety refusal).
    """

    allowed: bool
    reason: str = ""
    addresses: tuple[IPAddress, ...] = ()
    unresolved: bool = False


@dataclass(frozen=True)
class UrlPolicy:
    """Decides whether the browser may connect to a URL or host.

    Attributes:
        allowlist: Hosts and networks exempt from the private-address rule.
        resolver: How host names become addresses.
    """

    allowlist: Allowlist = field(default_factory=Allowlist)
    resolver: HostResolver = field(default_factory=SystemResolver)

    def check_scheme(self, url: str) -> Verdict:
        """Refuse every URL that is not ``http``/``https`` with a host (no DNS needed)."""
        try:
            parts = urlsplit(url)
        except ValueError:
            return Verdict(False, f"{url!r} is not a valid URL")
        scheme = parts.scheme.lower()
        if scheme not in ALLOWED_SCHEMES:
            shown = f"{scheme}:" if scheme else "a URL without a scheme"
            return Verdict(False, f"{shown} URLs are not allowed; only http and https")
        if not parts.hostname:
            return Verdict(False, f"{url!r} has no host")
        return Verdict(True)

    async def check_url(self, url: str) -> Verdict:
        """Check scheme, then the host's addresses after DNS resolution."""
        verdict = self.check_scheme(url)
        if not verdict.allowed:
            return verdict
        parts = urlsplit(url)
        try:
            port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        except ValueError:
            return Verdict(False, f"{url!r} has an invalid port")
        return await self.check_host(parts.hostname or "", port)

    async def check_host(self, host: str, port: int) -> Verdict:
        """Resolve ``host`` and admit it only if every address is public or allowlisted."""
        host = normalize_host(host)
        literal = parse_ip(host)
        try:
            addresses = (literal,) if literal else await self.resolver.resolve(host, port)
        except (OSError, ValueError, UnicodeError):
            return Verdict(False, f"the host {host} could not be resolved", unresolved=True)
        if self.allowlist.admits_host(host, port):
            return Verdict(True, addresses=addresses)
        for address in addresses:
            problem = address_problem(address)
            if problem is not None and not self.allowlist.admits_address(address, port):
                return Verdict(False, self._refusal(host, port, address, problem))
        return Verdict(True, addresses=addresses)

    def _refusal(self, host: str, port: int, address: IPAddress, problem: str) -> str:
        ports = self.allowlist.ports_of(host)
        if ports:
            only = ", ".join(str(p) for p in ports)
            return (
                f"{host} resolves to {address}, a {problem} address, and only port {only} "
                f"of it is allowlisted, not {port}"
            )
        if str(address) == host:
            return f"{host} is a {problem} address and not allowlisted"
        return f"{host} resolves to {address}, a {problem} address, and is not allowlisted"


def host_resolver_rules(host_map: Mapping[str, str]) -> str:
    """Chromium's ``--host-resolver-rules`` value for ``host_map`` (empty map: ``""``)."""
    return ", ".join(f"MAP {host} {address}" for host, address in sorted(host_map.items()))

"""The URL and host safety policy: which addresses the browser may talk to.

This module owns the decision, not the enforcement: :class:`UrlPolicy` checks a URL's
scheme, resolves its host (through a :class:`HostResolver`) and refuses addresses that
are loopback, private, link-local, multicast, unspecified or otherwise not globally
routable, unless an :class:`Allowlist` admits the host name or the address. The egress
proxy (:mod:`.egress`) asks it about every connection Chromium opens.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

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


def normalize_host(host: str) -> str:
    """Lower-case ``host``, strip IPv6 brackets and a trailing dot."""
    host = host.strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host.rstrip(".")


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
class Allowlist:
    """Hosts and networks that are reachable even though the policy would refuse them.

    Attributes:
        hosts: Host names admitted whatever they resolve to; ``*.example.com`` admits
            every subdomain of ``example.com`` (not ``example.com`` itself).
        networks: Networks whose addresses are admitted (``10.0.0.0/8``, ``127.0.0.1``).
    """

    hosts: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> Allowlist:
        """Build an allowlist from strings: each a CIDR, an address or a host pattern."""
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for raw in entries:
            entry = raw.strip()
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(normalize_host(entry), strict=False))
            except ValueError:
                hosts.add(normalize_host(entry))
        return cls(hosts=frozenset(hosts), networks=tuple(networks))

    def admits_host(self, host: str) -> bool:
        """Whether the host name itself is allowlisted."""
        host = normalize_host(host)
        if host in self.hosts:
            return True
        return any(
            pattern.startswith("*.") and host.endswith(pattern[1:]) for pattern in self.hosts
        )

    def admits_address(self, address: IPAddress) -> bool:
        """Whether ``address`` lies in an allowlisted network."""
        return any(address.version == net.version and address in net for net in self.networks)


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
        if self.allowlist.admits_host(host):
            return Verdict(True, addresses=addresses)
        for address in addresses:
            problem = address_problem(address)
            if problem is not None and not self.allowlist.admits_address(address):
                if str(address) == host:
                    return Verdict(False, f"{host} is a {problem} address and not allowlisted")
                return Verdict(
                    False,
                    f"{host} resolves to {address}, a {problem} address, and is not allowlisted",
                )
        return Verdict(True, addresses=addresses)


def host_resolver_rules(host_map: Mapping[str, str]) -> str:
    """Chromium's ``--host-resolver-rules`` value for ``host_map`` (empty map: ``""``)."""
    return ", ".join(f"MAP {host} {address}" for host, address in sorted(host_map.items()))

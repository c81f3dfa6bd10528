"""The browser's allowlist: hosts, networks and single ``host:port`` services it may reach.

:class:`Allowlist` is parsed from the user's entries (``intranet.example``,
``*.corp.example``, ``10.1.0.0/16``, ``localhost:8080``, ``[::1]:8080``); an entry with a
port admits that one port and nothing else on the host. Host names are compared
normalised (:func:`normalize_host`: case, IPv6 brackets, a trailing dot), so
``LOCALHOST.`` is ``localhost``. The decision that uses it is :mod:`.policy`'s.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from gptoss_agent.tools.errors import ToolConfigError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def normalize_host(host: str) -> str:
    """Lower-case ``host``, strip IPv6 brackets and a trailing dot."""
    host = host.strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host.rstrip(".")


@dataclass(frozen=True)
class Allowlist:
    """Hosts and networks that are reachable even though the policy would refuse them.

    Attributes:
        hosts: Host names admitted on any port whatever they resolve to;
            ``*.example.com`` admits every subdomain of ``example.com`` (not
            ``example.com`` itself).
        networks: Networks whose addresses are admitted on any port (``10.0.0.0/8``,
            ``127.0.0.1``).
        host_ports: ``(host pattern, port)`` pairs admitted on that port only
            (``localhost:8080``).
        network_ports: ``(network, port)`` pairs admitted on that port only
            (``127.0.0.1:8080``, ``[::1]:8080``).
    """

    hosts: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()
    host_ports: frozenset[tuple[str, int]] = frozenset()
    network_ports: tuple[tuple[IPNetwork, int], ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> Allowlist:
        """Build an allowlist from strings, each a CIDR, an address or a host pattern.

        Each may end in ``:port`` to admit that port only (IPv6 addresses then go in
        brackets: ``[::1]:8080``).

        Raises:
            ToolConfigError: An entry is a URL, has a path, or a port that is not 1-65535.
        """
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        host_ports: set[tuple[str, int]] = set()
        network_ports: list[tuple[IPNetwork, int]] = []
        for raw in entries:
            entry = raw.strip()
            if not entry:
                continue
            target, port = _split_entry(entry)
            network = _network(target)
            if network is not None:
                if port is None:
                    networks.append(network)
                else:
                    network_ports.append((network, port))
            elif port is None:
                hosts.add(target)
            else:
                host_ports.add((target, port))
        return cls(frozenset(hosts), tuple(networks), frozenset(host_ports), tuple(network_ports))

    def admits_host(self, host: str, port: int | None = None) -> bool:
        """Whether the host name itself is allowlisted (on ``port``, when one is given).

        An entry with a port never admits a question without one.
        """
        host = normalize_host(host)
        if any(_host_matches(pattern, host) for pattern in self.hosts):
            return True
        return port is not None and any(
            port == allowed and _host_matches(pattern, host) for pattern, allowed in self.host_ports
        )

    def ports_of(self, host: str) -> tuple[int, ...]:
        """The ports a ``host:port`` entry admits for ``host`` (empty when none does)."""
        host = normalize_host(host)
        found = {port for pattern, port in self.host_ports if _host_matches(pattern, host)}
        return tuple(sorted(found))

    def admits_address(self, address: IPAddress, port: int | None = None) -> bool:
        """Whether ``address`` lies in an allowlisted network (on ``port``, when given)."""
        if any(_in_network(address, net) for net in self.networks):
            return True
        return port is not None and any(
            port == allowed and _in_network(address, net) for net, allowed in self.network_ports
        )


def _host_matches(pattern: str, host: str) -> bool:
    return host == pattern or (pattern.startswith("*.") and host.endswith(pattern[1:]))


def _in_network(address: IPAddress, network: IPNetwork) -> bool:
    return address.version == network.version and address in network


def _network(target: str) -> IPNetwork | None:
    try:
        return ipaddress.ip_network(target, strict=False)
    except ValueError:
        return None


def _split_entry(entry: str) -> tuple[str, int | None]:
    """An allowlist entry's normalised target and its port (``None``: any port)."""
    target, port_text = entry, ""
    if entry.startswith("["):
        inner, _, rest = entry[1:].partition("]")
        target, port_text = inner, rest.removeprefix(":") if rest.startswith(":") else rest
    elif entry.count(":") == 1:
        target, _, port_text = entry.partition(":")
    target = normalize_host(target)  # else a bare IPv6 address or network, or a name
    if not target or "://" in entry or ("/" in target and _network(target) is None):
        raise ToolConfigError(
            f"allowlist entry {entry!r}: give a host name, *.domain, an address or a "
            "network, optionally with :port (no scheme or path)"
        )
    if not port_text:
        return target, None
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ToolConfigError(
            f"allowlist entry {entry!r}: the port must be a number from 1 to 65535"
        )
    return target, int(port_text)

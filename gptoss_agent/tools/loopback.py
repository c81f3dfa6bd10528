"""Whether an address to listen on is this machine only (:func:`is_loopback`).

Our HTTP servers (``serve``, ``mcp serve``) need a key unless they listen on loopback;
this is the one test of it.
"""

from __future__ import annotations

import ipaddress


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (``localhost``, 127.0.0.0/8, ``::1``).

    Anything else, ``0.0.0.0`` and ``::`` included, is off loopback.
    """
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False

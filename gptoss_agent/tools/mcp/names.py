"""Names the model can write for MCP tools whose own names are not identifiers.

MCP allows ``get-sum``, ``files/read`` or ``2fa.check``; a Harmony recipient
(``functions.everything_get_sum``, ``everything.get_sum``) wants an identifier. Each name
that is not one is mapped to a safe name; names that are already identifiers keep theirs
and win any clash, and a clash is settled with a numbered suffix and reported.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_UNSAFE = re.compile(r"[^A-Za-z0-9_]")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def safe_name(name: str) -> str:
    """``name`` with every character outside ``[A-Za-z0-9_]`` replaced by ``_``.

    A name that would start with a digit (or be empty) gets a leading ``_``.
    """
    cleaned = _UNSAFE.sub("_", name)
    return cleaned if cleaned and not cleaned[0].isdigit() else f"_{cleaned}"


@dataclass(frozen=True)
class NameMap:
    """The safe name of every tool of one listing.

    Attributes:
        by_safe: Each safe name and the MCP name it stands for, in listing order.
        collisions: One sentence per clash that needed a suffix, for logs and reports.
    """

    by_safe: dict[str, str]
    collisions: tuple[str, ...]

    @property
    def renamed(self) -> dict[str, str]:
        """The safe names that differ from their MCP names (safe name -> MCP name)."""
        return {safe: name for safe, name in self.by_safe.items() if safe != name}


def map_names(names: Iterable[str], server: str = "") -> NameMap:
    """Give each MCP tool name a unique safe name.

    Args:
        names: The tools' names in the server's order (duplicates are dropped: the
            first listing of a name wins).
        server: The server's name, for the collision messages.
    """
    ordered = list(dict.fromkeys(names))
    taken = {name for name in ordered if _IDENTIFIER.match(name)}
    chosen: dict[str, str] = {}
    collisions: list[str] = []
    for name in ordered:
        if name in taken:
            chosen[name] = name
            continue
        candidate = safe_name(name)
        final, number = candidate, 2
        while final in taken:
            final, number = f"{candidate}_{number}", number + 1
        if final != candidate:
            other = next((mcp for mcp, safe in chosen.items() if safe == candidate), candidate)
            collisions.append(
                f"MCP server {server!r}: tools {other!r} and {name!r} both map to "
                f"{candidate!r}; {name!r} is called {final!r}")
        taken.add(final)
        chosen[name] = final
    by_safe = {safe: name for name, safe in chosen.items()}
    return NameMap(by_safe, tuple(collisions))

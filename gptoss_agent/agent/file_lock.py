"""An exclusive, crash-safe lock on an open file (:func:`hold_exclusively`).

A transcript is appended to by one process at a time: a run, or one ``resume``. The lock
is the kernel's ``flock`` on the open file itself, so it goes away with the process that
held it — a crash or ``kill -9`` never leaves a stale lock behind, and there is no lock
file to clean up. On systems without ``fcntl`` the lock is not taken.
"""

from __future__ import annotations

from typing import IO, Any

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Linux or macOS
    fcntl = None  # type: ignore[assignment]


def hold_exclusively(handle: IO[Any]) -> bool:
    """Lock ``handle``'s file until the handle is closed; ``False`` if someone else holds it.

    "Someone else" is another process, or another open handle of the same file in this
    one.
    """
    if fcntl is None:  # pragma: no cover
        return True
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True

"""Whether a bind mount shows this machine's folder: what ``data_transport: auto`` checks.

``auto`` binds the session's folder at ``/mnt/data`` when the engine is reached through
a unix socket, since such an engine usually shares this machine's disks. Not always: a
socket forwarded from another machine (``ssh -L``), or an engine in another mount
namespace, would bind a folder of the same name on its own side, and the session's
files would silently never arrive. :func:`bind_shows_folder` settles it: it creates
(never starts) a container with the bind, puts a marker file with a random name into the
folder on this side, and asks the engine, through the archive API, whether the container
sees it (about 80 ms). The answer is kept per engine and parent folder (sessions' drives
are usually siblings), so later sessions ask nothing. The session then binds, or moves
``/mnt/data`` through a volume and archive copies as for a remote engine.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from gptoss_agent.sandbox.config import DATA_MOUNT, SandboxConfig
from gptoss_agent.sandbox.container import build_spec
from gptoss_agent.sandbox.errors import SandboxError

if TYPE_CHECKING:
    from gptoss_agent.sandbox.engine import Engine

MARKER_PREFIX = ".gptoss-bind-check-"
"""How the marker file's name starts (it exists only while the check runs)."""

_answers: dict[tuple[str, str], bool] = {}


def bind_shows_folder(engine: Engine, config: SandboxConfig, folder: Path,
                      labels: Mapping[str, str], session: str) -> bool:
    """Whether a container of ``engine`` that binds ``folder`` sees what is in it.

    Raises:
        SandboxError: The engine failed otherwise (the container could not be created).
    """
    key = (engine.base_url, str(folder.resolve().parent))
    if key not in _answers:
        _answers[key] = _check(engine, config, folder, labels, session)
    return _answers[key]


def _check(engine: Engine, config: SandboxConfig, folder: Path, labels: Mapping[str, str],
           session: str) -> bool:
    spec = build_spec(config, folder, labels, f"{session}-bindcheck")
    container_id = engine.create_container(spec)
    marker = folder / f"{MARKER_PREFIX}{secrets.token_hex(8)}"
    try:
        marker.write_bytes(b"")
        try:
            stream, _ = engine.api("check that /mnt/data shows this machine's folder",
                                   "get_archive", container_id, f"{DATA_MOUNT}/{marker.name}")
        except SandboxError as exc:
            if "No such" in str(exc) or "not found" in str(exc).lower():
                return False
            raise
        for _ in stream:  # a tar of one empty file: read it to the end, and let go
            pass
        return True
    finally:
        marker.unlink(missing_ok=True)
        with contextlib.suppress(SandboxError):
            engine.remove(container_id)

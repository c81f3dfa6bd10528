"""Ownership labels on sandbox containers, and removal of orphans from crashed runs.

Every container carries the host name, pid and process start time of the Python process
that created it (so does a data volume, for an engine on another machine).
:func:`reap_orphans` removes the containers and volumes whose owner on this host is
dead (a pid that exists again but started at another time counts as dead); containers
owned by live processes, or by other hosts sharing the engine, are left alone.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from gptoss_agent.sandbox.engine import SANDBOX_LABEL
from gptoss_agent.sandbox.errors import SandboxError

if TYPE_CHECKING:
    from gptoss_agent.sandbox.engine import Engine

OWNER_HOST = "gptoss-agent.owner-host"
OWNER_PID = "gptoss-agent.owner-pid"
OWNER_START = "gptoss-agent.owner-start"
SESSION = "gptoss-agent.session"
CREATED = "gptoss-agent.created"


def process_start_time(pid: int) -> str:
    """The start time of ``pid`` in clock ticks since boot (Linux), or ``""``."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return ""
    fields = stat[stat.rfind(b")") + 2 :].split()
    return fields[19].decode() if len(fields) > 19 else ""


def owner_labels(session: str) -> dict[str, str]:
    """The labels that mark a new container as owned by this process."""
    pid = os.getpid()
    return {
        SANDBOX_LABEL: "1",
        OWNER_HOST: socket.gethostname(),
        OWNER_PID: str(pid),
        OWNER_START: process_start_time(pid),
        SESSION: session[:200],
        CREATED: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def owner_alive(labels: Mapping[str, str]) -> bool:
    """Whether the process named by ``labels`` still runs (on this host).

    Containers of another host are reported alive: they are not ours to judge.
    """
    if labels.get(OWNER_HOST) != socket.gethostname():
        return True
    try:
        pid = int(labels.get(OWNER_PID, ""))
    except ValueError:
        return False
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    started = labels.get(OWNER_START, "")
    return not started or process_start_time(pid) in ("", started)


def reap_orphans(engine: Engine) -> list[str]:
    """Remove sandbox containers, then data volumes, whose owner is dead; return their ids."""
    removed = []
    for container in engine.sandbox_containers():
        labels = container.get("Labels") or {}
        if owner_alive(labels):
            continue
        with contextlib.suppress(SandboxError):
            engine.remove(str(container["Id"]))
            removed.append(str(container["Id"]))
    with contextlib.suppress(SandboxError):
        listed = engine.api("list data volumes", "volumes",
                            filters={"label": f"{SANDBOX_LABEL}=1"})
        for volume in (listed or {}).get("Volumes") or []:
            if owner_alive(volume.get("Labels") or {}):
                continue
            with contextlib.suppress(SandboxError):
                engine.api("remove a data volume", "remove_volume", volume["Name"], force=True)
                removed.append(str(volume["Name"]))
    return removed

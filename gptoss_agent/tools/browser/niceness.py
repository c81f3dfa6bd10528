"""Chromium at a lower CPU priority than the agent: a page's scripts never outrank it.

The browser runs pages' JavaScript, and a page can spin until its deadline. On a busy
machine the scheduler then shares the CPUs between that renderer, the agent's own
process (which serves every session) and the sandboxes; and Chromium started by root
raises its own browser and compositor threads to nice -8, ahead of everything else.
Measured on two cores with five hostile sessions (``bench/abuse_load.py``), that put
ordinary python calls of other sessions at several times their quiet latency.

:func:`launcher` writes a small launcher that starts Chromium ``nice`` steps nicer than
the agent and, where the agent may raise priorities itself (``CAP_SYS_NICE``, e.g.
root), without that capability, so Chromium cannot undo it. Uncontended, nothing is
slower; contended, the agent process and the sandboxes are served first.
"""

from __future__ import annotations

import os
import shlex
import shutil
from pathlib import Path

CAP_SETPCAP = 8
CAP_SYS_NICE = 23


def capabilities() -> int:
    """This process's effective capabilities (``/proc/self/status``); 0 where unknown."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("CapEff:"):
                    return int(line.split()[1], 16)
    except (OSError, ValueError):
        pass
    return 0


def launch_command(executable: str, nice: int, effective: int | None = None) -> list[str]:
    """The command that starts ``executable`` ``nice`` steps nicer, unable to undo it.

    ``CAP_SYS_NICE`` is dropped (with ``setpriv``) only when this process holds it and
    may drop it (``CAP_SETPCAP``); without it, Chromium cannot raise priorities anyway.
    """
    caps = capabilities() if effective is None else effective
    command: list[str] = []
    setpriv = shutil.which("setpriv")
    if caps >> CAP_SYS_NICE & 1 and caps >> CAP_SETPCAP & 1 and setpriv:
        command += [setpriv, "--bounding-set=-sys_nice", "--inh-caps=-sys_nice", "--"]
    return [*command, shutil.which("nice") or "nice", "-n", str(nice), executable]


def launcher(executable: str, nice: int, folder: Path) -> Path:
    """Write, in ``folder``, an executable that runs :func:`launch_command` with its args."""
    command = " ".join(shlex.quote(part) for part in launch_command(executable, nice))
    path = folder / "chromium"
    path.write_text(f'#!/bin/sh\nexec {command} "$@"\n', encoding="utf-8")
    os.chmod(path, 0o700)
    return path

"""The hardened container definition (:class:`ContainerSpec`), built from a config.

A pure function of :class:`~gptoss_agent.sandbox.config.SandboxConfig`, the session's
host data folder and its labels, so the hardening can be read and tested without an
engine. :mod:`gptoss_agent.sandbox.engine` turns the spec into API calls.
"""

from __future__ import annotations

import math
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from gptoss_agent.sandbox.config import DATA_MOUNT, SANDBOX_HOME, SandboxConfig
from gptoss_agent.sandbox.errors import SandboxConfigError
from gptoss_agent.sandbox.kernel import BOOTSTRAP, CONTAINED_ENV, UMASK_ENV
from gptoss_agent.sandbox.limits import MIB
from gptoss_agent.sandbox.priority import NORMAL_SHARES


@dataclass(frozen=True)
class ContainerSpec:
    """Everything needed to create one sandbox container.

    Attributes:
        name: Container name (``gptoss-sbx-<session>-<random>``).
        image: Image to run.
        command: The bootstrap that receives the kernel over stdin.
        user: ``uid:gid`` of every process in the container.
        environment: Environment of the kernel.
        labels: Ownership labels (see :mod:`gptoss_agent.sandbox.labels`).
        working_dir: Initial directory (``/mnt/data``).
        hostname: Host name seen inside.
        network: Whether a network beyond loopback is attached.
        host_config: Keyword arguments for docker-py's ``create_host_config``.
        ulimits: ``(name, soft, hard)`` resource limits.
    """

    name: str
    image: str
    command: tuple[str, ...]
    user: str
    environment: Mapping[str, str]
    labels: Mapping[str, str]
    working_dir: str
    hostname: str
    network: bool
    host_config: Mapping[str, Any] = field(default_factory=dict)
    ulimits: tuple[tuple[str, int, int], ...] = ()


def container_name(session: str) -> str:
    """A unique, valid container name that still shows which session it serves."""
    slug = re.sub(r"[^a-zA-Z0-9_.-]+", "-", session).strip("-.")[:40] or "session"
    return f"gptoss-sbx-{slug}-{secrets.token_hex(3)}"


def build_spec(
    config: SandboxConfig,
    data_dir: Path,
    labels: Mapping[str, str],
    session: str = "",
    data_volume: Mapping[str, Any] | None = None,
) -> ContainerSpec:
    """The hardened container for one session.

    Args:
        config: Image, limits and network choice.
        data_dir: Host folder mounted read-write at ``/mnt/data`` (a bind mount).
        labels: Ownership labels.
        session: Session id, used in the container name.
        data_volume: A ``HostConfig.Mounts`` entry that puts a volume at ``/mnt/data``
            instead (an engine on another machine): then the container has no binds.

    Raises:
        SandboxConfigError: ``extra_mounts`` asked for with a volume drive (a remote
            engine cannot bind this machine's folders).
    """
    if data_volume is not None and config.extra_mounts:
        raise SandboxConfigError(
            "SandboxConfig.extra_mounts bind host folders, which an engine on another "
            "machine cannot see; leave them out or use data_transport='bind'"
        )
    limits = config.limits
    uid, _, gid = config.user.partition(":")
    gid = gid or uid
    threads = str(max(1, math.ceil(limits.cpus)))
    host_uid = os.geteuid() if hasattr(os, "geteuid") else 0
    # Files the sandbox writes must stay removable by a host user with another uid.
    umask = "022" if host_uid in (0, int(uid) if uid.isdigit() else -1) else "000"
    environment = {
        "HOME": SANDBOX_HOME,
        "USER": "sandbox",
        "LANG": "C.UTF-8",
        "MPLBACKEND": "Agg",
        "PYTHONDONTWRITEBYTECODE": "1",
        "OMP_NUM_THREADS": threads,
        "OPENBLAS_NUM_THREADS": threads,
        "MKL_NUM_THREADS": threads,
        CONTAINED_ENV: "1",
        UMASK_ENV: umask,
        **dict(config.environment),
    }
    host_config = _host_config(config, data_dir, data_volume, uid, gid)
    fsize = limits.data_mb * MIB
    return ContainerSpec(
        name=container_name(session),
        image=config.image,
        command=("python3", "-c", BOOTSTRAP),
        user=f"{uid}:{gid}",
        environment=MappingProxyType(environment),
        labels=MappingProxyType(dict(labels)),
        working_dir=DATA_MOUNT,
        hostname="sandbox",
        network=config.network,
        host_config=MappingProxyType(host_config),
        ulimits=(
            ("nofile", limits.nofile, limits.nofile),
            ("nproc", limits.nproc, limits.nproc),
            ("fsize", fsize, fsize),
            ("core", 0, 0),
        ),
    )


def _host_config(
    config: SandboxConfig,
    data_dir: Path,
    data_volume: Mapping[str, Any] | None,
    uid: str,
    gid: str,
) -> dict[str, Any]:
    """The hardened ``HostConfig``: limits, tmpfs, no network, and the data drive."""
    limits = config.limits
    memory = limits.memory_mb * MIB
    host_config: dict[str, Any] = {
        "network_mode": "bridge" if config.network else "none",
        "read_only": True,
        "tmpfs": {
            "/tmp": f"rw,exec,nosuid,nodev,size={limits.tmp_mb}m,mode=1777",
            SANDBOX_HOME: f"rw,nosuid,nodev,size={limits.home_mb}m,mode=700,uid={uid},gid={gid}",
        },
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "pids_limit": limits.pids,
        "mem_limit": memory,
        "memswap_limit": memory,
        "nano_cpus": int(limits.cpus * 1e9),
        "cpu_shares": NORMAL_SHARES,
        "shm_size": 64 * MIB,
        "init": True,
        "ipc_mode": "private",
        "oom_score_adj": 500,
    }
    if data_volume is not None:
        host_config["mounts"] = [dict(data_volume)]
    else:
        host_config["binds"] = {
            str(data_dir): {"bind": DATA_MOUNT, "mode": "rw"},
            **{host: {"bind": inside, "mode": "rw"} for host, inside in config.extra_mounts},
        }
    return host_config

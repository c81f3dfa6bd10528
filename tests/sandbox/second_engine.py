"""A second Docker engine for the remote-engine tests: its own dockerd, socket and disks.

Started as root with its own ``--host`` socket, ``--data-root``, ``--exec-root`` and
``--pidfile``, without a bridge or iptables rules (so it cannot clash with the main
engine), the sandbox image copied into it through the Engine API (save from the main
engine, load into this one), and always stopped afterwards. It runs in a mount namespace
of its own with an empty tmpfs over :data:`HIDDEN` (the system temp folder, where every
test's session folders are), so, like an engine on another machine, it cannot see them:
a bind would show it an empty folder. Its data root is kept between runs under
:data:`BASE` (outside that folder), so the 900 MB image copy happens once per machine.
It also listens on a loopback TCP port with TLS (``--tlsverify``, a throwaway CA from
:func:`~tests.sandbox.engine_access.make_certificates`), the way an engine on another
machine is usually reached. A machine that cannot start it fails the tests in CI
(``require_or_skip``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from gptoss_agent.sandbox import DEFAULT_IMAGE, SandboxError
from gptoss_agent.sandbox.engine import Engine
from tests.sandbox.engine_access import make_certificates
from tests.support import free_port, require_or_skip, stop_process

BASE = Path(os.environ.get("GPTOSS_SECOND_DOCKERD", "/var/lib/gptoss-dockerd2"))
"""Where the second engine keeps its socket, data root, exec root, pid file and log."""

HIDDEN = Path(tempfile.gettempdir())
"""What the second engine does not see (an empty tmpfs over it in its namespace)."""

SOCKET = BASE / "docker.sock"
START_TIMEOUT_S = 60.0
IMAGE_COPY_TIMEOUT_S = 900.0


def _stop_pid_file(pidfile: Path) -> None:
    """Stop a daemon a crashed earlier run left behind (its pid file names it)."""
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        for _ in range(300):
            os.kill(pid, 0)
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)


def _connect_when_ready(process: subprocess.Popen[bytes]) -> Engine:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if process.poll() is not None:
            log = (BASE / "dockerd.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"the second dockerd exited ({process.returncode}): {log}")
        if SOCKET.exists():
            with contextlib.suppress(SandboxError):
                return Engine.connect(f"unix://{SOCKET}", timeout_s=30.0)
        if time.monotonic() > deadline:
            raise RuntimeError(f"the second dockerd did not answer within {START_TIMEOUT_S}s")
        time.sleep(0.2)  # polling a socket that is not there yet: nothing to wait on


def copy_image(source: Engine, target: Engine, image: str = DEFAULT_IMAGE) -> None:
    """Copy ``image`` through the API (``docker save | docker load``) unless it is there."""
    wanted = source.api("inspect the sandbox image", "inspect_image", image)["Id"]
    with contextlib.suppress(SandboxError):
        if target.api("inspect the sandbox image", "inspect_image", image)["Id"] == wanted:
            return
    import docker

    reader = docker.APIClient(timeout=IMAGE_COPY_TIMEOUT_S)
    writer = docker.APIClient(base_url=f"unix://{SOCKET}", timeout=IMAGE_COPY_TIMEOUT_S)
    try:
        for _ in writer.load_image(reader.get_image(image)) or ():
            pass
    finally:
        reader.close()
        writer.close()


@dataclass(frozen=True)
class SecondEngine:
    """The running second engine and its TLS endpoint.

    Attributes:
        engine: Connected through its unix socket (:data:`SOCKET`).
        tls_host: ``tcp://127.0.0.1:PORT``, which needs a client certificate.
        cert_path: The client's certificates (``ca.pem``, ``cert.pem``, ``key.pem``), as
            ``DOCKER_CERT_PATH`` names them.
    """

    engine: Engine
    tls_host: str
    cert_path: Path


def _tls_flags(folder: Path, port: int) -> list[str]:
    return [
        f"--host=tcp://127.0.0.1:{port}", "--tlsverify",
        f"--tlscacert={folder / 'ca.pem'}",
        f"--tlscert={folder / 'server-cert.pem'}",
        f"--tlskey={folder / 'server-key.pem'}",
    ]


@contextlib.contextmanager
def second_engine(main: Engine) -> Iterator[SecondEngine]:
    """A running second engine holding the sandbox image; stopped on exit."""
    dockerd = shutil.which("dockerd")
    require_or_skip(dockerd is not None, "dockerd is not installed (the remote-engine tests)")
    require_or_skip(os.geteuid() == 0, "a second dockerd needs root (the remote-engine tests)")
    BASE.mkdir(parents=True, exist_ok=True)
    pidfile = BASE / "docker.pid"
    _stop_pid_file(pidfile)
    with contextlib.suppress(FileNotFoundError):
        SOCKET.unlink()
    unshare = shutil.which("unshare")
    require_or_skip(unshare is not None, "unshare is not installed (the remote-engine tests)")
    assert unshare is not None and not BASE.is_relative_to(HIDDEN)
    certificates = BASE / "tls"
    shutil.rmtree(certificates, ignore_errors=True)
    client_certs = make_certificates(certificates)
    port = free_port()
    hide = 'mount -t tmpfs gptoss-elsewhere "$1" && shift && exec "$@"'
    command = [
        str(unshare), "--mount", "--propagation", "private", "sh", "-c", hide, "sh",
        str(HIDDEN), str(dockerd),
        f"--host=unix://{SOCKET}",
        f"--data-root={BASE / 'data'}",
        f"--exec-root={BASE / 'exec'}",
        f"--pidfile={pidfile}",
        "--bridge=none",
        "--iptables=false",
        "--ip6tables=false",
        *_tls_flags(certificates, port),
    ]
    with open(BASE / "dockerd.log", "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    engine: Engine | None = None
    try:
        engine = _connect_when_ready(process)
        copy_image(main, engine)
        yield SecondEngine(engine, f"tcp://127.0.0.1:{port}", client_certs)
    finally:
        if engine is not None:
            for container in _safe(engine.sandbox_containers):
                with contextlib.suppress(SandboxError):
                    engine.remove(str(container["Id"]))
            engine.close()
        stop_process(process, 60)


def _safe(listing: object) -> list[dict]:
    try:
        return list(listing())  # type: ignore[operator]
    except SandboxError:
        return []

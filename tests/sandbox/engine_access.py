"""Ways to reach the second engine as users reach one on another machine: TLS and ssh.

:func:`make_certificates` writes a throwaway certificate authority, a server certificate
for ``127.0.0.1`` and a client certificate with ``openssl``, laid out as dockerd's
``--tls*`` flags and ``DOCKER_CERT_PATH`` expect. :func:`ssh_server` starts an OpenSSH
server of its own on a loopback port (its own host key, config and authorized key) whose
every session runs ``docker system dial-stdio`` against a given engine socket, and writes
the client side (``.ssh/config``, ``known_hosts``, the key) into a folder to use as
``HOME``, which is where paramiko, and so docker-py, reads them.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support import free_port, require_or_skip, stop_process

START_TIMEOUT_S = 30.0
SSH_ALIAS = "gptoss-remote"
"""The host name the client's ``.ssh/config`` maps to the test's sshd."""


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def _signed(folder: Path, name: str, subject: str, extensions: str) -> None:
    """``name-key.pem`` and ``name-cert.pem``, signed by the folder's ``ca.pem``."""
    key, request = folder / f"{name}-key.pem", folder / f"{name}.csr"
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", str(key), "-out", str(request), "-subj", subject)
    (folder / f"{name}.ext").write_text(extensions)
    _openssl("x509", "-req", "-in", str(request), "-CA", str(folder / "ca.pem"),
             "-CAkey", str(folder / "ca-key.pem"), "-CAcreateserial", "-days", "2",
             "-out", str(folder / f"{name}-cert.pem"), "-extfile", str(folder / f"{name}.ext"))


def make_certificates(folder: Path) -> Path:
    """A CA, a server and a client certificate in ``folder``; returns the client's folder.

    The server's files are ``ca.pem``, ``server-cert.pem`` and ``server-key.pem``; the
    returned folder holds ``ca.pem``, ``cert.pem`` and ``key.pem``, the names docker-py
    reads from ``DOCKER_CERT_PATH``.
    """
    require_or_skip(shutil.which("openssl") is not None, "openssl is not installed")
    folder.mkdir(parents=True, exist_ok=True)
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", str(folder / "ca-key.pem"), "-out", str(folder / "ca.pem"),
             "-days", "2", "-subj", "/CN=gptoss-agent test CA")
    _signed(folder, "server", "/CN=127.0.0.1",
            "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    _signed(folder, "client", "/CN=gptoss-agent tests", "extendedKeyUsage=clientAuth\n")
    client = folder / "client"
    client.mkdir(exist_ok=True)
    shutil.copy(folder / "ca.pem", client / "ca.pem")
    shutil.copy(folder / "client-cert.pem", client / "cert.pem")
    shutil.copy(folder / "client-key.pem", client / "key.pem")
    return client


@dataclass(frozen=True)
class SshAccess:
    """A running test sshd and the client files that reach it.

    Attributes:
        home: A folder to use as ``HOME``: ``.ssh/config`` maps :data:`SSH_ALIAS` to the
            server, ``.ssh/known_hosts`` holds its host key.
        docker_host: ``ssh://`` address of the engine behind the server.
        port: The server's loopback port.
    """

    home: Path
    docker_host: str
    port: int


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
                   check=True, capture_output=True, timeout=60)


def _client_home(folder: Path, port: int) -> Path:
    home = folder / "home"
    dot_ssh = home / ".ssh"
    dot_ssh.mkdir(parents=True)
    (dot_ssh / "config").write_text(
        f"Host {SSH_ALIAS}\n  HostName 127.0.0.1\n  Port {port}\n  User root\n"
        f"  IdentityFile {folder / 'client_key'}\n")
    host_key = (folder / "host_key.pub").read_text().split()
    (dot_ssh / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_key[0]} {host_key[1]}\n")
    return home


def _wait_for_port(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"sshd exited ({process.returncode}): {log.read_text()[-2000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"sshd did not listen on {port} within {START_TIMEOUT_S}s")
        time.sleep(0.1)  # polling a port that is not open yet: nothing to wait on


@contextlib.contextmanager
def ssh_server(folder: Path, engine_socket: Path) -> Iterator[SshAccess]:
    """An sshd on a loopback port whose sessions dial ``engine_socket``; stopped on exit."""
    sshd = shutil.which("sshd") or "/usr/sbin/sshd"
    require_or_skip(Path(sshd).exists(), "sshd is not installed (openssh-server)")
    require_or_skip(shutil.which("docker") is not None, "the docker CLI is not installed")
    folder.mkdir(parents=True, exist_ok=True)
    _keygen(folder / "host_key")
    _keygen(folder / "client_key")
    shutil.copy(folder / "client_key.pub", folder / "authorized_keys")
    port = free_port()
    (folder / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {folder / 'host_key'}\n"
        f"AuthorizedKeysFile {folder / 'authorized_keys'}\nPidFile {folder / 'sshd.pid'}\n"
        "PermitRootLogin prohibit-password\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
        f"ForceCommand env DOCKER_HOST=unix://{engine_socket} docker system dial-stdio\n")
    Path("/run/sshd").mkdir(exist_ok=True)  # its privilege-separation folder
    log = folder / "sshd.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([sshd, "-D", "-e", "-f", str(folder / "sshd_config")],
                                   stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_for_port(process, port, log)
        yield SshAccess(_client_home(folder, port), f"ssh://{SSH_ALIAS}", port)
    finally:
        stop_process(process, 30)

"""An engine on another machine reached as users reach one: tcp with TLS, and ssh.

Both go to the second dockerd (its own data root, blind to this machine's temp folder):
over its TLS port with a client certificate from ``DOCKER_CERT_PATH``, and through a
real OpenSSH server whose sessions run ``docker system dial-stdio``. The kernel's attach
stream is then an ``SSLSocket`` or a paramiko channel, bridged to a plain socket; the
files travel by archive copies into a volume.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from gptoss_agent.sandbox import EngineUnavailableError, ExecutionStatus
from gptoss_agent.sandbox.engine import Engine

from .engine_access import SshAccess, make_certificates, ssh_server
from .second_engine import SOCKET, SecondEngine
from .test_sandbox_remote import remote_box

pytestmark = pytest.mark.docker

TLS_VARIABLES = ("DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH")


@pytest.fixture(scope="module")
def ssh_access(second_dockerd: SecondEngine, tmp_path_factory) -> Iterator[SshAccess]:
    with ssh_server(tmp_path_factory.mktemp("sshd"), SOCKET) as access:
        yield access


@pytest.fixture
def tls_environment(second_dockerd: SecondEngine, monkeypatch) -> SecondEngine:
    """The TLS variables set as for the docker CLI, ``DOCKER_HOST`` not set."""
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    monkeypatch.setenv("DOCKER_CERT_PATH", str(second_dockerd.cert_path))
    return second_dockerd


def _drive(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / "drive"
    folder.mkdir()
    (folder / "input.txt").write_text(f"sent over {name}")
    return folder


async def _round_trip(engine: Engine, folder: Path, name: str) -> None:
    """Files in and out, state kept, a timed-out call interrupted: all with no binds."""
    box = remote_box(engine, folder, name, transport="auto", timeout_s=6.0)
    try:
        first = await box.execute(
            "import os\nkept = open('/mnt/data/input.txt').read()\n"
            "open('/mnt/data/big.bin', 'wb').write(os.urandom(1 << 20))\nkept")
        assert first.value == f"'sent over {name}'", first
        assert first.files_created == ("big.bin",)
        digest = hashlib.sha256((folder / "big.bin").read_bytes()).hexdigest()
        check = await box.execute(
            "import hashlib\nhashlib.sha256(open('/mnt/data/big.bin', 'rb').read()).hexdigest()")
        assert check.value == repr(digest)
        spin = await box.execute("while True:\n    pass", timeout_s=2.0)
        assert spin.status is ExecutionStatus.TIMEOUT and spin.limit == "timeout_s", spin
        after = await box.execute("kept.upper()")
        assert after.value == repr(f"SENT OVER {name}".upper()) and not after.state_reset
        info = engine.inspect(box.container_id)
        assert not info["HostConfig"].get("Binds")
        assert [m["Type"] for m in info["Mounts"]] == ["volume"]
    finally:
        await box.close()
    assert engine.inspect(info["Id"]) is None


async def test_a_tls_engine_named_by_the_environment_moves_files_by_copies(
        tls_environment, monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", tls_environment.tls_host)
    engine = Engine.connect(None, timeout_s=30.0)
    try:
        assert engine.base_url == tls_environment.tls_host
        await _round_trip(engine, _drive(tmp_path, "tls-env"), "tls-env")
    finally:
        engine.close()


async def test_an_explicit_tcp_address_speaks_tls_with_the_environments_certificates(
        tls_environment, tmp_path):
    # --docker-host tcp://... with DOCKER_TLS_VERIFY and DOCKER_CERT_PATH set, as the
    # docker CLI reads them, instead of plain HTTP to a port that expects TLS.
    engine = Engine.connect(tls_environment.tls_host, timeout_s=30.0)
    try:
        await _round_trip(engine, _drive(tmp_path, "tls-explicit"), "tls-explicit")
    finally:
        engine.close()


def test_the_tls_port_refuses_clients_without_its_certificates(
        second_dockerd, monkeypatch, tmp_path):
    for name in TLS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(EngineUnavailableError, match="cannot reach the Docker engine at tcp"):
        Engine.connect(second_dockerd.tls_host, timeout_s=10.0)
    # Certificates from another authority: neither side accepts the other's.
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    monkeypatch.setenv("DOCKER_CERT_PATH", str(make_certificates(tmp_path / "stranger")))
    with pytest.raises(EngineUnavailableError, match="(?i)certificate|ssl"):
        Engine.connect(second_dockerd.tls_host, timeout_s=10.0)


async def test_an_ssh_engine_moves_files_by_copies(ssh_access, monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(ssh_access.home))
    engine = Engine.connect(ssh_access.docker_host, timeout_s=30.0)
    try:
        # The port comes from ~/.ssh/config's Port line (docker-py alone would use 22).
        assert engine.base_url == f"{ssh_access.docker_host}:{ssh_access.port}"
        await _round_trip(engine, _drive(tmp_path, "ssh"), "ssh")
    finally:
        engine.close()


def test_an_ssh_host_whose_key_is_not_known_is_refused(ssh_access, monkeypatch, tmp_path):
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "config").write_text((ssh_access.home / ".ssh" / "config").read_text())
    (home / ".ssh" / "known_hosts").write_text("")
    monkeypatch.setenv("HOME", str(home))
    with pytest.raises(EngineUnavailableError, match="not found in known_hosts"):
        Engine.connect(ssh_access.docker_host, timeout_s=10.0)

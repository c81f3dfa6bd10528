"""How an engine address becomes docker-py's client arguments (no engine needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gptoss_agent.sandbox import EngineUnavailableError
from gptoss_agent.sandbox.client import client_arguments, ssh_address


def _home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, config: str | None) -> None:
    (tmp_path / ".ssh").mkdir()
    if config is not None:
        (tmp_path / ".ssh" / "config").write_text(config)
    monkeypatch.setenv("HOME", str(tmp_path))


def test_an_ssh_address_takes_its_port_from_the_ssh_config(monkeypatch, tmp_path):
    _home(monkeypatch, tmp_path, "Host builder\n  Port 2222\nHost other\n  User x\n")
    assert ssh_address("ssh://builder") == "ssh://builder:2222"
    assert ssh_address("ssh://me@builder/") == "ssh://me@builder:2222"
    assert ssh_address("ssh://builder:2200") == "ssh://builder:2200"  # the address wins
    assert ssh_address("ssh://other") == "ssh://other"  # no Port line: docker-py's 22
    assert client_arguments("ssh://builder") == {"base_url": "ssh://builder:2222"}


def test_an_ssh_address_without_a_config_is_left_alone(monkeypatch, tmp_path):
    _home(monkeypatch, tmp_path, None)
    assert ssh_address("ssh://builder") == "ssh://builder"


def test_an_unreadable_ssh_config_is_an_engine_error(monkeypatch, tmp_path):
    _home(monkeypatch, tmp_path, "")
    (tmp_path / ".ssh" / "config").write_bytes(b"Host builder\n  Port \xff\xfe\n")
    with pytest.raises(EngineUnavailableError, match="cannot read"):
        ssh_address("ssh://builder")


def test_a_tcp_address_uses_the_tls_variables(monkeypatch, tmp_path):
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (tmp_path / name).write_text("")
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    monkeypatch.setenv("DOCKER_CERT_PATH", str(tmp_path))
    arguments = client_arguments("tcp://builder:2376")
    assert arguments["base_url"] == "tcp://builder:2376"
    assert arguments["tls"].ca_cert == str(tmp_path / "ca.pem")
    assert arguments["tls"].cert == (str(tmp_path / "cert.pem"), str(tmp_path / "key.pem"))
    monkeypatch.delenv("DOCKER_TLS_VERIFY")
    monkeypatch.delenv("DOCKER_CERT_PATH")
    assert client_arguments("tcp://builder:2375") == {"base_url": "tcp://builder:2375"}
    assert client_arguments("unix:///run/docker.sock") == {"base_url": "unix:///run/docker.sock"}

"""docker-py clients for an engine address, made as the docker CLI would reach it.

The address (``DOCKER_HOST`` and its TLS variables, or an explicit one) becomes the
client's arguments (:func:`client_arguments`): TLS for a ``tcp://`` engine with
certificates, paramiko for ``ssh://`` with the port ``~/.ssh/config`` names. The client
(:func:`new_client`) keeps the engine's own certificate authority at every request.
docker-py and paramiko are imported on first use; :mod:`.engine` wraps the client.
"""

from __future__ import annotations

import functools
import os
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gptoss_agent.sandbox.errors import EngineUnavailableError


def docker_module() -> Any:
    """The docker-py package, imported on first use."""
    try:
        import docker
    except ImportError as exc:  # pragma: no cover - docker is a dependency
        raise EngineUnavailableError(
            "the 'docker' Python package is not installed (pip install 'docker>=7')"
        ) from exc
    return docker


def client_arguments(docker_host: str | None) -> dict[str, Any]:
    """docker-py's client arguments for an engine address, read as the docker CLI does.

    ``None`` reads ``DOCKER_HOST`` and the TLS variables (``DOCKER_TLS_VERIFY``,
    ``DOCKER_CERT_PATH``). An explicit ``tcp://`` address uses the TLS variables too, so
    ``--docker-host tcp://builder:2376`` with the certificates in the environment speaks
    TLS rather than plain HTTP to a port that expects TLS. An ``ssh://`` address goes
    through paramiko, which reads ``~/.ssh/config`` and ``~/.ssh/known_hosts`` (an unknown
    host key is refused).
    """
    docker = docker_module()
    if docker_host is None:
        return dict(docker.utils.kwargs_from_env())
    if docker_host.startswith("tcp://"):
        environment = {**os.environ, "DOCKER_HOST": docker_host}
        return dict(docker.utils.kwargs_from_env(environment=environment))
    if docker_host.startswith("ssh://"):
        return {"base_url": ssh_address(docker_host)}
    return {"base_url": docker_host}


def ssh_address(address: str) -> str:
    """``address`` with the port ``~/.ssh/config`` gives its host, when it names none.

    docker-py reads the host name, user and key from ``~/.ssh/config`` but puts port 22
    into an address without one before it looks, so a ``Port`` line would be ignored.
    """
    parsed = urllib.parse.urlsplit(address)
    config = Path("~/.ssh/config").expanduser()
    if parsed.port is not None or not parsed.hostname or not config.is_file():
        return address
    import paramiko

    try:
        port = paramiko.SSHConfig.from_path(str(config)).lookup(parsed.hostname).get("port")
    except (OSError, UnicodeDecodeError, paramiko.SSHException) as exc:
        raise EngineUnavailableError(f"cannot read {config}: {short_error(exc)}") from exc
    return f"{address.rstrip('/')}:{port}" if port else address


@functools.cache
def _client_class() -> type:
    class EngineClient(docker_module().APIClient):  # type: ignore[misc]
        """docker-py's client, keeping its own TLS authority at every request."""

        def merge_environment_settings(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
            settings: dict[str, Any] = super().merge_environment_settings(*args, **kwargs)
            if isinstance(self.verify, str):
                settings["verify"] = self.verify
            return settings

    return EngineClient


def new_client(timeout_s: float, arguments: Mapping[str, Any]) -> Any:
    """A ``docker.APIClient`` whose TLS authority is the engine's own.

    requests replaces a session's CA bundle at every request with ``REQUESTS_CA_BUNDLE``
    or ``CURL_CA_BUNDLE`` when either is set (as on many machines behind a corporate
    proxy), so the engine's ``ca.pem`` from ``DOCKER_CERT_PATH`` would be ignored and the
    engine's certificate refused; this client keeps its own.
    """
    return _client_class()(timeout=timeout_s, **arguments)


def short_error(exc: BaseException) -> str:
    """An error's text for a message, at most 300 characters."""
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."

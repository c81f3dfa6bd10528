"""The connection to the Docker engine: the sandbox's only caller of docker-py.

:class:`Engine` wraps the ``docker.APIClient`` :mod:`.client` makes for an address with
the few calls the sandbox needs. Every
request carries a deadline (the client timeout, or a longer explicit one for image
builds), and every failure is translated into the package's errors: an engine that
cannot be reached or does not answer in time raises :class:`EngineUnavailableError`
quickly instead of hanging. Calls are blocking; async callers run them in a thread.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import socket
import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from gptoss_agent.sandbox.bridge import bridge, is_plain
from gptoss_agent.sandbox.client import client_arguments, docker_module, new_client, short_error
from gptoss_agent.sandbox.errors import (
    EngineUnavailableError,
    ImageBuildError,
    SandboxError,
)

if TYPE_CHECKING:
    from gptoss_agent.sandbox.container import ContainerSpec

SANDBOX_LABEL = "gptoss-agent.sandbox"
"""Label carried by every sandbox container (value ``"1"``)."""


def docker_py_installed() -> bool:
    """Whether the docker-py package can be imported (without importing it)."""
    return importlib.util.find_spec("docker") is not None


class Engine:
    """One Docker engine, reached through docker-py's low-level client.

    Args:
        client: A connected ``docker.APIClient``.
        timeout_s: The deadline of each request, in seconds.
        connect_kwargs: The arguments ``client`` was made with (``base_url``, ``tls``),
            used to open extra clients with longer deadlines (image builds).
    """

    def __init__(
        self, client: Any, timeout_s: float, connect_kwargs: Mapping[str, Any] | None = None
    ) -> None:
        self._client = client
        self.timeout_s = timeout_s
        self._connect_kwargs = dict(connect_kwargs or {})
        self.base_url: str = str(
            self._connect_kwargs.get("base_url") or getattr(client, "base_url", "")
        )
        if self.base_url in ("", "None", "http+docker://localhost"):
            self.base_url = "unix:///var/run/docker.sock"

    def _long_client(self, timeout_s: float) -> Any:
        return new_client(timeout_s, self._connect_kwargs)

    # -- connection --------------------------------------------------------------------

    @classmethod
    def connect(cls, docker_host: str | None = None, timeout_s: float = 30.0) -> Engine:
        """Connect and check that the engine answers.

        Args:
            docker_host: Engine address; ``None`` reads ``DOCKER_HOST`` (and the TLS
                variables) like the docker CLI, defaulting to the local socket.
            timeout_s: Deadline of each request, including this first one.

        Raises:
            EngineUnavailableError: The engine cannot be reached or did not answer.
        """
        where = docker_host or os.environ.get("DOCKER_HOST") or "the default Docker socket"
        try:
            kwargs = client_arguments(docker_host)
            client = new_client(timeout_s, kwargs)
            client.ping()
        except Exception as exc:
            raise EngineUnavailableError(
                f"cannot reach the Docker engine at {where} within {timeout_s:g}s: "
                f"{short_error(exc)}. Is dockerd running (see `gptoss-agent sandbox doctor`)?"
            ) from exc
        return cls(client, timeout_s, kwargs)

    def close(self) -> None:
        """Close the client's connection pool."""
        with contextlib.suppress(Exception):
            self._client.close()

    @contextlib.contextmanager
    def _call(self, what: str) -> Iterator[None]:
        docker = docker_module()
        import requests

        try:
            yield
        except docker.errors.NotFound:
            raise
        except docker.errors.APIError as exc:
            raise SandboxError(f"Docker engine refused to {what}: {short_error(exc)}") from exc
        except (docker.errors.DockerException, requests.RequestException, OSError) as exc:
            raise EngineUnavailableError(
                f"Docker engine at {self.base_url} failed to {what} within "
                f"{self.timeout_s:g}s: {short_error(exc)}"
            ) from exc

    def api(self, what: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call the client's ``method`` with this engine's deadline and error mapping.

        For requests other modules make (volumes, archives, ``exec``); a missing object
        becomes a :class:`SandboxError` whose text starts ``No such object``.
        """
        with self._call(what):
            try:
                return getattr(self._client, method)(*args, **kwargs)
            except docker_module().errors.NotFound as exc:
                raise SandboxError(f"No such object: {short_error(exc)}") from exc

    # -- engine and images -------------------------------------------------------------

    def version(self) -> Mapping[str, Any]:
        """The engine's version report (``Version``, ``ApiVersion``, ``Os``, ...)."""
        return dict(self.api("report its version", "version"))

    def info(self) -> Mapping[str, Any]:
        """The engine's ``docker info`` report."""
        return dict(self.api("report its configuration", "info"))

    def image_labels(self, image: str) -> Mapping[str, str] | None:
        """Labels of ``image``, or ``None`` when the image is not present."""
        docker = docker_module()
        try:
            with self._call(f"inspect image {image}"):
                data = self._client.inspect_image(image)
        except docker.errors.NotFound:
            return None
        return dict((data.get("Config") or {}).get("Labels") or {})

    def image_size(self, image: str) -> int | None:
        """Size of ``image`` in bytes, or ``None`` when absent."""
        with contextlib.suppress(docker_module().errors.NotFound), self._call(f"inspect {image}"):
            return int(self._client.inspect_image(image).get("Size") or 0)
        return None

    def pull(self, image: str, timeout_s: float) -> bool:
        """Whether ``image`` is present, pulling it from its registry if needed."""
        if self.image_labels(image) is not None:
            return True
        name, _, tag = image.rpartition(":")
        client = self._long_client(timeout_s)
        try:
            client.pull(name or image, tag=tag or "latest")
        except Exception:
            return False
        finally:
            client.close()
        return self.image_labels(image) is not None

    def import_image(
        self,
        chunks: Iterable[bytes],
        repository: str,
        tag: str,
        changes: list[str],
        timeout_s: float,
    ) -> str:
        """Import a root filesystem tar stream as an image (``docker import``).

        Raises:
            ImageBuildError: The engine rejected the import or it ran past ``timeout_s``.
        """
        client = self._long_client(timeout_s)
        try:
            result = client.import_image(
                src=iter(chunks),
                repository=repository,
                tag=tag,
                changes=changes,
                stream_src=True,
            )
            text = result if isinstance(result, str) else str(result)
        except Exception as exc:
            raise ImageBuildError(f"docker import failed: {short_error(exc)}") from exc
        finally:
            client.close()
        if '"error"' in text:
            raise ImageBuildError(f"docker import failed: {text[-500:]}")
        return text

    def build_image(
        self, dockerfile: str, tag: str, labels: Mapping[str, str], timeout_s: float
    ) -> Iterator[str]:
        """Build ``dockerfile`` (no context) as ``tag``; yields the build's log lines.

        Raises:
            ImageBuildError: The build failed or ran past ``timeout_s``.
        """
        import io

        client = self._long_client(timeout_s)
        try:
            stream = client.build(
                fileobj=io.BytesIO(dockerfile.encode()),
                tag=tag,
                labels=dict(labels),
                rm=True,
                forcerm=True,
                decode=True,
                timeout=int(timeout_s),
            )
            for chunk in stream:
                if "error" in chunk:
                    raise ImageBuildError(f"docker build failed: {chunk['error']}")
                text = chunk.get("stream") or chunk.get("status")
                if text:
                    yield str(text).rstrip("\n")
        except ImageBuildError:
            raise
        except Exception as exc:
            raise ImageBuildError(f"docker build failed: {short_error(exc)}") from exc
        finally:
            client.close()

    # -- containers --------------------------------------------------------------------

    def create_container(self, spec: ContainerSpec) -> str:
        """Create (not start) a container from ``spec``; return its id."""
        docker = docker_module()
        ulimits = [
            docker.types.Ulimit(name=name, soft=soft, hard=hard)
            for name, soft, hard in spec.ulimits
        ]
        with self._call("create a sandbox container"):
            host_config = self._client.create_host_config(
                ulimits=ulimits,
                log_config=docker.types.LogConfig(type="none"),
                **dict(spec.host_config),
            )
            created = self._client.create_container(
                image=spec.image,
                command=list(spec.command),
                user=spec.user,
                environment=dict(spec.environment),
                labels=dict(spec.labels),
                working_dir=spec.working_dir,
                hostname=spec.hostname,
                name=spec.name,
                stdin_open=True,  # docker-py also sets StdinOnce: stdin closes when we detach
                tty=False,
                network_disabled=not spec.network,
                host_config=host_config,
            )
        return str(created["Id"])

    def attach(self, container_id: str) -> socket.socket:
        """Attach to the container's stdin/stdout/stderr; return a plain socket.

        The socket is a duplicate owned by the caller; the HTTP response that produced
        it is released here.
        """
        with self._call("attach to a sandbox container"):
            raw = self._client.attach_socket(
                container_id,
                params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1},
            )
            inner = getattr(raw, "_sock", raw)
            if not is_plain(inner):
                return bridge(inner)  # TLS or ssh: asyncio gets a plain socket pair
            sock = inner.dup()
            with contextlib.suppress(Exception):
                raw.close()
            sock.settimeout(None)
            return sock

    def start(self, container_id: str) -> None:
        """Start a created container."""
        self.api("start a sandbox container", "start", container_id)

    def inspect(self, container_id: str) -> Mapping[str, Any] | None:
        """The container's inspect report, or ``None`` when it no longer exists."""
        docker = docker_module()
        try:
            with self._call("inspect a sandbox container"):
                return dict(self._client.inspect_container(container_id))
        except docker.errors.NotFound:
            return None

    def wait_stopped(self, container_id: str, timeout_s: float) -> Mapping[str, Any]:
        """Wait up to ``timeout_s`` for the container to stop; return its ``State``.

        An empty mapping means the container no longer exists.
        """
        docker = docker_module()
        try:
            self._client.wait(container_id, timeout=timeout_s)
        except docker.errors.NotFound:
            return {}
        except Exception:
            pass
        data = self.inspect(container_id)
        return dict(data.get("State") or {}) if data else {}

    def remove(self, container_id: str) -> None:
        """Kill and remove a container; a container that is already gone is fine."""
        docker = docker_module()
        try:
            with self._call("remove a sandbox container"):
                self._client.remove_container(container_id, force=True, v=True)
        except docker.errors.NotFound:
            return
        except SandboxError as exc:
            if "already in progress" in str(exc) or "No such container" in str(exc):
                return
            raise

    def kill(self, container_id: str) -> None:
        """Send SIGKILL to the container (for fault tests and emergencies)."""
        with contextlib.suppress(docker_module().errors.NotFound), self._call("kill a container"):
            self._client.kill(container_id)

    def top(self, container_id: str) -> list[dict[str, str]]:
        """The container's processes (``docker top``), one mapping per process."""
        with self._call("list a sandbox container's processes"):
            data = self._client.top(container_id, ps_args="-eo pid,ppid,stat,args")
        titles = [str(t) for t in data.get("Titles") or []]
        return [
            dict(zip(titles, map(str, row), strict=False)) for row in data.get("Processes") or []
        ]

    def sandbox_containers(self) -> list[Mapping[str, Any]]:
        """All containers (running or not) that carry the sandbox label."""
        found = self.api("list sandbox containers", "containers", all=True,
                         filters={"label": f"{SANDBOX_LABEL}=1"})
        return [dict(c) for c in found]

    def run_once(
        self, image: str, command: list[str], host_config: Mapping[str, Any], timeout_s: float
    ) -> tuple[int, bytes]:
        """Run a throw-away container to completion: ``(exit code, stdout)``.

        Used by the doctor and the benchmark's reference design (one container per call).
        """
        with self._call("run a container"):
            created = self._client.create_container(
                image=image,
                command=command,
                host_config=self._client.create_host_config(**dict(host_config)),
                network_disabled=True,
            )
            container_id = created["Id"]
        try:
            with self._call("run a container"):
                self._client.start(container_id)
                status = self._client.wait(container_id, timeout=timeout_s)
                output = self._client.logs(container_id, stdout=True, stderr=False)
        finally:
            self.remove(container_id)
        return int(status.get("StatusCode", -1)), bytes(output)


_engines: dict[tuple[str | None, float], Engine] = {}
_engines_lock = threading.Lock()


def shared_engine(docker_host: str | None, timeout_s: float) -> Engine:
    """The process-wide :class:`Engine` for this address, connected on first use."""
    key = (docker_host, timeout_s)
    with _engines_lock:
        engine = _engines.get(key)
    if engine is not None:
        return engine
    engine = Engine.connect(docker_host, timeout_s)
    with _engines_lock:
        return _engines.setdefault(key, engine)

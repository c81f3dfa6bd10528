"""The sandbox seam: the :class:`Sandbox` protocol a code-running session implements.

The python tool talks to this protocol only; :class:`~gptoss_agent.sandbox.session.DockerSandbox`
is the implementation, and tests may swap in their own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

from gptoss_agent.sandbox.results import ExecutionResult


@runtime_checkable
class Sandbox(Protocol):
    """A stateful Python session whose ``/mnt/data`` is a folder on the host."""

    @property
    def data_dir(self) -> Path:
        """The host folder that appears as ``/mnt/data`` inside the sandbox."""
        ...

    @property
    def timeout_s(self) -> float:
        """The default deadline of one call, in seconds."""
        ...

    @property
    def network(self) -> bool:
        """Whether code in the sandbox can reach a network beyond loopback."""
        ...

    async def execute(self, code: str, *, timeout_s: float | None = None) -> ExecutionResult:
        """Run ``code`` as the next notebook cell.

        What the code does wrong comes back in the result (errors, timeouts, crashes);
        only infrastructure failures raise
        (:class:`~gptoss_agent.sandbox.errors.SandboxError`).
        """
        ...

    async def close(self) -> None:
        """Remove the container. Idempotent; the data folder is kept."""
        ...

"""The error hierarchy of the sandbox package.

One small flat hierarchy: every exception the package defines derives from
:class:`SandboxError`. What the *code under test* does wrong (exceptions, timeouts,
crashes) is never raised: it comes back as an
:class:`~gptoss_agent.sandbox.results.ExecutionResult`. Two errors about the caller's
own input also derive from :class:`ValueError`, so code that validates with
``except ValueError`` keeps working.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator


class SandboxError(Exception):
    """Base of every error the sandbox package raises."""


class SandboxConfigError(SandboxError, ValueError):
    """A :class:`~gptoss_agent.sandbox.config.SandboxConfig` or its limits are invalid."""


class DataPathError(SandboxError, ValueError):
    """A path for the ``/mnt/data`` drive is unsafe (absolute, empty, ``..``, over a link)."""


class EngineUnavailableError(SandboxError):
    """The Docker engine cannot be reached, or did not answer within its deadline."""


class ImageNotFoundError(SandboxError):
    """The sandbox image is not present in the engine (build it with ``sandbox build``)."""


class ImageBuildError(SandboxError):
    """Building the sandbox image failed (missing tool, no root, mirror unreachable, ...)."""


class KernelError(SandboxError):
    """The in-container kernel could not be started or broke the wire protocol."""


class SandboxClosedError(SandboxError):
    """The sandbox was used after :meth:`close`."""


@contextlib.contextmanager
def unexpected_as(what: str) -> Iterator[None]:
    """Let sandbox errors and cancellation pass; turn anything else into a KernelError.

    Its message says ``what`` failed, and with which exception.
    """
    try:
        yield
    except (SandboxError, asyncio.CancelledError):
        raise
    except Exception as exc:
        raise KernelError(f"{what} failed: {type(exc).__name__}: {exc}") from exc

"""Running untrusted code: Docker session lifecycle, the in-container kernel, limits, images.

Knows nothing about agents, tools or Harmony.
"""

from gptoss_agent.sandbox.base import Sandbox
from gptoss_agent.sandbox.config import DEFAULT_IMAGE, SandboxConfig
from gptoss_agent.sandbox.errors import (
    EngineUnavailableError,
    ImageBuildError,
    ImageNotFoundError,
    KernelError,
    SandboxClosedError,
    SandboxError,
)
from gptoss_agent.sandbox.limits import SandboxLimits
from gptoss_agent.sandbox.pool import SandboxPool
from gptoss_agent.sandbox.results import ExecutionError, ExecutionResult, ExecutionStatus
from gptoss_agent.sandbox.session import DockerSandbox

__all__ = [
    "DEFAULT_IMAGE",
    "DockerSandbox",
    "EngineUnavailableError",
    "ExecutionError",
    "ExecutionResult",
    "ExecutionStatus",
    "ImageBuildError",
    "ImageNotFoundError",
    "KernelError",
    "Sandbox",
    "SandboxClosedError",
    "SandboxConfig",
    "SandboxError",
    "SandboxLimits",
    "SandboxPool",
]

"""Running untrusted code: Docker session lifecycle, the in-container kernel, limits, images.

Knows nothing about agents, tools or Harmony. The public face is re-exported here;
modules, one job each:

- :mod:`.base` -- the :class:`Sandbox` protocol; :mod:`.session` -- :class:`DockerSandbox`;
- :mod:`.pool` -- :class:`SandboxPool`, one sandbox per key;
- :mod:`.config` / :mod:`.limits` -- what a session is made of and its limits;
- :mod:`.container` -- the hardened container definition; :mod:`.labels` -- ownership
  labels and the orphan sweep; :mod:`.engine` -- the Docker Engine API (docker-py);
- :mod:`.kernel` -- the in-container kernel; :mod:`.framing` / :mod:`.channel` -- the
  host side of its wire protocol; :mod:`.replies` / :mod:`.results` -- what a call produced;
- :mod:`.datadir` -- the ``/mnt/data`` drive on the host; :mod:`.volume` -- the drive as
  a volume with archive copies, for an engine on another machine; :mod:`.bridge` -- a
  plain socket in front of a TLS or ssh attach stream;
- :mod:`.recipe` / :mod:`.image` / :mod:`.build_offline` -- the image and building it;
- :mod:`.doctor` / :mod:`.cli` -- ``sandbox doctor`` and ``sandbox build``;
- :mod:`.errors` -- the package's errors, all under :class:`SandboxError`.
"""

from gptoss_agent.sandbox.base import Sandbox
from gptoss_agent.sandbox.config import DEFAULT_IMAGE, SandboxConfig
from gptoss_agent.sandbox.errors import (
    DataPathError,
    EngineUnavailableError,
    ImageBuildError,
    ImageNotFoundError,
    KernelError,
    SandboxClosedError,
    SandboxConfigError,
    SandboxError,
)
from gptoss_agent.sandbox.limits import SandboxLimits
from gptoss_agent.sandbox.pool import SandboxPool
from gptoss_agent.sandbox.results import ExceptionInfo, ExecutionResult, ExecutionStatus
from gptoss_agent.sandbox.session import DockerSandbox

__all__ = [
    "DEFAULT_IMAGE",
    "DataPathError",
    "DockerSandbox",
    "EngineUnavailableError",
    "ExceptionInfo",
    "ExecutionResult",
    "ExecutionStatus",
    "ImageBuildError",
    "ImageNotFoundError",
    "KernelError",
    "Sandbox",
    "SandboxClosedError",
    "SandboxConfig",
    "SandboxConfigError",
    "SandboxError",
    "SandboxLimits",
    "SandboxPool",
]

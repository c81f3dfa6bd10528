"""Coding tools: ``apply_patch`` and ``shell`` in the python tool's sandbox workspace.

Modules, one job each:

- :mod:`.toolkit` -- :class:`CodingToolkit`, the two function tools and their results;
- :mod:`.v4a` -- the V4A patch format: :mod:`.v4a.syntax` (parsing) and
  :mod:`.v4a.apply` (matching and writing);
- :mod:`.cells` -- the cells that apply a patch and run a command inside the sandbox;
- :mod:`.workspace` -- the host side of a workspace: listing, diffing, copying back.
"""

from gptoss_agent.tools.coding.toolkit import (
    WORKSPACE_IN_CONTAINER,
    CodingToolkit,
    SandboxProvider,
    project_mount,
)
from gptoss_agent.tools.coding.v4a import PatchError

__all__ = [
    "WORKSPACE_IN_CONTAINER",
    "CodingToolkit",
    "PatchError",
    "SandboxProvider",
    "project_mount",
]

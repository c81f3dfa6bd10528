"""The Python cells the coding tools run in the sandbox: applying a patch, running bash.

A cell is source text for the session's kernel. Each one defines a single function named
``__gx_...``, calls it and deletes it again, so the model's own variables and imports in
the notebook are left alone.

The patch cell carries the *source* of :data:`PATCH_MODULES` and loads it under the same
module names, so a patch is applied inside the container (where a link the model planted
cannot make a write land on the host) by exactly the code the host tests. The modules
import only the standard library and each other, with ``from ... import`` statements,
which resolve through ``sys.modules`` without their parent packages; the cell registers
them for its duration and restores ``sys.modules`` afterwards.
"""

from __future__ import annotations

import functools
import importlib
from pathlib import Path

PATCH_MODULES = (
    "gptoss_agent.tools.errors",
    "gptoss_agent.tools.coding.v4a.syntax",
    "gptoss_agent.tools.coding.v4a.apply",
)
"""What a patch cell loads, in dependency order; the last one applies the patch."""

_PATCH_FUNCTION = """\
def __gx_apply_patch(patch, root, modules):
    import sys, types
    saved = {name: sys.modules.get(name) for name, _ in modules}
    try:
        for name, source in modules:
            module = types.ModuleType(name)
            sys.modules[name] = module
            exec(compile(source, name, "exec"), module.__dict__)
        apply = sys.modules[modules[-1][0]]
        return apply.summarise(apply.apply_patch(patch, apply.FileSystem(root)))
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
"""

_SHELL_FUNCTION = """\
def __gx_shell(command, root, timeout_s):
    import os, signal, subprocess
    process = subprocess.Popen(["bash", "-c", command], cwd=root,
                               stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        return f"[exit code {process.wait(timeout=timeout_s)}]"
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        return f"[killed after {timeout_s:g} seconds]"
"""


@functools.cache
def patch_module_sources() -> tuple[tuple[str, str], ...]:
    """``(module name, source)`` of each of :data:`PATCH_MODULES`."""
    sources = []
    for name in PATCH_MODULES:
        module = importlib.import_module(name)
        sources.append((name, Path(str(module.__file__)).read_text(encoding="utf-8")))
    return tuple(sources)


def patch_cell(patch: str, root: str) -> str:
    """A cell that applies the V4A ``patch`` to the workspace folder ``root``.

    It prints the summary of the applied changes; a patch that does not apply raises
    ``PatchError`` in the cell, and nothing is written.
    """
    return _PATCH_FUNCTION + _call("__gx_apply_patch", patch, root, patch_module_sources())


def shell_cell(command: str, root: str, timeout_s: float) -> str:
    """A cell that runs ``command`` with bash in ``root``, killed with its group at the deadline.

    The command's output goes to the cell's output; the cell then prints
    ``[exit code N]`` or ``[killed after T seconds]``.
    """
    return _SHELL_FUNCTION + _call("__gx_shell", command, root, float(timeout_s))


def _call(function: str, *args: object) -> str:
    """Cell source that prints ``function(*args)`` and then deletes ``function``."""
    arguments = ", ".join(repr(arg) for arg in args)
    return f"try:\n    print({function}({arguments}))\nfinally:\n    del {function}\n"

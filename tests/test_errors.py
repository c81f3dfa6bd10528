"""One error root per package, and names ending in ``Error`` are exceptions only."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import gptoss_agent
from gptoss_agent.agent.errors import AgentError
from gptoss_agent.sandbox.errors import SandboxError
from gptoss_agent.tools.errors import ToolError

ROOTS = {"gptoss_agent.agent": AgentError, "gptoss_agent.tools": ToolError,
         "gptoss_agent.sandbox": SandboxError}
SIGNALS = {"CommandFailed"}
"""Exceptions used as control flow inside one module, never raised to a caller."""


def _classes() -> list[tuple[str, type]]:
    found = []
    for info in pkgutil.walk_packages(gptoss_agent.__path__, "gptoss_agent."):
        if info.name.endswith("__main__") or info.name == "gptoss_agent.sandbox.kernel":
            continue  # the kernel runs inside the container and imports nothing of ours
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if inspect.isclass(value) and value.__module__ == info.name:
                found.append((info.name, value))
    return found


def test_names_ending_in_error_are_exceptions() -> None:
    wrong = [f"{module}.{cls.__name__}" for module, cls in _classes()
             if cls.__name__.endswith("Error") and not issubclass(cls, BaseException)]
    assert wrong == []


def test_every_exception_derives_from_its_package_root() -> None:
    wrong = []
    for module, cls in _classes():
        if not issubclass(cls, BaseException) or cls.__name__ in SIGNALS:
            continue
        root = next(r for prefix, r in ROOTS.items() if module.startswith(prefix))
        if not issubclass(cls, root):
            wrong.append(f"{module}.{cls.__name__} is not a {root.__name__}")
    assert wrong == []

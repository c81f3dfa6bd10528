"""The public face: ``from gptoss_agent import ...`` gives the real objects, and every
subpackage declares what it exports in an ``__all__`` whose names exist."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import gptoss_agent

FACE = ("Agent", "function_tool", "PythonTool", "BrowserTool", "MCPServer", "ScriptedBackend",
        "TransformersBackend", "ServerBackend", "LoopLimits", "SamplingParams", "RunResult",
        "StopReason", "RunFinished", "FinalAnswer", "ToolCallStarted", "AgentError")


def test_the_face_names_what_users_import() -> None:
    assert set(FACE) <= set(gptoss_agent.__all__)
    for name in gptoss_agent.__all__:
        assert getattr(gptoss_agent, name) is not None, name


def test_function_tool_is_the_decorator_not_its_module() -> None:
    from gptoss_agent import FunctionTool, function_tool

    @function_tool(name="double", timeout_s=5)
    def twice(x: int) -> int:
        """Twice ``x``."""
        return 2 * x

    assert isinstance(twice, FunctionTool)
    assert (twice.name, twice.timeout_s) == ("double", 5)


def test_unknown_names_are_attribute_errors() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Agnet'"):
        gptoss_agent.Agnet  # noqa: B018


def _packages() -> list[str]:
    names = ["gptoss_agent"]
    for module in pkgutil.walk_packages(gptoss_agent.__path__, "gptoss_agent."):
        if module.ispkg:
            names.append(module.name)
    return names


@pytest.mark.parametrize("name", _packages())
def test_every_package_declares_its_exports(name: str) -> None:
    package = importlib.import_module(name)
    exported = getattr(package, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    missing = [item for item in exported if not hasattr(package, item)]
    assert missing == []


def test_the_face_exports_exactly_its_lazy_names() -> None:
    assert sorted(gptoss_agent.__all__) == sorted(gptoss_agent._LAZY)

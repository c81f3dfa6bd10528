"""MCPServerConfig: the settings of one server, checked when made."""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from gptoss_agent.tools.errors import ToolConfigError, ToolError
from gptoss_agent.tools.mcp import MCPServerConfig


def test_a_stdio_server_keeps_its_settings_frozen(tmp_path: Path) -> None:
    env = {"TOKEN": "x"}
    config = MCPServerConfig("git", command="uvx", args=["mcp-server-git"], env=env,
                             cwd=tmp_path)
    env["TOKEN"] = "changed"
    assert (config.transport, config.args, dict(config.env)) == ("stdio", ("mcp-server-git",),
                                                                 {"TOKEN": "x"})
    assert config.cwd == str(tmp_path) and isinstance(config.env, MappingProxyType)
    assert (config.prefixed, config.timeout_s, config.startup_timeout_s) == (True, 60.0, 30.0)
    assert config.max_result_bytes == 64 * 1024
    assert config.where == "uvx mcp-server-git"
    with pytest.raises(AttributeError):
        config.name = "other"  # type: ignore[misc]


def test_a_url_server_never_shows_its_headers() -> None:
    config = MCPServerConfig("issues", url="https://mcp.example/mcp",
                             headers={"Authorization": "Bearer secret"}, prefixed=False)
    assert config.transport == "http" and config.prefixed is False
    assert "secret" not in config.where and "secret" not in repr(config)


@pytest.mark.parametrize(("fields", "message"), [
    ({"name": "git", "command": "x", "url": "http://h/mcp"}, "exactly one of command"),
    ({"name": "git"}, "it has neither"),
    ({"name": "my-git", "command": "x"}, "must be an identifier"),
    ({"name": "2git", "command": "x"}, "must be an identifier"),
    ({"name": "gît", "command": "x"}, "must be an identifier"),
    ({"name": "git", "command": "x", "timeout_s": 0}, "timeout_s must be a positive"),
    ({"name": "git", "command": "x", "startup_timeout_s": -1}, "startup_timeout_s"),
    ({"name": "git", "command": "x", "timeout_s": True}, "timeout_s"),
    ({"name": "git", "command": "x", "max_result_bytes": 10}, "max_result_bytes"),
    ({"name": "git", "command": "  "}, "command must be a program"),
    ({"name": "git", "command": "x", "args": "--repo ."}, "args must be a list of strings"),
    ({"name": "git", "command": "x", "env": {"A": 1}}, "env must map strings to strings"),
    ({"name": "git", "command": "x", "headers": {"A": "b"}}, "headers are for a url"),
    ({"name": "git", "url": "ftp://h/mcp"}, "must be an http:// or https://"),
    ({"name": "git", "url": "http://h/mcp", "args": ["-v"]}, "args, env and cwd are for"),
])
def test_a_config_that_cannot_work_is_a_value_error(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        MCPServerConfig(**fields)
    assert isinstance(caught.value, ToolConfigError) and isinstance(caught.value, ToolError)

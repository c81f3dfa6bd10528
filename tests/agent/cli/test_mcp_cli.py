"""``gptoss-agent mcp serve`` as a user runs it: bad options, missing machinery, signals."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PREFIX = "gptoss-agent mcp serve: "


def serve(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gptoss_agent", "mcp", "serve", *args],
        capture_output=True, text=True, timeout=120, cwd=ROOT, stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )


def one_error_line(completed: subprocess.CompletedProcess[str]) -> str:
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1, completed.stderr
    assert lines[0].startswith(PREFIX), lines[0]
    assert completed.stdout == ""  # nothing on the protocol channel
    return lines[0][len(PREFIX):]


def test_help_names_both_servers() -> None:
    completed = serve("--help")
    assert completed.returncode == 0
    assert "python" in completed.stdout and "browser" in completed.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["python", "--transport", "http", "--host", "0.0.0.0"], "needs an API key"),
    (["python", "--transport", "http", "--api-key-env", "GPTOSS_UNSET_KEY_VAR"],
     "GPTOSS_UNSET_KEY_VAR: that variable is not set"),
    (["python", "--port", "9000"], "--port applies only to --transport http"),
    (["python", "--transport", "http", "--port", "70000"], "port must be between"),
    (["python", "--timeout-s", "0"], "timeout_s must be positive"),
    (["python", "--memory-mb", "-5"], "memory_mb must be positive"),
    (["browser", "--search", "local"], "--search local needs --corpus DIR"),
    (["browser", "--search", "local", "--corpus", "/no/such/folder"], "not a folder"),
    (["browser", "--search", "searxng"], "needs --url"),
    (["browser", "--allow", "https://intranet.example"], "--allow"),
])
def test_bad_options_exit_2_with_one_line(args: list[str], message: str) -> None:
    completed = serve(*args, env={"GPTOSS_UNSET_KEY_VAR": ""})
    assert completed.returncode == 2
    assert message in one_error_line(completed)


def test_brave_search_needs_its_key() -> None:
    env = {key: value for key, value in os.environ.items() if key != "BRAVE_SEARCH_API_KEY"}
    completed = subprocess.run(
        [sys.executable, "-m", "gptoss_agent", "mcp", "serve", "browser", "--search", "brave"],
        capture_output=True, text=True, timeout=120, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
    )
    assert completed.returncode == 2
    assert "BRAVE_SEARCH_API_KEY" in one_error_line(completed)


def test_an_unknown_transport_is_a_usage_error() -> None:
    completed = serve("python", "--transport", "tcp")
    assert completed.returncode == 2
    assert "invalid choice: 'tcp'" in completed.stderr


def test_an_unreachable_docker_engine_exits_4(tmp_path: Path) -> None:
    completed = serve("python", env={"DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"})
    assert completed.returncode == 4
    assert "cannot reach the Docker engine" in one_error_line(completed)


@pytest.mark.usefixtures("needs_docker")
def test_a_missing_sandbox_image_exits_4() -> None:
    completed = serve("python", "--image", "gptoss-agent-no-such-image:none")
    assert completed.returncode == 4
    line = one_error_line(completed)
    assert "gptoss-agent-no-such-image:none" in line and "sandbox build" in line


def test_a_missing_chromium_exits_4(tmp_path: Path) -> None:
    completed = serve("browser", "--chromium", str(tmp_path / "no-chromium"))
    assert completed.returncode == 4
    assert "browser is unavailable" in one_error_line(completed)


@pytest.mark.usefixtures("needs_docker")
def test_a_busy_port_exits_4() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = str(taken.getsockname()[1])
        completed = serve("python", "--transport", "http", "--port", port)
    assert completed.returncode == 4
    assert f"cannot listen on 127.0.0.1:{port}" in one_error_line(completed)


def _rpc(process: subprocess.Popen[str], message: dict[str, object]) -> None:
    assert process.stdin is not None
    process.stdin.write(json.dumps(message) + "\n")
    process.stdin.flush()


@pytest.mark.usefixtures("needs_docker")
def test_sigterm_stops_a_stdio_server_with_an_idle_client_and_removes_its_sandbox(
    tmp_path: Path,
) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "gptoss_agent", "mcp", "serve", "python",
         "--data-dir", str(tmp_path)],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        _rpc(process, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "test", "version": "1"}}})
        assert json.loads(process.stdout.readline())["result"]["serverInfo"]["name"] == \
            "gptoss-python"
        _rpc(process, {"jsonrpc": "2.0", "method": "notifications/initialized"})
        _rpc(process, {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                       "params": {"name": "python", "arguments": {"code": "6 * 7"}}})
        reply = json.loads(process.stdout.readline())
        assert reply["result"]["content"][0]["text"] == "42"
        assert _sandboxes_under(tmp_path)
        # The client stays connected and silent: the server must not wait for it.
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert _sandboxes_under(tmp_path) == []


def _sandboxes_under(folder: Path) -> list[str]:
    import docker

    client = docker.from_env()
    try:
        found = client.api.containers(all=True, filters={"label": "gptoss-agent.session"})
        return [c["Id"] for c in found
                if any(str(m.get("Source", "")).startswith(str(folder))
                       for m in c.get("Mounts", []))]
    finally:
        client.close()

"""The MCP example: a task file with two real servers (time, prefixed; git, as its own
namespace) run through the CLI with a scripted model."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

from tests.support import require_or_skip

ROOT = Path(__file__).resolve().parents[2]


def test_a_task_calls_two_real_mcp_servers(tmp_path: Path) -> None:
    for server in ("mcp", "mcp_server_time", "mcp_server_git"):
        require_or_skip(importlib.util.find_spec(server) is not None,
                        f"{server} is not installed (scripts/setup-tests.sh installs it)")
    transcript = tmp_path / "mcp.jsonl"
    completed = subprocess.run(
        [sys.executable, "-m", "gptoss_agent", "run", "examples/mcp/task.yaml", "--json",
         "--set", f"output.transcript={transcript}"],
        cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert completed.returncode == 0, completed.stderr
    events = [json.loads(line) for line in completed.stdout.splitlines()]
    results = [e for e in events if e["type"] == "tool_result"]
    assert [r["recipient"] for r in results] == ["time.get_current_time", "git.git_status"]
    assert not any(r["is_error"] for r in results), results
    assert "Europe/Paris" in results[0]["text"]
    assert "On branch" in results[1]["text"] or "branch" in results[1]["text"].lower()
    calls = [e for e in events if e["type"] == "tool_call"]
    assert calls[0]["address"] == "functions.time_get_current_time"
    assert "address" not in calls[1]
    assert events[-1]["type"] == "task_finished" and events[-1]["passed"] is True

"""The python tool's long output, cut in the loop and read back from ``/mnt/data`` (Docker)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gptoss_agent.agent.harmony.codec import HarmonyCodec
from gptoss_agent.agent.limits import LoopLimits
from gptoss_agent.sandbox import SandboxConfig, SandboxLimits
from gptoss_agent.tools.base import OutputKeeper
from gptoss_agent.tools.output_pages import keep_in_drive
from gptoss_agent.tools.python_tool import PythonTool
from tests.agent.scripting import FINAL, scripted_agent
from tests.sandbox.conftest import require_engine


class KeepingPythonTool(PythonTool):
    """PythonTool with the ``keep_output`` the integrator adds to it (the same lines)."""

    def keep_output(self, session_id: str, output_id: str, text: str) -> str:
        return keep_in_drive(self.put_file, session_id, output_id, text)


def python(code: str) -> str:
    return f"<|channel|>analysis to=python code<|message|>{code}<|call|>"


@pytest.mark.docker
async def test_python_output_is_cut_and_the_model_reads_the_file(
        codec: HarmonyCodec, tmp_path: Path) -> None:
    require_engine()
    # The tool's own caps (stdout bytes, characters) are raised so the loop's token budget
    # does the cutting: the file holds what the tool returned.
    limits = SandboxLimits(timeout_s=20.0, output_bytes=1 << 20)
    tool = KeepingPythonTool(SandboxConfig(limits=limits),
                             data_dir=tmp_path / "drives", max_output_chars=200_000)
    assert isinstance(tool, OutputKeeper)
    script = [
        python("for i in range(1, 1501):\n    print(f'result row {i}: value={i * i}')"),
        python("lines = open('/mnt/data/.tool_outputs/call_1.txt').readlines()\n"
               "print(len(lines), lines[999].strip())"),
        FINAL,
    ]
    agent, _ = scripted_agent(codec, script, [tool], limits=LoopLimits(tool_output_tokens=500))
    try:
        result = await agent.run("square some numbers")
    finally:
        await tool.aclose()
    shown, read_back = [m.text for m in result.new_messages if m.role == "tool"]
    assert shown.startswith("result row 1: value=1\n")
    assert shown.rstrip("\n").endswith("result row 1500: value=2250000")
    assert "of 1,500 cut (≈" in shown
    assert "; full text: /mnt/data/.tool_outputs/call_1.txt]" in shown
    assert read_back.strip() == "1500 result row 1000: value=1000000"

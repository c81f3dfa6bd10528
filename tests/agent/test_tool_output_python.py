"""The python tool's long output, cut in the loop and read back from ``/mnt/data`` (Docker)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gptoss_agent.agent.harmony.codec import HarmonyCodec
from gptoss_agent.agent.limits import LoopLimits
from gptoss_agent.sandbox import SandboxConfig, SandboxLimits
from gptoss_agent.tools.base import OutputKeeper
from gptoss_agent.tools.python_tool import PythonTool
from tests.agent.scripting import FINAL, scripted_agent
from tests.sandbox.conftest import require_engine


def python(code: str) -> str:
    return f"<|channel|>analysis to=python code<|message|>{code}<|call|>"


@pytest.mark.docker
async def test_python_output_is_cut_and_the_model_reads_the_file(
        codec: HarmonyCodec, tmp_path: Path) -> None:
    require_engine()
    # The tool's own caps (1 MiB per stream, 1M characters) are far above the loop's token
    # budget, which does the cutting: the file holds what the tool returned.
    tool = PythonTool(SandboxConfig(limits=SandboxLimits(timeout_s=20.0)),
                      data_dir=tmp_path / "drives")
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

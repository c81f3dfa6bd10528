"""A real session in the real engine: state, the drive, hardening seen from inside,
container lifecycle and orphan removal."""

from __future__ import annotations

import asyncio
import time

import pytest

from gptoss_agent.sandbox import (
    DockerSandbox,
    ExecutionStatus,
    ImageNotFoundError,
    SandboxClosedError,
    SandboxConfig,
)
from gptoss_agent.sandbox.container import build_spec
from gptoss_agent.sandbox.labels import OWNER_PID, OWNER_START, owner_labels, reap_orphans

from .conftest import FAST_LIMITS, wait_for_file

pytestmark = pytest.mark.docker


async def test_variables_imports_and_files_persist_between_calls(sandbox):
    first = await sandbox.execute(
        "import numpy as np\na = np.arange(5)\nopen('note.txt','w').write('hi')"
    )
    assert first.ok, first
    assert first.files_created == ("note.txt",)
    second = await sandbox.execute("int(a.sum()), open('/mnt/data/note.txt').read()")
    assert second.value == "(10, 'hi')"
    assert (sandbox.data_dir / "note.txt").read_text() == "hi"


async def test_notebook_output_error_and_value(sandbox):
    result = await sandbox.execute("print('out')\nimport sys; print('err', file=sys.stderr)\n6*7")
    assert (result.stdout, result.stderr, result.value) == ("out\n", "err\n", "42")
    failed = await sandbox.execute("{}['missing']")
    assert failed.status is ExecutionStatus.ERROR and failed.error is not None
    assert failed.error.name == "KeyError" and 'File "<cell-2>"' in failed.error.traceback


async def test_input_files_are_visible_and_plots_are_collected(make_sandbox):
    box = make_sandbox("plots", timeout_s=60.0)
    box.drive.write_bytes("in/data.csv", b"x,y\n1,2\n3,4\n")
    result = await box.execute(
        "import pandas as pd, matplotlib.pyplot as plt\n"
        "df = pd.read_csv('/mnt/data/in/data.csv')\n"
        "df.plot(x='x', y='y'); plt.savefig('/mnt/data/plot.png')\n"
        "int(df['y'].sum())"
    )
    assert result.ok, result
    assert result.value == "6"
    assert "plot.png" in result.files_created
    assert (box.data_dir / "plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


async def test_hardening_is_in_force_inside(sandbox):
    code = (
        "import os\n"
        "lines = open('/proc/self/status').read().splitlines()\n"
        "status = dict(l.split(':\\t', 1) for l in lines if ':\\t' in l)\n"
        "try:\n    open('/etc/x', 'w'); ro = False\nexcept OSError as e:\n    ro = e.errno == 30\n"
        "print(os.getuid(), status['CapEff'].strip(), status['NoNewPrivs'].strip(), ro,\n"
        "      sorted(os.listdir('/sys/class/net')),\n"
        "      open('/proc/1/cmdline').read().split('\\0')[0])"
    )
    result = await sandbox.execute(code)
    assert result.ok, result
    uid, capeff, nnp, read_only, interfaces, init = result.stdout.split(" ", 5)
    assert uid == "1000"
    assert int(capeff, 16) == 0
    assert nnp == "1"
    assert read_only == "True"
    assert interfaces == "['lo']"
    assert "init" in init


async def test_engine_side_limits_match_the_config(sandbox, docker_engine):
    info = docker_engine.inspect(sandbox.container_id)
    host = info["HostConfig"]
    assert host["NetworkMode"] == "none"
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"]
    assert host["SecurityOpt"] == ["no-new-privileges"]
    assert host["PidsLimit"] == FAST_LIMITS.pids
    assert host["Memory"] == host["MemorySwap"] == FAST_LIMITS.memory_mb * 1024 * 1024
    assert host["NanoCpus"] == int(FAST_LIMITS.cpus * 1e9)
    assert host["Init"] is True
    assert {u["Name"] for u in host["Ulimits"]} >= {"nofile", "nproc", "fsize"}
    assert info["Config"]["Labels"]["gptoss-agent.owner-pid"]


async def test_close_removes_the_container_and_is_idempotent(make_sandbox, docker_engine):
    box = make_sandbox("closing")
    await box.execute("1")
    container_id = box.container_id
    assert docker_engine.inspect(container_id) is not None
    await box.close()
    await box.close()
    assert docker_engine.inspect(container_id) is None
    with pytest.raises(SandboxClosedError):
        await box.execute("1")
    assert box.data_dir.is_dir()


async def test_close_during_a_call_removes_the_container(make_sandbox, docker_engine):
    box = make_sandbox("close-mid-call", timeout_s=30.0)
    await box.start()
    container_id = box.container_id
    call = asyncio.ensure_future(
        box.execute("import time; open('running', 'w').close(); time.sleep(25)")
    )
    await wait_for_file(box.data_dir / "running")
    await box.close()
    with pytest.raises(SandboxClosedError):
        await asyncio.wait_for(call, 10)
    assert docker_engine.inspect(container_id) is None


async def test_missing_image_is_a_clear_error(docker_engine, tmp_path):
    config = SandboxConfig(image="gptoss-agent-no-such-image:0", limits=FAST_LIMITS)
    box = DockerSandbox(config, data_dir=tmp_path / "d", engine=docker_engine)
    with pytest.raises(ImageNotFoundError, match="sandbox build"):
        await box.execute("1")
    await box.close()


def test_orphans_of_dead_owners_are_removed_and_live_ones_kept(docker_engine, tmp_path):
    def create(labels: dict[str, str]) -> str:
        spec = build_spec(SandboxConfig(limits=FAST_LIMITS), tmp_path, labels, "orphan")
        return docker_engine.create_container(spec)

    orphan = create({**owner_labels("orphan"), OWNER_PID: "999999", OWNER_START: ""})
    live = create(owner_labels("live"))
    try:
        removed = reap_orphans(docker_engine)
        assert orphan in removed and live not in removed
        assert docker_engine.inspect(orphan) is None
        assert docker_engine.inspect(live) is not None
    finally:
        docker_engine.remove(orphan)
        docker_engine.remove(live)


async def test_warm_calls_are_fast(sandbox):
    # A functional check of the kept-open stream, not a benchmark (see bench/).
    started = time.perf_counter()
    for _ in range(20):
        assert (await sandbox.execute("1")).value == "1"
    assert (time.perf_counter() - started) / 20 < 0.25


def test_doctor_reports_engine_image_limits_and_a_session(docker_engine):
    from gptoss_agent.sandbox.doctor import diagnose, render_report

    checks = diagnose(SandboxConfig(limits=FAST_LIMITS))
    report = render_report(checks)
    by_name = {check.name: check for check in checks}
    assert list(by_name) == ["engine", "image", "limits", "containers", "session"], report
    assert by_name["engine"].ok and "Docker" in by_name["engine"].detail
    assert by_name["session"].ok, report
    assert "uid 1000" in by_name["session"].detail
    assert "network interfaces: lo;" in by_name["session"].detail
    assert "numpy, pandas, matplotlib, scipy, sympy" in by_name["session"].detail
    assert "memory 256 MB with no swap" in by_name["limits"].detail
    assert "network off" in by_name["limits"].detail


def test_build_if_needed_leaves_a_current_image_alone(docker_engine):
    from gptoss_agent.sandbox.image import build_image, image_status

    from .conftest import unavailable

    if not image_status(docker_engine).current:
        unavailable("the sandbox image is stale: rebuild it with `sandbox build`")
    lines: list[str] = []
    status = build_image(docker_engine, if_needed=True, log=lines.append)
    assert status.current
    assert lines == [
        f"image {status.image} is current (recipe {status.expected_hash}); nothing to build"
    ]

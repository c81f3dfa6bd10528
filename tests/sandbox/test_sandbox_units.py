"""Sandbox parts that need no engine: limits, hardening spec, labels, data folder,
framing, image recipe, CLI wiring, pool, and the package's import rules."""

from __future__ import annotations

import ast
import asyncio
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from gptoss_agent.sandbox import (
    ExecutionResult,
    ExecutionStatus,
    KernelError,
    SandboxClosedError,
    SandboxConfig,
    SandboxLimits,
    SandboxPool,
)
from gptoss_agent.sandbox.build_offline import add_sandbox_user, host_mirror
from gptoss_agent.sandbox.cli import main as sandbox_main
from gptoss_agent.sandbox.container import build_spec, container_name
from gptoss_agent.sandbox.datadir import ENTRY_OVERHEAD, DataDir
from gptoss_agent.sandbox.framing import AttachDemuxer, decode_payload, encode_frame, read_frame
from gptoss_agent.sandbox.kernel import Capture, clip
from gptoss_agent.sandbox.labels import (
    OWNER_HOST,
    OWNER_PID,
    OWNER_START,
    owner_alive,
    owner_labels,
)
from gptoss_agent.sandbox.recipe import DEFAULT_RECIPE, ImageRecipe, split_image_name
from gptoss_agent.sandbox.replies import join_clip

SANDBOX_DIR = Path(__file__).resolve().parents[2] / "gptoss_agent" / "sandbox"


# -- limits and config -----------------------------------------------------------------


def test_limits_reject_nonsense():
    with pytest.raises(ValueError, match="timeout_s"):
        SandboxLimits(timeout_s=0)
    with pytest.raises(ValueError, match="pids"):
        SandboxLimits(pids=4)


def test_config_refuses_root():
    with pytest.raises(ValueError, match="root"):
        SandboxConfig(user="0:0")


# -- hardening -------------------------------------------------------------------------


def test_spec_is_hardened_by_default(tmp_path):
    limits = SandboxLimits(memory_mb=512, cpus=1.5, pids=100, nofile=300, tmp_mb=10, data_mb=20)
    spec = build_spec(SandboxConfig(limits=limits), tmp_path, {"a": "b"}, "s1")
    host = spec.host_config
    assert host["network_mode"] == "none" and spec.network is False
    assert host["read_only"] is True
    assert host["cap_drop"] == ["ALL"]
    assert host["security_opt"] == ["no-new-privileges"]
    assert host["pids_limit"] == 100
    assert host["mem_limit"] == host["memswap_limit"] == 512 * 1024 * 1024
    assert host["nano_cpus"] == 1_500_000_000
    assert host["init"] is True
    assert "size=10m" in host["tmpfs"]["/tmp"]
    assert host["binds"] == {str(tmp_path): {"bind": "/mnt/data", "mode": "rw"}}
    ulimits = {name: (soft, hard) for name, soft, hard in spec.ulimits}
    assert ulimits["nofile"] == (300, 300)
    assert ulimits["fsize"] == (20 * 1024 * 1024,) * 2
    assert "nproc" in ulimits
    assert spec.user == "1000:1000"
    assert spec.environment["GPTOSS_SANDBOX"] == "1"
    assert spec.labels == {"a": "b"}


def test_network_only_when_asked(tmp_path):
    spec = build_spec(SandboxConfig(network=True), tmp_path, {}, "s")
    assert spec.host_config["network_mode"] == "bridge" and spec.network


def test_container_names_are_valid_and_unique():
    first, second = container_name("weird id/with spaces"), container_name("weird id/with spaces")
    assert first != second
    assert first.startswith("gptoss-sbx-weird-id-with-spaces-")
    assert all(c.isalnum() or c in "_.-" for c in first)


# -- labels and orphans ----------------------------------------------------------------


def test_own_labels_count_as_alive():
    assert owner_alive(owner_labels("s"))


def test_dead_owner_is_detected():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    labels = {**owner_labels("s"), OWNER_PID: str(child.pid), OWNER_START: ""}
    assert not owner_alive(labels)


def test_reused_pid_with_other_start_time_counts_as_dead():
    labels = {**owner_labels("s"), OWNER_START: "1"}
    assert not owner_alive(labels)


def test_other_hosts_are_left_alone():
    labels = {**owner_labels("s"), OWNER_HOST: socket.gethostname() + "-elsewhere", OWNER_PID: "1"}
    assert owner_alive(labels)


# -- data folder -----------------------------------------------------------------------


def test_data_dir_snapshot_diff_and_usage(tmp_path):
    drive = DataDir(tmp_path / "d")
    drive.write_bytes("a.txt", b"1")
    before = drive.snapshot()
    drive.write_bytes("sub/b.bin", b"x" * 10000)
    (drive.path / "a.txt").write_bytes(b"22")
    created, modified = DataDir.diff(before, drive.snapshot())
    assert created == ("sub/b.bin",) and modified == ("a.txt",)
    assert drive.usage() >= 10000 + 3 * ENTRY_OVERHEAD
    assert drive.usage(stop_above=1) > 1


def test_write_bytes_refuses_escapes_and_links(tmp_path):
    drive = DataDir(tmp_path / "d")
    outside = tmp_path / "outside"
    outside.mkdir()
    for bad in ("../x", "/etc/passwd", "", "a/../../x"):
        with pytest.raises(ValueError):
            drive.write_bytes(bad, b"no")
    (drive.path / "link").symlink_to(outside)
    with pytest.raises(OSError):
        drive.write_bytes("link/planted.txt", b"no")
    (drive.path / "file-link").symlink_to(outside / "target.txt")
    with pytest.raises(OSError):
        drive.write_bytes("file-link", b"no")
    assert list(outside.iterdir()) == []


def test_copy_in_file_and_folder(tmp_path):
    drive = DataDir(tmp_path / "d")
    source = tmp_path / "src"
    (source / "deep").mkdir(parents=True)
    (source / "deep" / "f.csv").write_text("a,b\n")
    (tmp_path / "one.txt").write_text("1")
    drive.copy_in(tmp_path / "one.txt")
    drive.copy_in(source, "inputs")
    assert (drive.path / "one.txt").read_text() == "1"
    assert (drive.path / "inputs" / "deep" / "f.csv").read_text() == "a,b\n"


# -- framing ---------------------------------------------------------------------------


async def test_frames_round_trip_and_reject_garbage():
    reader = asyncio.StreamReader()
    reader.feed_data(encode_frame({"op": "x", "text": "\u00e9\u4e2d"}))
    reader.feed_data(b"\x00\x00\x00\x03abc")
    reader.feed_eof()
    assert await read_frame(reader) == {"op": "x", "text": "\u00e9\u4e2d"}
    with pytest.raises(KernelError):
        await read_frame(reader)
    with pytest.raises(KernelError):
        decode_payload(json.dumps([1]).encode())


async def test_oversized_frame_means_corrupt_stream():
    reader = asyncio.StreamReader()
    reader.feed_data(b"\xff\xff\xff\xff")
    with pytest.raises(KernelError, match="corrupt"):
        await read_frame(reader)


async def test_truncated_stream_reads_as_end():
    reader = asyncio.StreamReader()
    reader.feed_data(encode_frame({"op": "x"})[:-2])
    reader.feed_eof()
    assert await read_frame(reader) is None


async def test_demuxer_splits_streams_across_chunk_boundaries():
    reader = asyncio.StreamReader()
    demux = AttachDemuxer(reader, stderr_keep=5)
    data = (
        b"\x01\x00\x00\x00\x00\x00\x00\x03abc"
        + b"\x02\x00\x00\x00\x00\x00\x00\x08warning!"
        + b"\x01\x00\x00\x00\x00\x00\x00\x02de"
    )
    for i in range(len(data)):
        demux.feed(data[i : i + 1])
    demux.feed_eof()
    assert demux.stderr_tail == "ning!"
    assert await reader.read() == b"abcde"


def test_capture_keeps_head_and_tail():
    capture = Capture()
    capture.reset(10)
    for chunk in (b"01234", b"56789" * 1000, b"abcde"):
        capture.add(chunk)
    taken = capture.take()
    assert taken["head"] == "01234" and taken["tail"] == "abcde"
    assert taken["cut"] == 5010 - 10


def test_clip_and_join_clip_insert_a_marker():
    clipped = clip("a" * 50 + "b" * 50, 20)
    text, cut = join_clip(clipped, "characters")
    assert cut == 80
    assert text.startswith("a" * 10) and text.endswith("b" * 10)
    assert "[... 80 characters of output cut ...]" in text
    assert join_clip(clip("short", 20)) == ("short", 0)


# -- image recipe ----------------------------------------------------------------------


def test_recipe_hash_is_stable_and_sensitive():
    assert DEFAULT_RECIPE.recipe_hash() == ImageRecipe().recipe_hash()
    assert ImageRecipe(packages=("python3",)).recipe_hash() != DEFAULT_RECIPE.recipe_hash()
    assert f"gptoss-agent.recipe={DEFAULT_RECIPE.recipe_hash()}" in " ".join(
        DEFAULT_RECIPE.import_changes()
    )


def test_dockerfile_installs_the_stack_and_a_non_root_user():
    text = DEFAULT_RECIPE.dockerfile()
    for package in ("python3-numpy", "python3-pandas", "python3-matplotlib", "python3-scipy"):
        assert package in text
    assert "useradd --uid 1000" in text and "USER 1000:1000" in text


def test_split_image_name():
    assert split_image_name("a/b:1") == ("a/b", "1")
    assert split_image_name("host:5000/b") == ("host:5000/b", "latest")
    assert split_image_name("plain") == ("plain", "latest")


def test_host_mirror_reads_deb822_and_one_line_sources(tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://security.debian.org/debian-security\n\n"
        "Types: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm\n"
    )
    assert host_mirror(tmp_path) == "http://mirror.example/debian"
    (tmp_path / "sources.list").write_text(
        "deb [arch=amd64] http://one.example/debian bookworm main\n"
    )
    assert host_mirror(tmp_path) == "http://one.example/debian"
    assert host_mirror(tmp_path / "missing") == "http://deb.debian.org/debian"


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_sandbox_user_is_added_once(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    add_sandbox_user(tmp_path, 1000)
    add_sandbox_user(tmp_path, 1000)
    lines = (tmp_path / "etc" / "passwd").read_text().splitlines()
    assert [line for line in lines if line.startswith("sandbox:")] == [
        "sandbox:x:1000:1000:sandbox:/home/sandbox:/usr/sbin/nologin"
    ]
    assert (tmp_path / "mnt" / "data").stat().st_uid == 1000


# -- CLI -------------------------------------------------------------------------------


def test_cli_requires_a_command(capsys):
    with pytest.raises(SystemExit):
        sandbox_main([])
    assert "build" in capsys.readouterr().err


def test_agent_cli_registers_build_and_doctor():
    import argparse

    from gptoss_agent.agent.cli.sandbox import add_sandbox_commands

    parser = argparse.ArgumentParser()
    add_sandbox_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["sandbox", "build", "--offline", "--if-needed"])
    assert args.method == "offline" and args.if_needed and callable(args.func)
    args = parser.parse_args(["sandbox", "doctor", "--no-session"])
    assert args.no_session and args.func.__name__ == "run_doctor"


def test_doctor_reports_an_unreachable_engine(tmp_path, capsys):
    code = sandbox_main(["doctor", "--docker-host", f"unix://{tmp_path}/none.sock"])
    out = capsys.readouterr().out
    assert code == 1
    assert "[FAIL] engine" in out and "fix:" in out


# -- pool ------------------------------------------------------------------------------


class FakeSandbox:
    def __init__(self, key: str, fail: bool = False) -> None:
        self.key, self.fail, self.closed = key, fail, False

    @property
    def data_dir(self) -> Path:
        return Path("/nonexistent")

    @property
    def timeout_s(self) -> float:
        return 1.0

    @property
    def network(self) -> bool:
        return False

    async def execute(self, code: str, *, timeout_s: float | None = None) -> ExecutionResult:
        return ExecutionResult(ExecutionStatus.OK, stdout=code)

    async def close(self) -> None:
        self.closed = True
        if self.fail:
            raise KernelError("boom")


async def test_pool_reuses_and_closes_everything_even_on_failure():
    made: list[FakeSandbox] = []

    def factory(key: str) -> FakeSandbox:
        made.append(FakeSandbox(key, fail=key == "bad"))
        return made[-1]

    pool = SandboxPool(factory)
    assert pool.get("a") is pool.get("a")
    pool.get("bad")
    pool.get("c")
    assert len(pool) == 3
    with pytest.raises(KernelError):
        await pool.aclose()
    assert all(box.closed for box in made)
    with pytest.raises(SandboxClosedError):
        pool.get("a")


# -- import rules ----------------------------------------------------------------------


def test_sandbox_imports_neither_agent_nor_tools():
    offenders = []
    for path in SANDBOX_DIR.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                if name.startswith(("gptoss_agent.agent", "gptoss_agent.tools", "openai_harmony")):
                    offenders.append(f"{path.name}: {name}")
    assert offenders == []


def test_docker_is_imported_lazily_and_only_by_the_client_module():
    code = (
        "import sys, gptoss_agent.sandbox, gptoss_agent.tools.python_tool\n"
        "print('docker' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    importers = [
        p.name
        for p in SANDBOX_DIR.rglob("*.py")
        if any(
            (isinstance(n, ast.Import) and any(a.name.split(".")[0] == "docker" for a in n.names))
            or (isinstance(n, ast.ImportFrom) and (n.module or "").split(".")[0] == "docker")
            for n in ast.walk(ast.parse(p.read_text()))
        )
    ]
    assert importers == ["client.py"]  # engine.py reaches it through docker_module()


def test_kernel_uses_only_the_standard_library():
    tree = ast.parse((SANDBOX_DIR / "kernel.py").read_text())
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module.split(".")[0])
    assert modules <= set(sys.stdlib_module_names) | {"__future__"}


def test_every_exception_derives_from_sandbox_error_and_only_exceptions_end_in_error():
    import importlib
    import inspect
    import pkgutil

    from gptoss_agent import sandbox
    from gptoss_agent.sandbox import SandboxError

    offenders = []
    for info in pkgutil.iter_modules(sandbox.__path__):
        if info.name == "__main__":
            continue
        module = importlib.import_module(f"gptoss_agent.sandbox.{info.name}")
        for name, value in vars(module).items():
            defined_here = getattr(value, "__module__", module.__name__) == module.__name__
            is_exception = inspect.isclass(value) and issubclass(value, BaseException)
            if is_exception and defined_here and not issubclass(value, SandboxError):
                offenders.append(f"{info.name}.{name} is not a SandboxError")
            if name.endswith("Error") and not is_exception:
                offenders.append(f"{info.name}.{name} ends in Error but is no exception")
    assert offenders == []


def test_image_and_offline_build_import_without_a_cycle():
    def imports(name: str) -> set[str]:
        tree = ast.parse((SANDBOX_DIR / f"{name}.py").read_text())
        return {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}

    assert "gptoss_agent.sandbox.build_offline" in imports("image")
    assert "gptoss_agent.sandbox.image" not in imports("build_offline")
    assert "gptoss_agent.sandbox.image" not in imports("recipe")


def test_replies_explain_the_process_limit_even_when_no_clone_was_left():
    from gptoss_agent.sandbox.channel import CellOutcome
    from gptoss_agent.sandbox.replies import result_from_reply

    error = {"name": "BlockingIOError", "message": "[Errno 11]", "traceback": clip("tb", 99)}
    reply = {"status": "error", "error": error, "killed": 0, "exhausted": True}
    result = result_from_reply(CellOutcome(reply, None, 0.5), 4.0, SandboxLimits())
    assert result.status is ExecutionStatus.ERROR and result.error is not None
    assert result.error.name == "BlockingIOError" and result.error.traceback == "tb"
    assert result.detail.startswith("The process limit was reached (pids: at most 256")
    assert result.limit == "pids"
    stopped = [{"pid": 9, "command": "sleep 99"}]
    killed = result_from_reply(
        CellOutcome({**reply, "killed": 5, "stopped": stopped}, None, 0.5), 4.0, SandboxLimits()
    )
    assert "5 process(es) left running by the code were stopped" in killed.detail
    assert "`sleep 99` and 4 more" in killed.detail
    assert killed.stopped_processes == ("sleep 99",) and killed.stopped_count == 5
    plain = result_from_reply(CellOutcome({**reply, "exhausted": False}, None, 0.5), 4.0,
                              SandboxLimits())
    assert plain.detail == ""


def test_replies_name_why_a_kernel_was_lost():
    from gptoss_agent.sandbox.channel import CellOutcome
    from gptoss_agent.sandbox.replies import STATE_LOST, exit_cause, result_from_lost

    assert "ran out of memory (limit memory_mb: 256 MB)" in exit_cause({"OOMKilled": True}, 256)
    assert "SIGKILL" in exit_cause({"ExitCode": 137}, 256)
    assert "disappeared" in exit_cause({}, 256)
    crashed = result_from_lost(CellOutcome(None, None, 1.0), 4.0, SandboxLimits(), "Gone.",
                               "  trace\n")
    assert crashed.status is ExecutionStatus.CRASHED and crashed.state_reset
    assert crashed.detail == f"Gone. {STATE_LOST}" and crashed.stderr == "trace"
    timed_out = result_from_lost(CellOutcome(None, "timeout", 1.0), 4.0, SandboxLimits(), "",
                                 "noise")
    assert timed_out.status is ExecutionStatus.TIMEOUT and timed_out.stderr == ""
    assert "did not stop when interrupted" in timed_out.detail

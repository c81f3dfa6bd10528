"""An engine on another machine (``DOCKER_HOST``): ``/mnt/data`` is a volume whose files
travel through the Engine API, proven against a second dockerd on its own socket and
data root where the container has no binds. Also the file-count quota, both ways."""

from __future__ import annotations

import dataclasses
import socket
from pathlib import Path

import pytest

from gptoss_agent.sandbox import DockerSandbox, ExecutionStatus, SandboxConfig, SandboxConfigError
from gptoss_agent.sandbox.bridge import bridge, is_plain
from gptoss_agent.sandbox.config import copies_data
from gptoss_agent.sandbox.container import build_spec
from gptoss_agent.sandbox.engine import Engine
from gptoss_agent.sandbox.labels import OWNER_PID, OWNER_START, owner_labels, reap_orphans

from .conftest import FAST_LIMITS

pytestmark = pytest.mark.docker


def remote_box(engine: Engine, folder: Path, name: str, transport: str = "copy",
               **limits: object) -> DockerSandbox:
    config = SandboxConfig(
        limits=dataclasses.replace(FAST_LIMITS, **limits),  # type: ignore[arg-type]
        docker_host=engine.base_url,
        data_transport=transport,
    )
    return DockerSandbox(config, data_dir=folder, session=name, engine=engine)


async def test_auto_finds_a_unix_socket_engine_that_cannot_see_this_machine(
        remote_engine, docker_engine, tmp_path):
    # The second engine is reached through a unix socket, as a forwarded socket to
    # another machine would be, but does not see this machine's temp folder: auto's
    # check finds that out and moves /mnt/data by copies; on the main engine it binds.
    for engine, kind in ((remote_engine, "volume"), (docker_engine, "bind")):
        folder = tmp_path / kind
        folder.mkdir()
        (folder / "input.txt").write_text(f"for the {kind} engine")
        box = remote_box(engine, folder, f"auto-{kind}", transport="auto")
        try:
            result = await box.execute(
                "open('/mnt/data/out.txt', 'w').write('written inside')\n"
                "open('/mnt/data/input.txt').read()")
            assert result.value == f"'for the {kind} engine'", result
            assert (folder / "out.txt").read_text() == "written inside"
            info = engine.inspect(box.container_id)
            assert [m["Type"] for m in info["Mounts"]] == [kind]
            assert bool(info["HostConfig"].get("Binds")) is (kind == "bind")
            assert [p.name for p in folder.iterdir() if p.name.startswith(".gptoss")] == []
        finally:
            await box.close()
        # The check's own container is gone too.
        assert [c for c in engine.sandbox_containers()
                if "auto-" + kind in str(c.get("Names"))] == []


def test_auto_copies_for_engines_elsewhere_and_binds_for_a_local_socket():
    assert copies_data("auto", "tcp://10.0.0.5:2376")
    assert copies_data("auto", "ssh://user@builder")
    assert not copies_data("auto", "unix:///var/run/docker.sock")
    assert copies_data("copy", "unix:///var/run/docker.sock")
    assert not copies_data("bind", "tcp://10.0.0.5:2376")
    with pytest.raises(SandboxConfigError, match="data_transport"):
        SandboxConfig(data_transport="nfs")


def test_a_volume_drive_has_no_binds_and_refuses_extra_mounts(tmp_path):
    volume = {"Type": "volume", "Source": "v", "Target": "/mnt/data", "ReadOnly": False}
    spec = build_spec(SandboxConfig(), tmp_path, {}, "s", data_volume=volume)
    assert "binds" not in spec.host_config and spec.host_config["mounts"] == [volume]
    config = SandboxConfig(extra_mounts=((str(tmp_path), "/work"),))
    with pytest.raises(SandboxConfigError, match="another machine"):
        build_spec(config, tmp_path, {}, "s", data_volume=volume)


async def test_files_round_trip_through_the_api_with_no_binds(remote_engine, tmp_path):
    folder = tmp_path / "drive"
    folder.mkdir()
    (folder / "input.txt").write_text("from the host")
    (folder / "nested" / "deeper").mkdir(parents=True)
    (folder / "nested" / "deeper" / "blob.bin").write_bytes(bytes(range(256)) * 40)
    (folder / "stale.txt").write_text("delete me")
    box = remote_box(remote_engine, folder, "remote-files")
    try:
        first = await box.execute(
            "import os, hashlib\n"
            "text = open('/mnt/data/input.txt').read()\n"
            "digest = hashlib.sha256(open('/mnt/data/nested/deeper/blob.bin', 'rb').read())\n"
            "os.makedirs('/mnt/data/out/plots', exist_ok=True)\n"
            "open('/mnt/data/out/plots/p.bin', 'wb').write(bytes(range(256)))\n"
            "open('/mnt/data/input.txt', 'a').write(' and back')\n"
            "os.remove('/mnt/data/stale.txt')\n"
            "text, digest.hexdigest()[:12], os.getuid()"
        )
        assert first.ok, first
        import hashlib

        expected = hashlib.sha256(bytes(range(256)) * 40).hexdigest()[:12]
        assert first.value == f"('from the host', '{expected}', 1000)"
        assert first.files_created == ("out/plots/p.bin",)
        assert first.files_modified == ("input.txt",)
        assert (folder / "out" / "plots" / "p.bin").read_bytes() == bytes(range(256))
        assert (folder / "input.txt").read_text() == "from the host and back"
        assert not (folder / "stale.txt").exists()
        info = remote_engine.inspect(box.container_id)
        assert not info["HostConfig"].get("Binds")
        assert [m["Type"] for m in info["Mounts"]] == ["volume"]
        assert info["Mounts"][0]["Destination"] == "/mnt/data"
        (folder / "between.txt").write_text("placed between calls")
        second = await box.execute("open('/mnt/data/between.txt').read()")
        assert second.value == "'placed between calls'"
        volume = info["Mounts"][0]["Name"]
    finally:
        await box.close()
    assert remote_engine.inspect(info["Id"]) is None
    volumes = remote_engine.api("list volumes", "volumes")["Volumes"] or []
    assert volume not in [v["Name"] for v in volumes]
    assert (folder / "out" / "plots" / "p.bin").exists()  # the mirror is kept


async def test_many_changed_files_come_back_in_one_archive(remote_engine, tmp_path):
    box = remote_box(remote_engine, tmp_path / "many", "remote-many")
    try:
        result = await box.execute(
            "import os\nos.makedirs('/mnt/data/d', exist_ok=True)\n"
            "for i in range(60):\n    open(f'/mnt/data/d/f{i}.txt', 'w').write(str(i) * i)"
        )
        assert result.ok and len(result.files_created) == 60, result
        assert all(
            (tmp_path / "many" / "d" / f"f{i}.txt").read_text() == str(i) * i for i in range(60)
        )
    finally:
        await box.close()


async def test_links_planted_in_the_volume_are_not_followed_on_the_host(
    remote_engine, tmp_path
):
    secret = tmp_path / "host-secret"
    secret.write_text("host only")
    box = remote_box(remote_engine, tmp_path / "links", "remote-links")
    try:
        result = await box.execute(
            "import os\n"
            f"os.symlink({str(secret)!r}, '/mnt/data/to-secret')\n"
            "os.symlink('/etc', '/mnt/data/etc-dir')\n"
            "open('/mnt/data/plain.txt', 'w').write('ok')"
        )
        assert result.ok, result
        folder = tmp_path / "links"
        assert (folder / "plain.txt").read_text() == "ok"
        assert not (folder / "to-secret").exists() and not (folder / "etc-dir").exists()
        assert secret.read_text() == "host only"
    finally:
        await box.close()


async def test_a_crash_keeps_the_drive_and_its_mirror(remote_engine, tmp_path):
    box = remote_box(remote_engine, tmp_path / "crash", "remote-crash")
    try:
        result = await box.execute(
            "open('/mnt/data/before-crash.txt', 'w').write('saved')\nimport os\nos._exit(3)"
        )
        assert result.status is ExecutionStatus.CRASHED and result.state_reset, result
        assert (tmp_path / "crash" / "before-crash.txt").read_text() == "saved"
        again = await box.execute("open('/mnt/data/before-crash.txt').read()")
        assert again.value == "'saved'" and box.containers_started == 2
    finally:
        await box.close()


async def test_the_quota_holds_in_a_volume_too(remote_engine, tmp_path):
    box = remote_box(remote_engine, tmp_path / "quota", "remote-quota", timeout_s=30.0)
    try:
        result = await box.execute(
            "i = 0\nwhile True:\n"
            "    open(f'/mnt/data/f{i}', 'wb').write(b'1' * (1 << 20))\n    i += 1"
        )
        assert result.status is ExecutionStatus.QUOTA and result.limit == "data_mb", result
        assert "data_mb" in result.detail
        assert (await box.execute("'still here'")).value == "'still here'"
    finally:
        await box.close()


async def test_the_file_count_quota_holds_in_a_volume(remote_engine, tmp_path):
    box = remote_box(
        remote_engine, tmp_path / "count", "remote-count", timeout_s=30.0, data_files=200
    )
    try:
        result = await box.execute(
            "i = 0\nwhile True:\n    open(f'/mnt/data/e{i}', 'w').close()\n    i += 1"
        )
        assert result.status is ExecutionStatus.QUOTA and result.limit == "data_files", result
        assert "200 files and folders" in result.detail
    finally:
        await box.close()


@pytest.mark.parametrize("kind", ["empty_files", "folders"])
async def test_the_file_count_quota_holds_on_a_local_drive(make_sandbox, kind):
    box = make_sandbox(f"count-{kind}", timeout_s=30.0, data_files=300)
    make = "open(f'/mnt/data/e{i}', 'w').close()" if kind == "empty_files" else (
        "__import__('os').mkdir(f'/mnt/data/d{i}')"
    )
    result = await box.execute(f"i = 0\nwhile True:\n    {make}\n    i += 1")
    assert result.status is ExecutionStatus.QUOTA and result.limit == "data_files", result
    assert "300 files and folders" in result.detail and not result.state_reset
    assert (await box.execute("i > 300")).value == "True"


def test_orphaned_data_volumes_are_swept(remote_engine):
    labels = {**owner_labels("orphan-volume"), OWNER_PID: "999999", OWNER_START: "1"}
    name = "gptoss-data-orphan-test"
    remote_engine.api("create a volume", "create_volume", name=name, labels=labels)
    removed = reap_orphans(remote_engine)
    assert name in removed
    volumes = remote_engine.api("list volumes", "volumes")["Volumes"] or []
    assert name not in [v["Name"] for v in volumes]


class WrappedSocket(socket.socket):
    """Stands in for a stream asyncio cannot drive directly (an ``SSLSocket``)."""


def test_the_bridge_carries_bytes_both_ways_and_ends_with_either_side():
    left, right = socket.socketpair()
    wrapped = WrappedSocket(fileno=left.detach())
    ours = bridge(wrapped)
    assert not is_plain(wrapped) and is_plain(ours)
    ours.sendall(b"ping")
    assert right.recv(4) == b"ping"
    right.sendall(b"pong")
    assert ours.recv(4) == b"pong"
    right.close()
    assert ours.recv(1) == b""
    ours.close()
    other_left, other_right = socket.socketpair()
    mine = bridge(WrappedSocket(fileno=other_left.detach()))
    mine.close()
    assert other_right.recv(1) == b""
    other_right.close()


async def test_a_session_works_through_the_bridge(make_sandbox, monkeypatch):
    from gptoss_agent.sandbox import engine as engine_module

    monkeypatch.setattr(engine_module, "is_plain", lambda sock: False)  # as if TLS
    box = make_sandbox("bridged")
    first = await box.execute("x = 6\nprint('out')\nx * 7")
    assert (first.stdout, first.value) == ("out\n", "42")
    timed = await box.execute("import time\ntime.sleep(30)", timeout_s=1.0)
    assert timed.status is ExecutionStatus.TIMEOUT and not timed.state_reset, timed
    assert (await box.execute("x")).value == "6"

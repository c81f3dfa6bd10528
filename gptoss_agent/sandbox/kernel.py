"""The in-container kernel: runs notebook cells for the host, one at a time.

Standard library only, and nothing of this package: it runs under the image's
``python3``. The host never *runs* this module. It imports it only for the names both
sides must agree on (:data:`BOOTSTRAP`, :data:`CONTAINED_ENV`, :data:`UMASK_ENV`), and
sends the module's *source* over the container's stdin to the bootstrap one-liner the
container starts with (see :data:`BOOTSTRAP`), so the kernel always matches the host's
version of the package, whatever image it runs in.

Wire protocol, both directions: a 4-byte big-endian length, then that many bytes of UTF-8
JSON. Requests (host to kernel)::

    {"op": "hello"}
    {"op": "exec", "id": 7, "code": "...", "output_bytes": 16384, "value_chars": 8192,
     "keep_background": false, "snapshot": false, "data_root": "/mnt/data"}
    {"op": "interrupt", "id": 7}

Replies (kernel to host)::

    {"op": "ready", "pid": 8, "python": "3.11.2"}
    {"op": "result", "id": 7, "status": "ok" | "error" | "interrupted",
     "stdout": CLIP, "stderr": CLIP, "value": CLIP | null,
     "error": {"name": str, "message": str, "traceback": CLIP, "errno": int | null} | null,
     "killed": 2, "stopped": [PROC], "background_count": 0, "background": [PROC],
     "exhausted": false, "files_before": LISTING, "files": LISTING, "files_complete": true}
    {"op": "unknown", "request": "<the op>"}

where ``CLIP`` is ``{"head": str, "tail": str, "cut": int}``: the start and end of a text
with ``cut`` bytes (stdout, stderr) or characters (value, traceback) removed in between;
``PROC`` is ``{"pid": int, "command": str}`` (the first 20 only); ``LISTING`` is ``{path:
[size, mtime_ns]}`` of the files under ``data_root`` at the start and the end of the cell,
sent only when ``snapshot`` asks (a drive the host cannot see), with ``files_complete``
false when either listing could not see every file. Any other request is answered with
``unknown``.

What a cell leaves behind: by default every process it left running is killed when the
cell ends (``killed`` counts them, ``stopped`` names them). With ``keep_background`` they
keep running and ``background`` lists them after every cell; an interrupted cell, or one
that ran out of processes (``exhausted``: ``BlockingIOError`` or no new thread, what a fork
bomb gets at the container's process limit, while the cgroup's ``pids.events`` counts a
refusal), still has what *it* started killed. The kernel's own finished children are
reaped after every cell. A few file descriptors are held back (:class:`FdReserve`), so a
cell that used up the rest cannot hide its leftovers or the drive from the kernel.

The protocol uses private duplicates of the original stdin/stdout; file descriptors 0, 1
and 2 are replaced (``/dev/null`` and two pipes drained by threads), so nothing the code
or its subprocesses print can break the framing. Output is capped while it streams: only
the head and tail of each stream are kept, the rest is counted. A process the cell forks
closes the protocol descriptors and exits when it reaches the end of the cell, so only
the kernel itself ever answers the host.

On an ``interrupt`` the kernel raises ``KeyboardInterrupt`` in the running cell, then
kills the leftover processes: in a container (:data:`CONTAINED_ENV` set) every process
but init, the kernel and what the engine entered from outside (``docker exec``), outside
one (the package's own tests) only the kernel's own descendants. If the cell ignores the
interrupt, the host's grace period runs out and the host removes the whole container. If
the host goes away (stdin closes) or sends a frame that is not valid, the kernel kills
its leftover processes and exits.

At start the kernel applies the umask the host chose (:data:`UMASK_ENV`) and copies the
image's prebuilt matplotlib font cache into the (empty) home directory.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import io
import json
import linecache
import os
import queue
import signal
import struct
import sys
import threading
import traceback
import types
from typing import Any

BOOTSTRAP = (
    "import os,struct\n"
    "def _r(n):\n"
    " b=b''\n"
    " while len(b)<n:\n"
    "  c=os.read(0,n-len(b))\n"
    "  if not c: raise SystemExit(3)\n"
    "  b+=c\n"
    " return b\n"
    "_n=struct.unpack('>I',_r(4))[0]\n"
    "exec(compile(_r(_n),'<gptoss-kernel>','exec'),{'__name__':'__gptoss_kernel__'})\n"
)
"""What the container runs (``python3 -c BOOTSTRAP``): read one frame of source, run it.

Reading with ``os.read`` (not ``sys.stdin``) guarantees that no byte after the source is
swallowed by a buffer."""

CONTAINED_ENV = "GPTOSS_SANDBOX"
"""Set to ``1`` by the host in sandbox containers: the kernel may then clean up after an
interrupt with ``kill(-1)``, which must never happen outside a PID namespace."""

UMASK_ENV = "GPTOSS_UMASK"
"""The umask (octal digits) the kernel applies at start, chosen by the host so that files
the sandbox writes stay removable by the host user."""

MPL_CACHE = "/opt/gptoss/matplotlib"
"""Where the image keeps matplotlib's prebuilt font cache (the build writes it, the kernel
copies it into the home directory), so the first plot does not build it."""

KERNEL_FILENAME = "<gptoss-kernel>"
"""The file name the kernel's code objects carry when bootstrapped."""

_HEADER = struct.Struct(">I")
_MAX_FRAME = 64 * 1024 * 1024
_CHUNK = 65536
_SENTINEL_WAIT_S = 2.0


def _own_filename() -> str:
    return sys._getframe().f_code.co_filename


_KERNEL_FILE = _own_filename()


def clean_text(text: str) -> str:
    r"""Make ``text`` encodable as UTF-8 (lone surrogates become ``\udcff`` escapes)."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def clip(text: str, limit: int) -> dict[str, Any]:
    """Keep the first and last ``limit // 2`` characters of ``text``; count the rest."""
    text = clean_text(text)
    if len(text) <= limit:
        return {"head": text, "tail": "", "cut": 0}
    head = limit - limit // 2
    tail = limit // 2
    return {
        "head": text[:head],
        "tail": text[len(text) - tail :] if tail else "",
        "cut": len(text) - head - tail,
    }


class Wire:
    """Framed JSON over two file descriptors; writes are serialised by a lock."""

    def __init__(self, fd_in: int, fd_out: int) -> None:
        self.fd_in = fd_in
        self.fd_out = fd_out
        self._lock = threading.Lock()

    def _read_exactly(self, n: int) -> bytes | None:
        parts = []
        while n:
            chunk = os.read(self.fd_in, min(n, 1 << 20))
            if not chunk:
                return None
            parts.append(chunk)
            n -= len(chunk)
        return b"".join(parts)

    def read(self) -> dict[str, Any] | None:
        """The next message, or ``None`` when the host closed the stream or sent garbage."""
        header = self._read_exactly(_HEADER.size)
        if header is None:
            return None
        (size,) = _HEADER.unpack(header)
        if size > _MAX_FRAME:
            return None
        payload = self._read_exactly(size)
        if payload is None:
            return None
        try:
            message = json.loads(payload.decode("utf-8"))
        except ValueError:
            return None
        return message if isinstance(message, dict) else None

    def write(self, message: dict[str, Any]) -> None:
        """Send one message (all of it, or raise ``OSError``)."""
        payload = json.dumps(message, ensure_ascii=False).encode("utf-8")
        data = memoryview(_HEADER.pack(len(payload)) + payload)
        with self._lock:
            while data:
                written = os.write(self.fd_out, data)
                data = data[written:]


class Capture:
    """The head and tail of one output stream of the current cell, plus a byte count."""

    def __init__(self) -> None:
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0
        self.limit = 16384

    def reset(self, limit: int) -> None:
        """Start a new cell whose stream keeps at most ``limit`` bytes."""
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0
        self.limit = max(2, limit)

    def add(self, data: bytes) -> None:
        """Append bytes: fill the head first, then keep a rolling tail."""
        self.total += len(data)
        head_room = self.limit - self.limit // 2 - len(self.head)
        if head_room > 0:
            self.head += data[:head_room]
            data = data[head_room:]
        if data:
            keep = self.limit // 2
            self.tail += data
            if len(self.tail) > 2 * keep + _CHUNK:
                del self.tail[: len(self.tail) - keep]

    def take(self) -> dict[str, Any]:
        """The captured text as a clip (``cut`` counts bytes)."""
        keep = self.limit // 2
        if len(self.tail) > keep:
            del self.tail[: len(self.tail) - keep]
        cut = self.total - len(self.head) - len(self.tail)
        return {
            "head": self.head.decode("utf-8", "replace"),
            "tail": self.tail.decode("utf-8", "replace"),
            "cut": cut,
        }


class Drain(threading.Thread):
    """Reads one capture pipe for the kernel's whole life.

    At the end of a cell the kernel writes a random sentinel into the pipe and waits
    until this thread has seen it: every byte written before then belongs to the cell.
    """

    def __init__(self, read_fd: int, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.read_fd = read_fd
        self.capture = Capture()
        self.cond = threading.Condition()
        self.sentinel: bytes | None = None
        self._pending = b""

    def run(self) -> None:
        """Read the pipe until it closes, handing every byte to :meth:`_consume`."""
        while True:
            try:
                data = os.read(self.read_fd, _CHUNK)
            except InterruptedError:
                continue
            except OSError:
                return
            if not data:
                return
            with self.cond:
                self._consume(data)

    def _consume(self, data: bytes) -> None:
        sentinel = self.sentinel
        if sentinel is None:
            self.capture.add(data)
            return
        buf = self._pending + data
        index = buf.find(sentinel)
        if index >= 0:
            self.capture.add(buf[:index])
            self._pending = b""
            self.sentinel = None
            self.cond.notify_all()
            return
        keep = len(sentinel) - 1
        self.capture.add(buf[: len(buf) - keep])
        self._pending = buf[len(buf) - keep :]

    def arm(self, sentinel: bytes) -> None:
        """Expect ``sentinel`` next; bytes before it are the cell's."""
        with self.cond:
            self._pending = b""
            self.sentinel = sentinel

    def wait(self, timeout: float) -> bool:
        """Wait until the armed sentinel was seen."""
        with self.cond:
            seen = self.cond.wait_for(lambda: self.sentinel is None, timeout)
            if not seen:
                self.capture.add(self._pending)
                self._pending = b""
                self.sentinel = None
            return seen


def _process_table() -> dict[int, tuple[int, bytes]]:
    """``pid -> (parent pid, state)`` for every process visible in ``/proc``.

    Empty when ``/proc`` cannot be read (the cell used up the kernel's file descriptors).
    """
    table: dict[int, tuple[int, bytes]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return table
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        rest = stat[stat.rfind(b")") + 2 :].split()
        if len(rest) < 2:
            continue
        table[int(entry)] = (int(rest[1]), rest[0])
    return table


class FdReserve:
    """A few file descriptors held back for the kernel's own bookkeeping.

    A cell may open files until the kernel process has no descriptor left; listing
    ``/proc`` (to stop what the cell left running) and the drive then still needs a
    few. They are held as pipes, released around the bookkeeping and taken again after
    it; one the cell closed and reused meanwhile (another inode) is never closed.
    """

    def __init__(self, pairs: int = 2) -> None:
        self.pairs = pairs
        self._held: list[tuple[int, int]] = []
        self.hold()

    def hold(self) -> None:
        """Take descriptors until ``pairs`` pipes are held (as many as are left)."""
        while len(self._held) < 2 * self.pairs:
            try:
                pair = os.pipe()
                inode = os.fstat(pair[0]).st_ino
            except OSError:
                return
            self._held += [(pair[0], inode), (pair[1], inode)]

    @contextlib.contextmanager
    def released(self) -> Any:
        """Free the held descriptors for the block, then take them again."""
        held, self._held = self._held, []
        for fd, inode in held:
            with contextlib.suppress(OSError):
                if os.fstat(fd).st_ino == inode:
                    os.close(fd)
        try:
            yield
        finally:
            self.hold()


PIDS_EVENTS = ("/sys/fs/cgroup/pids.events", "/sys/fs/cgroup/pids/pids.events")
"""The container's cgroup ``pids.events`` (cgroup v2, then v1): ``max N`` counts the
forks its process limit refused."""


def pids_refusals() -> int | None:
    """How many forks the container's process limit has refused, ``None`` if unknown."""
    for path in PIDS_EVENTS:
        try:
            with open(path, "rb") as handle:
                lines = handle.read().splitlines()
        except OSError:
            continue
        for line in lines:
            name, _, count = line.partition(b" ")
            if name == b"max" and count.strip().isdigit():
                return int(count)
    return None


def stray_pids(me: int, contained: bool) -> list[int]:
    """Live processes other than the kernel: what a cell left behind.

    In a container (``contained``) that is every process but init, the kernel and
    processes the engine entered from outside (``docker exec``, parent pid 0). Run
    outside one (the package's own tests), only the kernel's descendants: never touch
    processes the kernel did not start.
    """
    table = _process_table()
    alive = {pid for pid, (_, state) in table.items() if state not in (b"Z", b"X")}
    if contained:
        entered = {pid for pid, (ppid, _) in table.items() if ppid == 0}
        return sorted(alive - entered - {1, me})
    descendants: set[int] = set()
    frontier = {me}
    while frontier:
        frontier = {pid for pid, (ppid, _) in table.items() if ppid in frontier} - descendants
        descendants |= frontier
    return sorted(descendants & alive)


def command_of(pid: int, limit: int = 160) -> str:
    """The command line of ``pid`` (its name in brackets when it has none), shortened."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            raw = handle.read()
        if raw and raw == _own_cmdline():
            return "python3 (a process forked by the code)"
        text = raw.replace(b"\0", b" ").decode("utf-8", "replace").strip()
        if not text:
            with open(f"/proc/{pid}/comm", "rb") as handle:
                text = "[" + handle.read().decode("utf-8", "replace").strip() + "]"
    except OSError:
        text = "?"
    return clean_text(text if len(text) <= limit else text[: limit - 3] + "...")


def _own_cmdline() -> bytes:
    try:
        with open("/proc/self/cmdline", "rb") as handle:
            return handle.read()
    except OSError:
        return b""


def reap() -> int:
    """Collect every finished child of the kernel (no zombies are left); return how many."""
    reaped = 0
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return reaped
        if pid == 0:
            return reaped
        reaped += 1


def kill_strays(
    contained: bool, rounds: int = 200, spare: frozenset[int] = frozenset()
) -> dict[int, str]:
    """Kill what a cell left behind (see :func:`stray_pids`) but ``spare``.

    Repeats until a listing finds nothing (a fork bomb's clones fork while being
    killed); commands are read for the first 20 processes only, so that is quick.

    Returns:
        ``pid -> command`` of every process killed (``"?"`` past the first 20).
    """
    me = os.getpid()
    killed: dict[int, str] = {}
    broadcast = contained and os.getuid() != 0 and not spare
    for _ in range(rounds):
        targets = [pid for pid in stray_pids(me, contained) if pid not in spare]
        if not targets:
            break
        for pid in targets:
            if pid not in killed:
                killed[pid] = command_of(pid) if len(killed) < 20 else "?"
        if broadcast:
            # kill(-1) reaches every process this user may signal in the PID namespace,
            # including ones forked while we were listing.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(-1, signal.SIGKILL)
        else:
            # Freeze first, then kill: a clone killed at once frees a process slot that
            # a sibling not yet killed forks into, so a fork bomb could outrun the rounds.
            for sig in (signal.SIGSTOP, signal.SIGKILL):
                for pid in targets:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(pid, sig)
        reap()
        if broadcast:
            threading.Event().wait(0.005)
    reap()
    return killed


def describe_processes(found: dict[int, str], limit: int = 20) -> list[dict[str, Any]]:
    """The first ``limit`` processes of ``pid -> command`` as protocol records."""
    return [{"pid": pid, "command": found[pid]} for pid in sorted(found)[:limit]]


def data_snapshot(root: str, limit: int = 10_000) -> tuple[dict[str, list[int]], bool]:
    """``relative path -> [size, mtime_ns]`` of the regular files below ``root``.

    Links are not followed; at most ``limit`` files are listed.

    Returns:
        The listing, and whether it is complete: ``False`` when a folder could not be
        read (no file descriptor left, no permission) or more than ``limit`` files exist,
        so a file missing from it may still be there.
    """
    found: dict[str, list[int]] = {}
    complete = True
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            complete = False
            continue
        for entry in entries:
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if entry.is_dir(follow_symlinks=False):
                stack.append(entry.path)
            elif entry.is_file(follow_symlinks=False):
                if len(found) >= limit:
                    return found, False
                rel = clean_text(os.path.relpath(entry.path, root))
                found[rel] = [info.st_size, info.st_mtime_ns]
    return found, complete


class Kernel:
    """Runs cells in one namespace; the main thread executes, a thread reads requests."""

    def __init__(self, wire: Wire) -> None:
        self.wire = wire
        self.pid = os.getpid()
        self.requests: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.current_id: int | None = None
        self.in_user_code = False
        self.interrupt_requested = False
        self.state_lock = threading.Lock()
        self.cell_count = 0
        self.refusals: int | None = None
        self.main_ident = threading.get_ident()
        self.contained = os.environ.get(CONTAINED_ENV) == "1"
        module = types.ModuleType("__main__")
        module.__dict__["__builtins__"] = builtins
        sys.modules["__main__"] = module
        self.namespace = module.__dict__
        self._setup_streams()
        self.reserve = FdReserve()

    # -- setup -------------------------------------------------------------------------

    def _setup_streams(self) -> None:
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        self.out_w, self.err_w = out_w, err_w
        self.stdout_drain = Drain(out_r, "stdout-drain")
        self.stderr_drain = Drain(err_r, "stderr-drain")
        self.stdout_drain.start()
        self.stderr_drain.start()
        self._restore_fds()

    def _restore_fds(self) -> None:
        """Point fds 1 and 2 at the capture pipes and rebuild ``sys.stdout``/``stderr``."""
        os.dup2(self.out_w, 1)
        os.dup2(self.err_w, 2)
        for name, fd in (("stdout", 1), ("stderr", 2)):
            stream = io.TextIOWrapper(
                io.FileIO(fd, "w", closefd=False),
                encoding="utf-8",
                errors="backslashreplace",
                line_buffering=True,
            )
            setattr(sys, name, stream)
            setattr(sys, f"__{name}__", stream)

    def _after_fork_in_child(self) -> None:
        # A forked child must never speak the protocol: only the kernel process does.
        for fd in (self.wire.fd_in, self.wire.fd_out):
            with contextlib.suppress(OSError):
                os.close(fd)

    # -- request handling --------------------------------------------------------------

    def read_requests(self) -> None:
        """Reader thread: queue cell requests, act on interrupts at once."""
        while True:
            message = self.wire.read()
            if message is None:
                # The host is gone (or sent garbage): stop now, even mid-cell.
                with self.reserve.released():
                    kill_strays(self.contained, rounds=5)
                os._exit(0)
            if message.get("op") == "interrupt":
                self._interrupt(message.get("id"))
            else:
                self.requests.put(message)

    def _interrupt(self, cell_id: object) -> None:
        with self.state_lock:
            if cell_id != self.current_id or not self.in_user_code:
                return
            self.interrupt_requested = True
        with contextlib.suppress(OSError, ValueError):
            signal.pthread_kill(self.main_ident, signal.SIGINT)

    def _on_sigint(self, signum: int, frame: object) -> None:
        if self.in_user_code:
            raise KeyboardInterrupt

    def serve(self) -> None:
        """Answer requests until the host goes away, then kill everything and exit."""
        os.register_at_fork(after_in_child=self._after_fork_in_child)
        signal.signal(signal.SIGINT, self._on_sigint)
        threading.Thread(target=self.read_requests, name="requests", daemon=True).start()
        while True:
            try:
                message = self.requests.get()
            except KeyboardInterrupt:
                continue
            if message is None:
                break
            op = message.get("op")
            if op == "hello":
                self.wire.write({"op": "ready", "pid": self.pid, "python": sys.version.split()[0]})
            elif op == "exec":
                self.wire.write(self.execute(message))
            else:
                self.wire.write({"op": "unknown", "request": clean_text(str(op))})
        with self.reserve.released():
            kill_strays(self.contained, rounds=5)
        os._exit(0)

    # -- cells -------------------------------------------------------------------------

    def execute(self, request: dict[str, Any]) -> dict[str, Any]:
        """Run one cell, deal with what it left behind, and build its result message."""
        cell_id = request.get("id")
        output_bytes = int(request.get("output_bytes", 16384))
        keep = bool(request.get("keep_background"))
        data_root = str(request.get("data_root") or os.getcwd())
        with self.reserve.released():
            kept = frozenset(stray_pids(self.pid, self.contained) if keep else ())
            files_before = data_snapshot(data_root) if request.get("snapshot") else None
            self.refusals = pids_refusals()
        self._restore_fds()
        self.stdout_drain.capture.reset(output_bytes)
        self.stderr_drain.capture.reset(output_bytes)
        signal.signal(signal.SIGINT, self._on_sigint)
        with self.state_lock:
            self.current_id = cell_id if isinstance(cell_id, int) else None
            self.interrupt_requested = False
        status, value, error, exhausted = self._run_cell(
            str(request.get("code", "")), output_bytes, int(request.get("value_chars", 8192))
        )
        with self.state_lock:
            interrupted = self.interrupt_requested
            self.current_id = None
            self.interrupt_requested = False
        if interrupted:
            status = "interrupted"
        with self.reserve.released():
            stopped, background = self._leftovers(
                interrupted or exhausted or not keep, keep, kept
            )
            files_after = data_snapshot(data_root) if files_before is not None else None
        self._finish_streams()
        reply = {
            "op": "result",
            "id": cell_id,
            "status": status,
            "stdout": self.stdout_drain.capture.take(),
            "stderr": self.stderr_drain.capture.take(),
            "value": value,
            "error": error,
            "killed": len(stopped),
            "stopped": describe_processes(stopped),
            "background_count": len(background),
            "background": describe_processes(background),
            "exhausted": exhausted,
        }
        if files_before is not None and files_after is not None:
            reply["files_before"], reply["files"] = files_before[0], files_after[0]
            reply["files_complete"] = files_before[1] and files_after[1]
        return reply

    def _leftovers(
        self, stop: bool, keep: bool, kept: frozenset[int]
    ) -> tuple[dict[int, str], dict[int, str]]:
        """``(stopped, kept running)``: what the cell left behind, dealt with.

        With ``stop`` (an interrupted cell, a fork bomb's clones, or by default anything
        a cell started and left running) it is killed now, except what was kept running
        before the cell started (``kept``); with ``keep`` (``keep_background``) what
        still runs is listed.
        """
        stopped = kill_strays(self.contained, spare=kept) if stop else {}
        reap()
        background = {}
        if keep:
            background = {pid: command_of(pid) for pid in stray_pids(self.pid, self.contained)}
        return stopped, background

    def _run_cell(
        self, code: str, output_bytes: int, value_chars: int
    ) -> tuple[str, dict[str, Any] | None, dict[str, Any] | None, bool]:
        """Run the cell's code: ``(status, value clip, error, process limit reached)``."""
        self.cell_count += 1
        filename = f"<cell-{self.cell_count}>"
        linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
        try:
            try:
                self.in_user_code = True
                shown = self._run(code, filename)
                value = clip(repr(shown), value_chars) if shown is not None else None
            finally:
                self.in_user_code = False
                if os.getpid() != self.pid:
                    self._child_exit()
        except BaseException as exc:
            return "error", None, self._format_error(exc, output_bytes), self._exhausted(exc)
        return "ok", value, None, False

    def _exhausted(self, exc: BaseException) -> bool:
        """Whether ``exc`` means the process limit was reached (a fork bomb's lot).

        ``BlockingIOError`` is also what a non-blocking socket or pipe raises: where the
        cgroup's refusal count can be read, only a refusal during the cell counts.
        """
        if not (
            isinstance(exc, BlockingIOError)
            or (isinstance(exc, RuntimeError) and "can't start new thread" in str(exc))
        ):
            return False
        with self.reserve.released():
            now = pids_refusals()
        return now is None or self.refusals is None or now > self.refusals

    def _run(self, code: str, filename: str) -> object:
        tree = ast.parse(code, filename, "exec")
        last: ast.Expression | None = None
        tail = tree.body[-1] if tree.body else None
        if isinstance(tail, ast.Expr) and not code.rstrip().endswith(";"):
            tree.body.pop()
            last = ast.Expression(tail.value)
        exec(compile(tree, filename, "exec"), self.namespace)
        if last is None:
            return None
        value = eval(compile(last, filename, "eval"), self.namespace)
        if value is not None:
            self.namespace["_"] = value
        return value

    def _child_exit(self) -> None:
        # A process forked by the cell reached the end of the cell: it must not return
        # into the kernel loop.
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(0)

    def _format_error(self, exc: BaseException, limit: int) -> dict[str, Any]:
        try:
            report = traceback.TracebackException(type(exc), exc, exc.__traceback__)
            if isinstance(exc, SyntaxError):
                frames = []  # the parser's frames mean nothing to the cell's author
            else:
                frames = [f for f in report.stack if f.filename != _KERNEL_FILE]
            report.stack = traceback.StackSummary.from_list(frames)
            text = "".join(report.format())
        except Exception:
            text = f"{type(exc).__name__}: <unprintable exception>\n"
        try:
            message = str(exc)
        except Exception:
            message = "<unprintable exception>"
        code = getattr(exc, "errno", None)
        return {
            "name": clean_text(type(exc).__name__),
            "message": clip(message, limit)["head"],
            "traceback": clip(text, limit),
            "errno": code if isinstance(code, int) else None,
        }

    def _finish_streams(self) -> None:
        """Flush Python's buffers and wait until both pipes are drained up to here."""
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        self._restore_fds()
        for drain, fd in ((self.stdout_drain, 1), (self.stderr_drain, 2)):
            sentinel = b"\x00gptoss-sync-" + os.urandom(8).hex().encode() + b"\x00"
            drain.arm(sentinel)
            try:
                os.write(fd, sentinel)
            except OSError:
                drain.wait(0)
                continue
            drain.wait(_SENTINEL_WAIT_S)


def _seed_matplotlib_cache(source: str = MPL_CACHE) -> None:
    """Copy the image's prebuilt matplotlib font cache into the (empty) home."""
    if "MPLCONFIGDIR" in os.environ or not os.path.isdir(source):
        return
    target = os.path.join(os.path.expanduser("~"), ".cache", "matplotlib")
    try:
        os.makedirs(target, exist_ok=True)
        for name in os.listdir(source):
            if name.endswith(".json") and not os.path.exists(os.path.join(target, name)):
                with open(os.path.join(source, name), "rb") as src:
                    data = src.read()
                with open(os.path.join(target, name), "wb") as dst:
                    dst.write(data)
    except OSError:
        pass


def main() -> None:
    """Take over the process: private protocol fds, captured 1/2, serve until EOF."""
    fd_in = os.dup(0)
    fd_out = os.dup(1)
    umask = os.environ.get(UMASK_ENV, "")
    if umask:
        os.umask(int(umask, 8))
    _seed_matplotlib_cache()
    kernel = Kernel(Wire(fd_in, fd_out))
    kernel.serve()


if __name__ in ("__main__", "__gptoss_kernel__"):
    main()

"""Abusive neighbours: 20 concurrent sessions in one process, 5 of them hostile.

One ``PythonTool`` and one ``BrowserTool`` serve every session, as in an app that runs
many agents at once. Fifteen *victim* sessions do ordinary work, each round one python
call (a computation that also checks the session's own state) and one ``browser.open``
of a local page (checked for the session's marker). Five *abusers* repeat one attack
each for as long as the victims work:

- ``fork_bomb``: ``os.fork()`` in a loop (the container's process limit);
- ``memory_hog``: allocates until the memory limit kills the kernel;
- ``output_flood``: writes 256 MB to stdout (the output cap);
- ``cpu_spin``: spins the CPU, also in two background processes it leaves behind
  (the deadline, and the stop of leftover processes when a call ends);
- ``hung_page``: opens a page whose script never returns (the browser's deadlines),
  then opens a normal page in the same session.

The same victim work is measured with no abusers before and again after the abused
phase, in the same run, so a drift of the machine or a warm-up shows in neither side
alone (the two quiet phases' python medians are printed; the quiet figures pool both);
the figure is the larger of two ratios of median call latency, abused over quiet:
the victims' python calls and their ``browser.open`` calls (the median of both kinds
together falls between their two modes, so it is printed but not the figure). An abuser
counts as contained when every one of its calls came back with the limit it hit named and
its session answered an ordinary call afterwards.

Usage: ``python bench/abuse_load.py [--quick]``. Needs the Docker engine with the sandbox
image and Chromium. The last line is one JSON object:
``{"bench": "abuse_load", "victims_ok": ..., "victim_slowdown": ..., "abusers_contained":
...}``. Goal: ``victims_ok`` 15, ``victim_slowdown`` <= 2, ``abusers_contained`` 5.
"""

from __future__ import annotations

import argparse
import asyncio
import http.server
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass, field

from local_site import serve_pages

from gptoss_agent.sandbox import SandboxConfig, SandboxLimits
from gptoss_agent.tools.base import ToolCall, ToolContext, ToolResult
from gptoss_agent.tools.browser import BrowserConfig, BrowserTool, find_chromium
from gptoss_agent.tools.python_tool import PythonTool

VICTIMS = 15

HUNG_PAGE = b"<!doctype html><title>hung</title><script>while (true) {}</script><p>never</p>"


def page(marker: str) -> bytes:
    """An ordinary page that names the session that asked for it."""
    rows = "".join(f"<p>Row {i} of the report, with <a href='/r{i}'>a link</a>.</p>"
                   for i in range(40))
    return (f"<!doctype html><html><head><title>Report</title></head><body>"
            f"<h1>marker {marker}</h1>{rows}</body></html>").encode()


def serve() -> tuple[http.server.ThreadingHTTPServer, int]:
    """Serve ordinary pages at ``/page?m=MARKER`` and the hung page at ``/hung``."""
    return serve_pages(lambda path: HUNG_PAGE if path.startswith("/hung")
                       else page(path.partition("m=")[2] or "none"))


@dataclass
class Bench:
    """The shared tools and the local site."""

    python: PythonTool
    browser: BrowserTool
    port: int

    async def run_python(self, session: str, code: str) -> tuple[ToolResult, float]:
        """One python call: ``(result, seconds)``."""
        started = time.perf_counter()
        result = await self.python.call(
            ToolCall(uuid.uuid4().hex, "python", None, code, "analysis"),
            ToolContext(session_id=session),
        )
        return result, time.perf_counter() - started

    async def open_page(self, session: str, path: str) -> tuple[ToolResult, float]:
        """One ``browser.open``: ``(result, seconds)``."""
        started = time.perf_counter()
        url = f"http://127.0.0.1:{self.port}{path}"
        result = await self.browser.call(
            ToolCall(uuid.uuid4().hex, "browser", "open", json.dumps({"id": url}), "analysis"),
            ToolContext(session_id=session),
        )
        return result, time.perf_counter() - started


@dataclass
class VictimReport:
    """What one victim session saw in one phase."""

    python_s: list[float] = field(default_factory=list)
    browser_s: list[float] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)


async def victim(bench: Bench, index: int, rounds: int, phase: str) -> VictimReport:
    """Ordinary work: a python call every round, and for every third session a page too.

    Five of the fifteen use the browser (each round), so the shared Chromium serves
    about as many pages at once as a small team of agents would ask of it.
    """
    session, report = f"victim-{index}", VictimReport()
    for step in range(rounds):
        n = 20_000 + index * 100 + step
        result, seconds = await bench.run_python(
            session, f"calls = globals().get('calls', 0) + 1\n(sum(i * i for i in range({n})), "
            f"name)")
        report.python_s.append(seconds)
        if result.text != repr((sum(i * i for i in range(n)), session)):
            report.wrong.append(f"{phase} python {step}: {result.text[:200]}")
        if index % 3:
            continue
        marker = f"{session}-{phase}-{step}"
        result, seconds = await bench.open_page(session, f"/page?m={marker}")
        report.browser_s.append(seconds)
        if result.is_error or f"marker {marker}" not in result.text:
            report.wrong.append(f"{phase} browser {step}: {result.text[:200]}")
    return report


@dataclass
class AbuserReport:
    """What one abuser got back: each attack's outcome, and the check afterwards."""

    name: str
    outcomes: list[str] = field(default_factory=list)
    contained: bool = True
    seconds: list[float] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)


PYTHON_ATTACKS = {
    "fork_bomb": "import os\nwhile True:\n    os.fork()",
    "memory_hog": "x = []\nwhile True:\n    x.append(bytearray(32 << 20))",
    "output_flood": "import sys\nfor _ in range(256):\n    sys.stdout.write('x' * (1 << 20))",
    "cpu_spin": (
        "import subprocess, sys\nfor _ in range(2):\n"
        "    subprocess.Popen([sys.executable, '-c', 'while True: pass'])\n"
        "while True:\n    pass"
    ),
}
"""Each python attack. Contained: every call names the limit that stopped it (the one
the attack aims at, or the deadline when that came first) and the session answers."""


async def python_abuser(bench: Bench, name: str, stop: asyncio.Event) -> AbuserReport:
    """Repeat one attack until the victims are done, then check the session answers."""
    session, report = f"abuser-{name}", AbuserReport(name)
    while True:
        result, seconds = await bench.run_python(session, PYTHON_ATTACKS[name])
        meta = result.metadata
        report.seconds.append(seconds)
        report.outcomes.append(f"{meta.get('status')}/{meta.get('limit')}")
        if not meta.get("limit"):
            report.contained = False
        if name == "cpu_spin" and not (meta.get("stopped_count") == 2 or meta.get("state_reset")):
            report.contained = False  # the two spinners it left behind must be gone
        if stop.is_set():
            break
    check, _ = await bench.run_python(session, "'still answers'")
    report.contained &= check.text == "'still answers'"
    return report


async def hung_page_abuser(bench: Bench, stop: asyncio.Event) -> AbuserReport:
    """Open the hung page until the victims are done, then an ordinary page."""
    session, report = "abuser-hung_page", AbuserReport("hung_page")
    while True:
        result, seconds = await bench.open_page(session, "/hung")
        report.seconds.append(seconds)
        text = result.text.lower()
        named = any(word in text for word in ("timeout", "timed out", "deadline", "did not"))
        report.outcomes.append(("error" if result.is_error else "ok") + ("/named" if named else ""))
        report.texts.append(result.text[:160])
        report.contained &= named
        if stop.is_set():
            break
    check, _ = await bench.open_page(session, "/page?m=after-hung")
    report.contained &= "marker after-hung" in check.text
    return report


async def victims_phase(bench: Bench, rounds: int, phase: str) -> list[VictimReport]:
    return list(await asyncio.gather(*(victim(bench, i, rounds, phase) for i in range(VICTIMS))))


async def abused_phase(bench: Bench, rounds: int) -> tuple[list[VictimReport], list[AbuserReport]]:
    """The victims' work while the five abusers attack, from before it starts to after."""
    stop = asyncio.Event()
    attacks: list[Awaitable[AbuserReport]] = [
        python_abuser(bench, name, stop) for name in PYTHON_ATTACKS
    ]
    attacks.append(hung_page_abuser(bench, stop))
    abusers = [asyncio.ensure_future(a) for a in attacks]
    await asyncio.sleep(1.0)  # let every attack get going before the victims start
    try:
        victims = await victims_phase(bench, rounds, "abused")
    finally:
        stop.set()
    return victims, list(await asyncio.gather(*abusers))


async def warm_up(bench: Bench) -> None:
    """Start every session's container and browser context (not measured)."""
    names = [f"victim-{i}" for i in range(VICTIMS)] + [f"abuser-{n}" for n in PYTHON_ATTACKS]

    async def one(session: str) -> None:
        await bench.run_python(session, f"name = {session!r}")
        if session.startswith("victim") and int(session.split("-")[1]) % 3 == 0:
            await bench.open_page(session, "/page?m=warm")

    await asyncio.gather(*(one(s) for s in names))
    await bench.open_page("abuser-hung_page", "/page?m=warm")


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000 if values else float("nan")


def report(quiet: list[VictimReport], abused: list[VictimReport],
           abusers: list[AbuserReport]) -> dict[str, object]:
    """Print the tables; return the figures."""
    def all_calls(reports: list[VictimReport]) -> list[float]:
        return [s for r in reports for s in (*r.python_s, *r.browser_s)]

    print(f"{'victim calls':<24}{'calls':>7}{'quiet ms':>11}{'abused ms':>11}{'ratio':>8}")
    ratios: dict[str, float] = {}
    for label, pick in (("python", lambda r: r.python_s), ("browser.open", lambda r: r.browser_s),
                        ("all", lambda r: [*r.python_s, *r.browser_s])):
        q = [s for r in quiet for s in pick(r)]
        a = [s for r in abused for s in pick(r)]
        ratios[label] = median_ms(a) / median_ms(q)
        print(f"{label:<24}{len(a):>7}{median_ms(q):>11.1f}{median_ms(a):>11.1f}"
              f"{ratios[label]:>8.2f}")
    print(f"\n{'abuser':<16}{'calls':>6}{'contained':>11}  outcomes")
    for abuser in abusers:
        shown = ", ".join(sorted(set(abuser.outcomes)))
        print(f"{abuser.name:<16}{len(abuser.outcomes):>6}{abuser.contained!s:>11}  {shown}")
        for text in sorted(set(abuser.texts))[:3]:
            print(f"{'':<16}  said: {text!r}")
    wrong = [w for r in (*quiet, *abused) for w in r.wrong]
    for line in wrong[:10]:
        print(f"wrong: {line}")
    victims_ok = sum(1 for q, a in zip(quiet, abused, strict=True) if not q.wrong and not a.wrong)
    # Per kind of work: the median of python and browser calls together falls between
    # two modes (about 60 ms and 300 ms), so a small shift in the mix moves it far.
    slowdown = max(ratios["python"], ratios["browser.open"])
    return {
        "bench": "abuse_load",
        "victims_ok": victims_ok,
        "victim_slowdown": round(slowdown, 2),
        "abusers_contained": sum(1 for a in abusers if a.contained),
        "quiet_ms": round(median_ms(all_calls(quiet)), 1),
        "abused_ms": round(median_ms(all_calls(abused)), 1),
        "python_slowdown": round(ratios["python"], 2),
        "browser_slowdown": round(ratios["browser.open"], 2),
        "all_calls_slowdown": round(ratios["all"], 2),
    }


async def main(quick: bool) -> int:
    chromium = find_chromium()
    if chromium is None:
        print("abuse_load: Chromium not found (scripts/setup.d/system-packages.sh)",
              file=sys.stderr)
        return 1
    server, port = serve()
    rounds = 2 if quick else 60
    limits = SandboxLimits(timeout_s=4.0 if quick else 8.0, interrupt_grace_s=1.0,
                           memory_mb=512, pids=128)
    with tempfile.TemporaryDirectory() as folder:
        bench = Bench(
            PythonTool(SandboxConfig(limits=limits), data_dir=folder),
            BrowserTool(None, BrowserConfig(executable_path=chromium, allowlist=("127.0.0.1",),
                                            load_timeout_s=5.0)),
            port,
        )
        try:
            await warm_up(bench)
            before = await victims_phase(bench, rounds, "quiet")
            abused, abusers = await abused_phase(bench, rounds)
            after = await victims_phase(bench, rounds, "after")
        finally:
            await bench.python.aclose()
            await bench.browser.aclose()
            server.shutdown()
    for label, phase in (("before", before), ("after", after)):
        calls = [s for r in phase for s in r.python_s]
        print(f"quiet python calls {label} the abusers: median {median_ms(calls):.1f} ms")
    quiet = [VictimReport([*b.python_s, *a.python_s], [*b.browser_s, *a.browser_s],
                          [*b.wrong, *a.wrong]) for b, a in zip(before, after, strict=True)]
    figures = report(quiet, abused, abusers)
    print(f"\ngoal: victims_ok {VICTIMS}, victim_slowdown <= 2, abusers_contained 5")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run (under a minute)")
    sys.exit(asyncio.run(main(parser.parse_args().quick)))

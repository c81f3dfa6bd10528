"""Browser latency: a warm ``browser.open`` against its floor and a launch per call.

Serves a small page on 127.0.0.1, then measures in the same run:

- *floor*: bare Playwright on the same Chromium and flags, one page kept open,
  ``page.goto(url)`` + ``page.content()`` (no egress proxy, no safety, no text);
- *warm*: ``browser.open`` on one ``BrowserTool`` whose Chromium is already running
  (a navigation in the session's tab through its egress proxy, plus HTML-to-text);
- *baseline*: the same ``browser.open`` on a fresh ``BrowserTool`` per call, which starts
  Playwright and Chromium, opens, renders and closes everything.

Floor and warm calls alternate, so both see the same machine load.

Prints a table, then as its last line one JSON object: ``{"bench": "browser_latency",
"ratio": ..., "warm_ms": ..., "baseline_ms": ..., "floor_ms": ..., "floor_ratio": ...}``
(``ratio`` = baseline / warm, ``floor_ratio`` = warm / floor). Goals: ratio >= 10 and
floor_ratio <= 1.3. ``--quick`` finishes in well under a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import http.server
import json
import statistics
import sys
import time
import uuid
from typing import Any

from local_site import serve_pages

from gptoss_agent.tools.base import ToolCall, ToolContext
from gptoss_agent.tools.browser import BrowserConfig, BrowserTool, find_chromium

PAGE = (
    "<!doctype html><html><head><title>Bench page</title></head><body>"
    + "".join(
        f"<p>Paragraph {i} with <a href='/p{i}'>a link</a> and some text to render.</p>"
        for i in range(60)
    )
    + "<script>document.body.insertAdjacentHTML('afterbegin', '<p>scripted</p>')</script>"
    "</body></html>"
).encode()


def serve() -> tuple[http.server.ThreadingHTTPServer, int]:
    return serve_pages(lambda path: PAGE)


async def open_once(tool: BrowserTool, session: str, url: str) -> float:
    started = time.perf_counter()
    result = await tool.call(
        ToolCall(uuid.uuid4().hex, "browser", "open", json.dumps({"id": url})),
        ToolContext(session_id=session),
    )
    elapsed = (time.perf_counter() - started) * 1000
    if result.is_error or "scripted" not in result.text:
        raise RuntimeError(f"open failed: {result.text[:300]}")
    return elapsed


async def floor_once(page: Any, url: str) -> float:
    """Bare Playwright: navigate the open page and read its HTML."""
    started = time.perf_counter()
    await page.goto(url)
    html = await page.content()
    elapsed = (time.perf_counter() - started) * 1000
    if "scripted" not in html:
        raise RuntimeError("the floor page did not render")
    return elapsed


async def warm_and_floor(config: BrowserConfig, base: str, calls: int) -> tuple[list[float], ...]:
    """Alternate warm ``browser.open`` calls with bare-Playwright floor calls."""
    from playwright.async_api import async_playwright

    warm_tool = BrowserTool(None, config)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=config.executable_path, args=config.chromium_args()
        )
        try:
            page = await (await browser.new_context()).new_page()
            await floor_once(page, f"{base}/floor-warmup")
            await open_once(warm_tool, "warm", f"{base}/warmup")
            warm, floor = [], []
            for i in range(calls):
                floor.append(await floor_once(page, f"{base}/floor?{i}"))
                warm.append(await open_once(warm_tool, "warm", f"{base}/page?{i}"))
        finally:
            await browser.close()
            await warm_tool.aclose()
    return warm, floor


def _row(name: str, values: list[float]) -> str:
    median = statistics.median(values)
    return f"{name:<28}{len(values):>7}{median:>12.1f}{min(values):>10.1f}{max(values):>10.1f}"


async def main(quick: bool) -> int:
    chromium = find_chromium()
    if chromium is None:
        print("Chromium not found; install it (scripts/setup.d/system-packages.sh).",
              file=sys.stderr)
        return 1
    server, port = serve()
    base = f"http://127.0.0.1:{port}"
    config = BrowserConfig(executable_path=chromium, allowlist=(f"127.0.0.1:{port}",))
    warm_calls, cold_calls = (15, 3) if quick else (60, 10)
    try:
        warm, floor = await warm_and_floor(config, base, warm_calls)
        cold: list[float] = []
        for i in range(cold_calls):
            tool = BrowserTool(None, config)
            try:
                cold.append(await open_once(tool, "cold", f"{base}/page?c{i}"))
            finally:
                await tool.aclose()
    finally:
        server.shutdown()
    warm_ms, cold_ms = statistics.median(warm), statistics.median(cold)
    floor_ms = statistics.median(floor)
    ratio, floor_ratio = cold_ms / warm_ms, warm_ms / floor_ms
    print(f"{'mode':<28}{'calls':>7}{'median ms':>12}{'min ms':>10}{'max ms':>10}")
    print(_row("floor (goto + content)", floor))
    print(_row("warm browser.open", warm))
    print(_row("launch per call", cold))
    print(f"ratio (launch per call / warm): {ratio:.1f}x  (goal: >= 10x)")
    print(f"floor ratio (warm / floor): {floor_ratio:.2f}x  (goal: <= 1.3x)")
    print(
        json.dumps(
            {
                "bench": "browser_latency",
                "ratio": round(ratio, 1),
                "warm_ms": round(warm_ms, 1),
                "baseline_ms": round(cold_ms, 1),
                "floor_ms": round(floor_ms, 1),
                "floor_ratio": round(floor_ratio, 2),
            }
        )
    )
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run (under a minute)")
    sys.exit(asyncio.run(main(parser.parse_args().quick)))

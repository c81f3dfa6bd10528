"""Browser latency: opening a local page with the warm browser vs launching one per call.

Serves a small page on 127.0.0.1, then measures in the same run:

- *warm*: ``browser.open`` on one ``BrowserTool`` whose Chromium is already running
  (a navigation in the session's existing context, plus HTML-to-text rendering);
- *baseline*: the same ``browser.open`` on a fresh ``BrowserTool`` per call, which starts
  Playwright and Chromium, opens, renders and closes everything.

Prints a table, then as its last line one JSON object:
``{"bench": "browser_latency", "ratio": ..., "warm_ms": ..., "baseline_ms": ...}``.
Goal: ratio >= 10. ``--quick`` finishes in well under a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import http.server
import json
import statistics
import sys
import threading
import time
import uuid

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
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(PAGE)))
            self.end_headers()
            self.wfile.write(PAGE)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, int(server.server_address[1])


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


async def main(quick: bool) -> int:
    chromium = find_chromium()
    if chromium is None:
        print("Chromium not found; install it (scripts/setup.d/30-chromium.sh).", file=sys.stderr)
        return 1
    server, port = serve()
    config = BrowserConfig(executable_path=chromium, allowlist=("127.0.0.1",))
    warm_calls, cold_calls = (15, 3) if quick else (60, 10)
    try:
        warm_tool = BrowserTool(None, config)
        try:
            await open_once(warm_tool, "warm", f"http://127.0.0.1:{port}/warmup")
            warm = [
                await open_once(warm_tool, "warm", f"http://127.0.0.1:{port}/page?{i}")
                for i in range(warm_calls)
            ]
        finally:
            await warm_tool.aclose()
        cold: list[float] = []
        for i in range(cold_calls):
            tool = BrowserTool(None, config)
            try:
                cold.append(await open_once(tool, "cold", f"http://127.0.0.1:{port}/page?c{i}"))
            finally:
                await tool.aclose()
    finally:
        server.shutdown()
    warm_ms, cold_ms = statistics.median(warm), statistics.median(cold)
    ratio = cold_ms / warm_ms
    print(f"{'mode':<28}{'calls':>7}{'median ms':>12}{'min ms':>10}{'max ms':>10}")
    print(f"{'warm browser':<28}{len(warm):>7}{warm_ms:>12.1f}{min(warm):>10.1f}{max(warm):>10.1f}")
    print(
        f"{'launch per call':<28}{len(cold):>7}{cold_ms:>12.1f}{min(cold):>10.1f}{max(cold):>10.1f}"
    )
    print(f"ratio (launch per call / warm): {ratio:.1f}x  (goal: >= 10x)")
    print(
        json.dumps(
            {
                "bench": "browser_latency",
                "ratio": round(ratio, 1),
                "warm_ms": round(warm_ms, 1),
                "baseline_ms": round(cold_ms, 1),
            }
        )
    )
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run (under a minute)")
    sys.exit(asyncio.run(main(parser.parse_args().quick)))

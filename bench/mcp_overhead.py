"""Overhead of our MCP client: a trivial tool call through ``MCPServer.call`` vs the SDK.

Three ways to run the same function ``add(a, b)``, side by side in one run, calls
interleaved (each going first in turn) so that drift hits all three alike:

- ``mcp``: ``MCPServer.call`` (parse and check the arguments against the tool's schema,
  the SDK's ``call_tool`` with a deadline, the result as a tool message), started with
  ``await start()`` so that it lives on this event loop;
- ``sdk``: the SDK's own ``Client.call_tool`` on another instance of the same server, from
  this event loop (the floor our layer sits on);
- ``local``: the same function as a local ``function_tool`` (no MCP at all).

The figure is ``overhead_ratio`` = median ``mcp`` / median ``sdk`` (goal: at most 1.10).

With ``--thread`` the table also shows a server that lives on the MCP loop thread (its
``spec`` read first from synchronous code), whose calls hop between threads.

Usage: ``python bench/mcp_overhead.py [--quick] [--thread]``. The server is this file run with
``--serve`` (the SDK's ``MCPServer`` over stdio). The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable

from gptoss_agent.tools.base import ToolCall, ToolContext
from gptoss_agent.tools.function import function_tool
from gptoss_agent.tools.function_toolset import FunctionToolset
from gptoss_agent.tools.mcp import MCPServer, MCPServerConfig

ARGUMENTS = {"a": 2, "b": 3}


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def serve() -> None:
    from mcp.server.mcpserver import MCPServer as SDKServer

    server = SDKServer("bench")
    server.add_tool(add)
    server.run()


async def timed(call: Callable[[], Awaitable[str]]) -> float:
    started = time.perf_counter()
    text = await call()
    elapsed = time.perf_counter() - started
    assert text == "5", text
    return elapsed


async def measure(count: int, warmup: int, thread: bool) -> dict[str, list[float]]:
    from mcp.client.client import Client
    from mcp.client.stdio import StdioServerParameters

    command = [sys.executable, __file__, "--serve"]
    config = MCPServerConfig("bench", command=command[0], args=command[1:])
    ours = MCPServer(config)
    hopping = MCPServer(config) if thread else None
    local = FunctionToolset([function_tool(add)])
    context = ToolContext("bench")
    text = json.dumps(ARGUMENTS)
    try:
        await ours.start()
        if hopping is not None:
            await asyncio.to_thread(lambda: hopping.spec)  # read from plain code: thread home
        async with Client(StdioServerParameters(command=command[0], args=command[1:])) as sdk:
            await sdk.list_tools()

            async def via_ours() -> str:
                return (await ours.call(ToolCall("c", "bench", "add", text), context)).text

            async def via_sdk() -> str:
                result = await sdk.call_tool("add", dict(ARGUMENTS))
                return result.content[0].text  # type: ignore[union-attr]

            async def via_local() -> str:
                return (await local.call(ToolCall("c", "functions", "add", text), context)).text

            async def via_thread() -> str:
                assert hopping is not None
                return (await hopping.call(ToolCall("c", "bench", "add", text), context)).text

            paths = [("mcp", via_ours), ("sdk", via_sdk), ("local", via_local)]
            if hopping is not None:
                paths.append(("thread", via_thread))
            times: dict[str, list[float]] = {name: [] for name, _ in paths}
            for index in range(warmup + count):
                turn = index % len(paths)  # each path goes first, second, third in turn
                for name, path in paths[turn:] + paths[:turn]:
                    elapsed = await timed(path)
                    if index >= warmup:
                        times[name].append(elapsed)
    finally:
        await ours.aclose()
        if hopping is not None:
            await hopping.aclose()
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run (under a minute)")
    parser.add_argument("--thread", action="store_true",
                        help="also time a server that lives on the MCP loop thread (read "
                             "first from synchronous code), reached with a thread hop")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
        return 0
    count, warmup = (600, 60) if args.quick else (3000, 150)
    times = asyncio.run(measure(count, warmup, args.thread))
    medians = {name: statistics.median(values) * 1000 for name, values in times.items()}
    ratio = medians["mcp"] / medians["sdk"]

    print(f"a trivial tool call, add(2, 3), {count} calls each, interleaved")
    print(f"{'path':<44}{'median ms':>11}{'p90 ms':>9}")
    rows = [("mcp", "MCPServer.call (our client)"),
            ("sdk", "SDK Client.call_tool (same server)"),
            ("local", "local function_tool"),
            ("thread", "MCPServer.call via the MCP loop thread")]
    for name, label in rows:
        if name not in times:
            continue
        p90 = sorted(times[name])[max(0, int(len(times[name]) * 0.9) - 1)] * 1000
        print(f"{label:<44}{medians[name]:>11.3f}{p90:>9.3f}")
    print(f"our layer costs {ratio:.3f}x the SDK's own round trip (goal: at most 1.10x); "
          f"MCP costs {medians['mcp'] / medians['local']:.0f}x a local function tool")
    print(json.dumps({"bench": "mcp_overhead", "overhead_ratio": round(ratio, 3),
                      "mcp_ms": round(medians["mcp"], 3), "sdk_ms": round(medians["sdk"], 3),
                      "local_ms": round(medians["local"], 3)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

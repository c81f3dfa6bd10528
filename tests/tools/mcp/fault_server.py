"""An MCP server built with the SDK for the client's fault tests, run as a child process.

Usage: ``python fault_server.py [--http] [--refuse-start-if FILE] [--linger]``.

Over stdio by default; with ``--http`` it serves Streamable HTTP on a free port of
127.0.0.1 and prints that port on its first stdout line once the socket listens (the
test reads it: no polling). ``--refuse-start-if FILE`` makes it exit at once, with a
message on stderr, when FILE exists (a server whose restart fails). ``--linger`` keeps
it running a minute after its stdin closes, so only a signal stops it in time (a server
that ignores the end of input).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import socket
import sys
import time
from pathlib import Path
from typing import Literal

import mcp_types as types
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("faults", instructions="A server that fails on request.")
CALLS = {"checked": 0}
MARKER: Path | None = None


@server.tool()
def echo(text: str) -> str:
    """Answer with ``text``."""
    return text


@server.tool()
def pid() -> int:
    """This server's process id."""
    return os.getpid()


@server.tool()
def checked(count: int, mode: Literal["fast", "slow"]) -> str:
    """Count calls that reached the server (the schema refuses bad ones first)."""
    CALLS["checked"] += 1
    return f"{mode} x{count}"


@server.tool()
def checked_calls() -> int:
    """How many calls of ``checked`` reached the server."""
    return CALLS["checked"]


@server.tool()
def crash(for_good: bool = False) -> str:
    """Exit mid-call; ``for_good`` also makes the next start fail."""
    if for_good and MARKER is not None:
        MARKER.write_text("refuse")
    print("fault server: crashing on purpose", file=sys.stderr, flush=True)
    os._exit(3)


@server.tool()
async def hang() -> str:
    """Block the whole server (its event loop too) far past any deadline."""
    time.sleep(3600)  # noqa: ASYNC251 (blocking the server's loop is the point)
    return "never"


@server.tool()
async def slow(seconds: float) -> str:
    """Wait ``seconds`` without blocking the server."""
    await asyncio.sleep(seconds)
    return "done"


@server.tool()
def fail() -> str:
    """A tool error the model should read (``isError``)."""
    raise ToolError("the disk is full")


@server.tool()
def huge(size: int) -> str:
    """``size`` characters of text."""
    return "x" * size


@server.tool()
def media() -> list[types.ContentBlock]:
    """A text, an image, a resource link and an embedded binary resource."""
    png = base64.b64encode(b"\x89PNG" + bytes(2044)).decode()
    return [
        types.TextContent(text="here are files"),
        types.ImageContent(data=png, mime_type="image/png"),
        types.ResourceLink(name="report", uri="file:///tmp/report.pdf",
                           mime_type="application/pdf", size=4096),
        types.EmbeddedResource(resource=types.BlobResourceContents(
            uri="file:///tmp/blob.bin", mime_type="application/octet-stream",
            blob=base64.b64encode(bytes(3000)).decode())),
    ]


@server.tool()
async def add_tool(name: str, ctx: Context) -> str:
    """Add a tool ``name`` that doubles a number, and say that the tool list changed."""

    def double(x: int) -> int:
        return 2 * x

    server.add_tool(double, name=name, description="Double x.")
    await ctx.notify_tools_changed()
    return f"added {name}"


@server.tool()
def whoami(ctx: Context) -> str:
    """The ``X-Token`` header of the HTTP request (``none`` over stdio)."""
    request = ctx.request_context.request
    headers = getattr(request, "headers", None)
    return headers.get("x-token", "none") if headers is not None else "none"


async def serve_http() -> None:
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    print(sock.getsockname()[1], flush=True)
    config = uvicorn.Config(server.streamable_http_app(), log_level="warning")
    await uvicorn.Server(config).serve(sockets=[sock])


def main() -> None:
    global MARKER
    parser = argparse.ArgumentParser()
    parser.add_argument("--http", action="store_true")
    parser.add_argument("--refuse-start-if", type=Path)
    parser.add_argument("--linger", action="store_true",
                        help="stay a minute after stdin closes (only a signal stops it)")
    args = parser.parse_args()
    MARKER = args.refuse_start_if
    if MARKER is not None and MARKER.exists():
        print(f"fault server: refusing to start ({MARKER} exists)", file=sys.stderr, flush=True)
        sys.exit(2)
    if args.http:
        asyncio.run(serve_http())
    else:
        server.run()
    if args.linger:
        time.sleep(60)


if __name__ == "__main__":
    main()

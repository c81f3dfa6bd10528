"""The filtering egress proxy every browser context sends its traffic through.

Playwright's route interception sees the first request of a navigation but not the hops
of a redirect, and a check made before Chromium resolves a name again leaves room for
DNS rebinding. So the safety policy is enforced one layer lower: each browser context is
configured with this small HTTP proxy (on 127.0.0.1, one per session). For every
connection Chromium asks for (``CONNECT host:port`` for https and WebSockets, an
absolute-form request for plain http) the proxy resolves the host itself, asks
:class:`~.policy.UrlPolicy`, and either refuses with a 403 *before any connection is
made* or connects to exactly the address it checked. Redirect hops, subresources,
fetch/XHR and WebSockets all pass through here. Responses are capped in size.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from gptoss_agent.tools.browser.policy import IPAddress, Verdict

BLOCK_HEADER = "X-Gptoss-Blocked"
_HEAD_LIMIT = 64 * 1024
_HOP_HEADERS = frozenset(
    {"connection", "keep-alive", "proxy-connection", "proxy-authorization", "proxy-authenticate"}
)


@dataclass(frozen=True)
class BlockedRequest:
    """One connection the proxy refused or cut off.

    Attributes:
        url: The URL (or ``https://host:port`` for a tunnel) that was refused.
        host: The host name as Chromium asked for it.
        reason: Model-readable reason.
        at: ``time.monotonic()`` when it happened.
        kind: ``policy`` (refused for safety), ``unresolved`` (the name does not
            resolve) or ``size`` (the response was cut off at the size cap).
    """

    url: str
    host: str
    reason: str
    at: float
    kind: str = "policy"


class EgressPolicy(Protocol):
    """What the proxy asks before connecting (:class:`~.policy.UrlPolicy`, or a sink's)."""

    async def check_host(self, host: str, port: int) -> Verdict:
        """Whether ``host:port`` may be reached, and at which checked addresses."""
        ...

    async def check_url(self, url: str) -> Verdict:
        """Whether an ``http`` URL may be fetched, and at which checked addresses."""
        ...


@dataclass(frozen=True)
class RefuseAll:
    """A policy that refuses every connection: the sink for Chromium's own requests.

    Attributes:
        reason: What the refusal records say.
    """

    reason: str = "the browser's own background requests are not allowed"

    async def check_host(self, host: str, port: int) -> Verdict:
        """Refuse."""
        return Verdict(False, self.reason)

    async def check_url(self, url: str) -> Verdict:
        """Refuse."""
        return Verdict(False, self.reason)


@dataclass(frozen=True)
class ProxyStats:
    """Counters of one proxy, for metadata and tests."""

    requests: int
    connected: int
    blocked: int


class EgressProxy:
    """An HTTP/1.1 forward proxy that admits only connections the policy allows."""

    def __init__(
        self,
        policy: EgressPolicy,
        *,
        max_response_bytes: int = 16 * 1024 * 1024,
        connect_timeout_s: float = 10.0,
        on_block: Callable[[BlockedRequest], None] | None = None,
    ) -> None:
        """Create a proxy; call :meth:`start` before use.

        Args:
            policy: Decides which hosts may be reached.
            max_response_bytes: Bytes a single upstream connection may return.
            connect_timeout_s: Limit on opening an upstream connection.
            on_block: Called for every refused or cut-off connection.
        """
        self._policy = policy
        self._max_bytes = max_response_bytes
        self._connect_timeout = connect_timeout_s
        self._on_block = on_block
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.blocked: list[BlockedRequest] = []
        self.requested: deque[str] = deque(maxlen=1000)
        """The latest targets asked for (``https://host:port`` or the URL), allowed or not."""
        self._requests = 0
        self._connected = 0

    @property
    def port(self) -> int:
        """The port the proxy listens on (127.0.0.1)."""
        if self._server is None:
            raise RuntimeError("proxy not started")
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        """The proxy's address in the form Chromium's ``--proxy-server`` takes."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def stats(self) -> ProxyStats:
        """Counts of requests seen, upstream connections made and blocks."""
        return ProxyStats(self._requests, self._connected, len(self.blocked))

    async def start(self) -> None:
        """Listen on an ephemeral port of 127.0.0.1."""
        if self._server is None:
            self._server = await asyncio.start_server(
                self._on_client, "127.0.0.1", 0, limit=_HEAD_LIMIT
            )

    async def aclose(self) -> None:
        """Stop listening and cut every open connection. Idempotent."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if server is not None:
            with contextlib.suppress(Exception):
                await server.wait_closed()

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await self._serve(reader, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            if task is not None:
                self._tasks.discard(task)
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self._connect_timeout)
        request_line, *header_lines = head[:-4].decode("latin-1").split("\r\n")
        method, target, version = request_line.split(" ", 2)
        self._requests += 1
        if method.upper() == "CONNECT":
            host, port = _split_host_port(target, 443)
            shown = f"https://{host}" + ("" if port == 443 else f":{port}")
            self.requested.append(shown)
            verdict = await self._policy.check_host(host, port)
            if not verdict.allowed:
                await self._refuse(writer, shown, host, verdict)
                return
            upstream = await self._connect(writer, verdict, port)
            if upstream is None:
                return
            up_reader, up_writer = upstream
            writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            await writer.drain()
            await self._relay(reader, writer, up_reader, up_writer, shown)
            return
        parts = urlsplit(target)
        self.requested.append(target)
        if parts.scheme.lower() != "http" or not parts.hostname:
            await self._refuse(
                writer, target, parts.hostname or "", Verdict(False, "only http URLs are proxied")
            )
            return
        verdict = await self._policy.check_url(target)
        if not verdict.allowed:
            await self._refuse(writer, target, parts.hostname, verdict)
            return
        upstream = await self._connect(writer, verdict, parts.port or 80)
        if upstream is None:
            return
        up_reader, up_writer = upstream
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        headers = [
            h for h in header_lines if h.split(":", 1)[0].strip().lower() not in _HOP_HEADERS
        ]
        outgoing = "\r\n".join([f"{method} {path} {version}", *headers, "Connection: close"])
        up_writer.write(outgoing.encode("latin-1") + b"\r\n\r\n")
        await up_writer.drain()
        await self._relay(reader, writer, up_reader, up_writer, target, rewrite_head=True)

    async def _connect(
        self, writer: asyncio.StreamWriter, verdict: Verdict, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        """Open a connection to one of the addresses the policy checked (never re-resolve)."""
        last: Exception | None = None
        for address in verdict.addresses:
            try:
                upstream = await asyncio.wait_for(
                    asyncio.open_connection(_host_for(address), port), self._connect_timeout
                )
            except (TimeoutError, OSError) as exc:
                last = exc
                continue
            self._connected += 1
            return upstream
        body = f"could not connect: {last or 'no address'}".encode()
        writer.write(
            b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nConnection: close\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        with contextlib.suppress(OSError):
            await writer.drain()
        return None

    async def _refuse(
        self, writer: asyncio.StreamWriter, url: str, host: str, verdict: Verdict
    ) -> None:
        """Answer without connecting anywhere, and record why."""
        kind = "unresolved" if verdict.unresolved else "policy"
        self._record(BlockedRequest(url, host, verdict.reason, time.monotonic(), kind))
        if verdict.unresolved:
            status, body = "502 Bad Gateway", f"{verdict.reason}\n"
        else:
            status = "403 Forbidden"
            body = f"Blocked by the browser's safety policy: {verdict.reason}\n"
        data = body.encode()
        writer.write(
            f"HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"{BLOCK_HEADER}: {kind}\r\nConnection: close\r\n"
            f"Content-Length: {len(data)}\r\n\r\n".encode()
            + data
        )
        with contextlib.suppress(OSError):
            await writer.drain()

    def _record(self, record: BlockedRequest) -> None:
        self.blocked.append(record)
        if self._on_block is not None:
            self._on_block(record)

    async def _relay(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        up_reader: asyncio.StreamReader,
        up_writer: asyncio.StreamWriter,
        url: str,
        *,
        rewrite_head: bool = False,
    ) -> None:
        """Copy bytes both ways until the upstream side is done; cap what comes back."""

        async def upstream_to_client() -> None:
            total = 0
            if rewrite_head:
                head = await up_reader.readuntil(b"\r\n\r\n")
                lines = head[:-4].decode("latin-1").split("\r\n")
                kept = [lines[0]] + [
                    h for h in lines[1:] if h.split(":", 1)[0].strip().lower() not in _HOP_HEADERS
                ]
                kept += ["Connection: close", "Proxy-Connection: close"]
                writer.write("\r\n".join(kept).encode("latin-1") + b"\r\n\r\n")
            while True:
                chunk = await up_reader.read(65536)
                if not chunk:
                    break
                total += len(chunk)
                if total > self._max_bytes:
                    self._record(
                        BlockedRequest(
                            url=url,
                            host=urlsplit(url).hostname or "",
                            reason=f"the response exceeded {self._max_bytes} bytes and was cut off",
                            at=time.monotonic(),
                            kind="size",
                        )
                    )
                    break
                writer.write(chunk)
                await writer.drain()

        async def client_to_upstream() -> None:
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                up_writer.write(chunk)
                await up_writer.drain()

        down = asyncio.ensure_future(upstream_to_client())
        up = asyncio.ensure_future(client_to_upstream())
        try:
            # Either side closing ends the exchange: Chromium never half-closes, so EOF
            # from it means it gave up (navigated away, timed out).
            await asyncio.wait({down, up}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            up.cancel()
            down.cancel()
            await asyncio.gather(up, down, return_exceptions=True)
            up_writer.close()


def _split_host_port(target: str, default_port: int) -> tuple[str, int]:
    """Split ``host:port`` (IPv6 hosts in brackets)."""
    if target.startswith("["):
        host, _, rest = target[1:].partition("]")
        port = rest.lstrip(":")
        return host, int(port) if port else default_port
    host, sep, port = target.rpartition(":")
    if not sep:
        return target, default_port
    return host, int(port)


def _host_for(address: IPAddress) -> str:
    return str(address)

"""The host side of the kernel's wire format, and Docker's attach-stream multiplexing.

Kernel frames are a 4-byte big-endian length followed by UTF-8 JSON (the kernel's side
lives in :mod:`gptoss_agent.sandbox.kernel`). A container attached without a TTY sends
its stdout and stderr interleaved, each piece behind an 8-byte header
(stream, 0, 0, 0, big-endian size); :class:`AttachDemuxer` splits them without I/O, and
:class:`AttachProtocol` feeds it from an asyncio connection on the attach socket.
"""

from __future__ import annotations

import asyncio
import json
import struct
from collections.abc import Mapping
from typing import Any

from gptoss_agent.sandbox.errors import KernelError

FRAME_HEADER = struct.Struct(">I")
MAX_FRAME_BYTES = 64 * 1024 * 1024
"""Largest frame either side accepts; a bigger length means the stream is corrupt."""

_MUX_HEADER = struct.Struct(">BxxxI")
STDOUT = 1
STDERR = 2


def encode_frame(message: Mapping[str, Any]) -> bytes:
    """One message as a frame ready to send.

    Raises:
        KernelError: When the message is larger than :data:`MAX_FRAME_BYTES`.
    """
    payload = json.dumps(message, ensure_ascii=False).encode("utf-8", "surrogatepass")
    if len(payload) > MAX_FRAME_BYTES:
        raise KernelError(f"message of {len(payload)} bytes exceeds the frame limit")
    return FRAME_HEADER.pack(len(payload)) + payload


def decode_payload(payload: bytes) -> dict[str, Any]:
    """Parse a frame's payload.

    Raises:
        KernelError: When the payload is not a UTF-8 JSON object.
    """
    try:
        message = json.loads(payload.decode("utf-8"))
    except ValueError as exc:
        raise KernelError(f"kernel sent a malformed frame: {exc}") from exc
    if not isinstance(message, dict):
        raise KernelError("kernel sent a frame that is not a JSON object")
    return message


async def read_frame(reader: asyncio.StreamReader) -> dict[str, Any] | None:
    """Read the next message; ``None`` when the stream ended (the kernel is gone).

    Raises:
        KernelError: When the stream carries something that is not a valid frame.
    """
    try:
        header = await reader.readexactly(FRAME_HEADER.size)
        (size,) = FRAME_HEADER.unpack(header)
        if size > MAX_FRAME_BYTES:
            raise KernelError(f"kernel announced a frame of {size} bytes; stream is corrupt")
        payload = await reader.readexactly(size)
    except asyncio.IncompleteReadError:
        return None
    return decode_payload(payload)


class AttachDemuxer:
    """Splits Docker's multiplexed attach stream; feeds stdout into a ``StreamReader``.

    Bytes the container writes to stderr (the kernel's own crash messages, never the
    user's output) are kept, last ``stderr_keep`` bytes only, for error reports.
    """

    def __init__(self, stdout: asyncio.StreamReader, stderr_keep: int = 8192) -> None:
        self._stdout = stdout
        self._buffer = bytearray()
        self._stderr = bytearray()
        self._stderr_keep = stderr_keep

    @property
    def stderr_tail(self) -> str:
        """The last bytes the container wrote to its stderr, decoded."""
        return self._stderr.decode("utf-8", "replace")

    def feed(self, data: bytes) -> None:
        """Consume raw bytes from the attach socket."""
        self._buffer += data
        while len(self._buffer) >= _MUX_HEADER.size:
            stream, size = _MUX_HEADER.unpack_from(self._buffer)
            end = _MUX_HEADER.size + size
            if len(self._buffer) < end:
                return
            chunk = bytes(self._buffer[_MUX_HEADER.size : end])
            del self._buffer[:end]
            if stream == STDOUT:
                self._stdout.feed_data(chunk)
            elif stream == STDERR:
                self._stderr += chunk
                del self._stderr[: max(0, len(self._stderr) - self._stderr_keep)]

    def feed_eof(self) -> None:
        """The socket closed: end the stdout stream."""
        self._stdout.feed_eof()


class AttachProtocol(asyncio.Protocol):
    """Feeds the bytes of an attach socket into an :class:`AttachDemuxer`."""

    def __init__(self, demux: AttachDemuxer) -> None:
        self._demux = demux

    def data_received(self, data: bytes) -> None:
        """Hand raw socket bytes to the demuxer."""
        self._demux.feed(data)

    def eof_received(self) -> bool:
        """End the stdout stream; ``False`` lets the transport close itself."""
        self._demux.feed_eof()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        """End the stdout stream (the kernel reads as gone)."""
        self._demux.feed_eof()


async def connect_attach(
    sock: Any,
) -> tuple[asyncio.Transport, asyncio.StreamReader, AttachDemuxer]:
    """Serve an attach socket on the running loop.

    Returns its transport, the kernel's stdout as a stream reader, and the demuxer
    (which also keeps the tail of stderr).
    """
    reader = asyncio.StreamReader(limit=1 << 20)
    demux = AttachDemuxer(reader)
    transport, _ = await asyncio.get_running_loop().create_connection(
        lambda: AttachProtocol(demux), sock=sock)
    return transport, reader, demux

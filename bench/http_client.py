"""The benchmarks' HTTP client: one keep-alive HTTP/1.1 connection per simulated sender, each
request written as prepared bytes and its answer read up to its status and length.

A general client (aiohttp) cost the driver 100 to 180 µs a request, as much as the servers it
measured. With 16 senders on one core, a server that answers in bursts (LearnLoop acknowledges a
batch of TILs at the commit that stored them) then waited on the driver working through the
burst, and the benchmark measured the driver's pace as much as the server's. This one costs the
driver about half of that.
"""

from __future__ import annotations

import asyncio
from typing import cast
from urllib.parse import urlsplit

_HEAD_END = b"\r\n\r\n"
_CONTENT_LENGTH = b"\r\ncontent-length:"


class LoopbackSender(asyncio.Protocol):
    """One connection that sends a request at a time; answers must say their Content-Length
    (every answer of uvicorn and Starlette here does)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self._request_line = f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        self._transport: asyncio.Transport | None = None
        self._received = bytearray()
        self._answer: asyncio.Future[int] | None = None
        self._closed: Exception | None = None

    @classmethod
    async def connect(cls, url: str) -> LoopbackSender:
        """A connection that POSTs to `url`."""
        parts = urlsplit(url)
        loop = asyncio.get_running_loop()
        _, sender = await loop.create_connection(lambda: cls(url), parts.hostname, parts.port)
        return sender

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self._received += data
        head_end = self._received.find(_HEAD_END)
        if head_end < 0:
            return
        head = bytes(self._received[:head_end]).lower()
        length, status = _content_length(head), head[9:12]  # b"http/1.1 200 ..."
        if length is None or not status.isdigit():
            self._fail(ValueError("not an HTTP/1.1 answer with a Content-Length"))
            return
        if len(self._received) < head_end + len(_HEAD_END) + length:
            return
        del self._received[: head_end + len(_HEAD_END) + length]
        if self._answer is not None and not self._answer.done():
            self._answer.set_result(int(status))

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(exc or ConnectionError("the server closed the connection"))

    def _fail(self, error: Exception) -> None:
        self._closed = error
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(error)
        if self._transport is not None:
            self._transport.close()

    async def post(self, body: bytes, headers: dict[str, str]) -> int:
        """POST `body` with `headers` (Host and Content-Length added) to the connection's URL;
        the answer's status."""
        if self._closed is not None or self._transport is None:
            raise ConnectionError("this connection is closed") from self._closed
        fields = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        head = f"{self._request_line}{fields}Content-Length: {len(body)}\r\n\r\n"
        self._answer = asyncio.get_running_loop().create_future()
        self._transport.write(head.encode() + body)
        return await self._answer

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


def _content_length(head: bytes) -> int | None:
    start = head.find(_CONTENT_LENGTH)
    if start < 0:
        return None
    start += len(_CONTENT_LENGTH)
    end = head.find(b"\r\n", start)
    value = head[start:] if end < 0 else head[start:end]
    return int(value.strip()) if value.strip().isdigit() else None

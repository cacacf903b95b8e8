"""A small, bounded HTTP/1.1 load generator: a fixed number of keep-alive connections over
loopback, each sending one request after the other (closed loop), for a fixed time.

Written on asyncio streams rather than a full HTTP client so that the client spends as little of
a 2-core machine's CPU as possible; every endpoint, the ``/healthz`` baseline included, is driven
by this same client, so the ratios between endpoints compare like with like.

A *job* is an async function of a ``Connection`` (and the connection's number) that sends one or
more requests and returns the last status. Its wall time is one latency sample.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import urlencode

Job = Callable[["Connection", int], Awaitable[int]]


class HTTPError(RuntimeError):
    pass


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    cookies: dict[str, str] = field(default_factory=dict)

    def json(self):
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class Connection:
    """One keep-alive HTTP/1.1 connection; reconnects once when the server closed it."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except (ConnectionError, OSError):
                pass
            self.writer = self.reader = None

    async def request(self, method: str, path: str, *, params: dict | None = None, headers: dict | None = None,
                      form: dict | None = None, json_body=None) -> Response:
        if params:
            path = f"{path}?{urlencode(params, doseq=True)}"
        body = b""
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        if form is not None:
            body = urlencode(form, doseq=True).encode()
            lines.append("Content-Type: application/x-www-form-urlencoded")
        elif json_body is not None:
            body = json.dumps(json_body).encode()
            lines.append("Content-Type: application/json")
        if body or method not in ("GET", "HEAD"):
            lines.append(f"Content-Length: {len(body)}")
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        for attempt in (1, 2):
            if self.writer is None:
                await self._open()
            try:
                self.writer.write(raw)
                return await self._read()
            except (ConnectionError, asyncio.IncompleteReadError):
                await self.close()  # a keep-alive connection the server closed meanwhile
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _read(self) -> Response:
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        headers: dict[str, str] = {}
        cookies: dict[str, str] = {}
        for line in header_lines:
            if not line:
                continue
            name, _, value = line.partition(":")
            name, value = name.strip().lower(), value.strip()
            if name == "set-cookie":
                key, _, rest = value.partition("=")
                cookies[key] = rest.split(";", 1)[0]
            headers[name] = value
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                data = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                chunks.append(data[:-2])
            body = b"".join(chunks)
        else:
            body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return Response(status, headers, body, cookies)


@dataclass
class Samples:
    """Latencies (seconds) and statuses of the measured jobs of one phase."""

    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    seconds: float = 0.0

    def summary(self) -> dict:
        ordered = sorted(self.latencies)

        def pct(p: float) -> float:
            return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] * 1000 if ordered else float("nan")

        return {"requests": len(ordered), "seconds": round(self.seconds, 3),
                "rps": len(ordered) / self.seconds if self.seconds else 0.0,
                "p50_ms": pct(50), "p95_ms": pct(95), "p99_ms": pct(99),
                "mean_ms": sum(ordered) / len(ordered) * 1000 if ordered else float("nan"),
                "statuses": {str(k): v for k, v in sorted(self.statuses.items())}, "errors": self.errors}


async def drive(host: str, port: int, jobs: Iterator[Job], *, connections: int = 8, duration: float,
                warmup: float = 0.0, ok: Callable[[int], bool] = lambda s: 200 <= s < 400,
                min_requests: int | None = None) -> Samples:
    """Run ``jobs`` on ``connections`` connections until ``duration`` seconds have passed after the
    ``warmup`` (whose jobs are not counted) or the jobs run out. A job whose status ``ok`` refuses
    counts as an error, and so does an exception.

    At least ``min_requests`` (default: one per connection) are measured, however long they take (up
    to ten times ``duration``): on a busy machine a short window could otherwise pass while every
    connection still waits for a warm-up request, and measure nothing."""
    samples = Samples()
    started = time.perf_counter()
    measure_from = started + warmup
    stop_at = measure_from + duration
    hard_stop = measure_from + 10 * duration
    wanted = connections if min_requests is None else min_requests
    measured = 0

    def more() -> bool:
        now = time.perf_counter()
        return now < stop_at or (measured < wanted and now < hard_stop)

    async def worker(number: int) -> None:
        nonlocal measured
        conn = Connection(host, port)
        try:
            while more():
                try:
                    job = next(jobs)
                except StopIteration:
                    return
                t0 = time.perf_counter()
                if t0 >= measure_from:
                    measured += 1
                try:
                    status = await job(conn, number)
                except (OSError, asyncio.IncompleteReadError, HTTPError, ValueError, KeyError):
                    if t0 >= measure_from:
                        samples.errors += 1
                    await conn.close()
                    continue
                t1 = time.perf_counter()
                if t0 >= measure_from:
                    samples.statuses[status] = samples.statuses.get(status, 0) + 1
                    if ok(status):
                        samples.latencies.append(t1 - t0)
                    else:
                        samples.errors += 1
        finally:
            await conn.close()

    await asyncio.gather(*(worker(n) for n in range(connections)))
    samples.seconds = time.perf_counter() - max(measure_from, started)
    return samples


def forever(job: Job) -> Iterator[Job]:
    while True:
        yield job

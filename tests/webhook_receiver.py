"""A webhook receiver for tests: a real HTTP server on 127.0.0.1 that verifies signatures the way
docs/admins.md tells integrators to (``verify`` is that example), drops repeats by delivery id
and remembers everything it was sent.

It starts *down*: its port is reserved (bound) but nothing listens, so connections are refused
until ``up()``. ``hold`` makes it hang before answering (until the event is set), ``status`` is
the HTTP status it answers with.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


# --- the verification example of docs/admins.md ("Checking the signature"), verbatim ------------

def verify(secret: str, signature_header: str, body: bytes, tolerance: int = 300) -> bool:
    """True when ``body`` was signed by kb with ``secret`` less than ``tolerance`` seconds ago."""
    parts = dict(item.split("=", 1) for item in signature_header.split(",") if "=" in item)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance:
        return False  # too old (or from the future): a replayed request
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts.get("v1", ""))


# --------------------------------------------------------------------------------------------------


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    valid: bool
    at: float

    @property
    def payload(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    secret: str = ""
    status: int = 204
    location: str = ""  # answered with ``status`` 3xx
    delay: float = 0.0  # seconds before answering (to make senders overlap)
    hold: threading.Event | None = None
    requests: list[Received] = field(default_factory=list)
    processed: dict[str, dict] = field(default_factory=dict)  # delivery id -> payload, first time only
    repeats: list[str] = field(default_factory=list)  # delivery ids that came again
    invalid: list[Received] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self):
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver._take(dict(self.headers.items()), body)
                if receiver.hold is not None:
                    receiver.hold.wait(30)
                if receiver.delay:
                    time.sleep(receiver.delay)
                self.send_response(receiver.status)
                if receiver.location:
                    self.send_header("Location", receiver.location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler, bind_and_activate=False)
        self.server.daemon_threads = True
        self.server.server_bind()  # the port is ours, but refuses connections until up()
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks/kb"
        self._thread: threading.Thread | None = None

    def _take(self, headers: dict[str, str], body: bytes) -> None:
        valid = bool(self.secret) and verify(self.secret, headers.get("X-KB-Signature", ""), body)
        item = Received(headers, body, valid, time.monotonic())
        with self._lock:
            self.requests.append(item)
            if not valid:
                self.invalid.append(item)
            else:
                delivery = json.loads(body)["delivery_id"]
                assert delivery == headers["X-KB-Delivery"]
                if delivery in self.processed:
                    self.repeats.append(delivery)
                else:
                    self.processed[delivery] = json.loads(body)
        self.arrived.set()

    def up(self) -> Receiver:
        self.server.server_activate()
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"webhook-receiver-{self.port}", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        if self.hold is not None:
            self.hold.set()
        if self._thread is not None:
            self.server.shutdown()
            self._thread.join(10)
        self.server.server_close()

    def events(self) -> list[str]:
        return sorted(p["event"] for p in self.processed.values())

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

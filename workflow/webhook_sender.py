"""Sending webhook deliveries: after the commit, signed, retried with backoff, never twice at once.

``deliver()`` claims due deliveries in a short transaction (a lease: ``lease_until`` and a token
of its own; on PostgreSQL the candidates are read ``FOR UPDATE SKIP LOCKED``, on SQLite the
writing transaction is exclusive), sends them with no transaction open, and records each result
with a conditional update on its lease token. So several senders (every ``kb serve`` worker, the
periodic job, ``kb webhooks send``) may run at once without sending one delivery twice; a sender
that dies mid-send leaves its claims to expire and another sends them again (at least once: the
``delivery_id`` lets a receiver drop the repeat).

A delivery that fails is tried again after ``backoff(attempts)``; after ``attempt_limit`` attempts
it shows as failed in the delivery log, where an administrator can retry it. When a receiver does
not answer at all (refused, timed out, unknown host), its other deliveries of the same round wait
for the same retry, so a receiver that is down costs one attempt per round, not one per delivery.

Each request: a 5-second timeout, no redirects, the host resolved and checked again at send time
(``workflow.webhooks.resolve``: no private addresses in production) and the connection made to that
checked address, so a name re-pointed between the check and the request cannot redirect it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import httpx
from sqlalchemy import delete, or_, update
from sqlalchemy.engine import Engine
from sqlmodel import select

from kb.clock import utcnow
from kb.db import unit_of_work
from kb.errors import ValidationFailed
from kb.settings import Settings
from workflow.models import Webhook, WebhookDelivery
from workflow.webhooks import resolve

log = logging.getLogger("kb.webhooks")

TIMEOUT_SECONDS = 5.0
FIRST_RETRY_SECONDS = 30
MAX_BACKOFF_SECONDS = 3600
BATCH_SIZE = 10
# Long enough to send a whole batch at its timeouts; a sender stops sending its claims before then.
LEASE = timedelta(seconds=BATCH_SIZE * (TIMEOUT_SECONDS + 2) + 60)
LEASE_MARGIN = timedelta(seconds=TIMEOUT_SECONDS * 3)
DELIVERED_KEPT = timedelta(days=30)  # the log keeps delivered deliveries this long
MAX_ERROR_CHARS = 500
USER_AGENT = "kb-webhooks/1"


def backoff(attempts: int) -> timedelta:
    """Delay before the next attempt after ``attempts`` failures: 30 s, 1, 2, 4 ... minutes, at most an hour."""
    return timedelta(seconds=min(FIRST_RETRY_SECONDS * 2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS))


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-KB-Signature`` header: ``t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def _absolute(value, base_url: str):
    """The payload with its ``url`` paths made absolute with ``KB_BASE_URL``."""
    if isinstance(value, dict):
        return {k: (base_url + v if k == "url" and isinstance(v, str) and v.startswith("/") else _absolute(v, base_url))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_absolute(v, base_url) for v in value]
    return value


def body_of(delivery: WebhookDelivery, base_url: str) -> bytes:
    payload = {"delivery_id": delivery.delivery_id, **_absolute(delivery.payload, base_url.rstrip("/"))}
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass
class Claim:
    id: int
    delivery: WebhookDelivery
    url: str
    secret: str


@dataclass
class Outcome:
    status: int | None = None  # the receiver's HTTP status; None when it did not answer
    error: str | None = None  # None: delivered

    @property
    def unreachable(self) -> bool:
        return self.status is None and self.error is not None


@dataclass
class DeliveryReport:
    delivered: int = 0
    failed: int = 0  # attempts that failed (retried later, or given up)
    gave_up: int = 0  # deliveries now shown as failed
    postponed: int = 0  # waited for their receiver's retry without an attempt
    more: bool = False  # stopped after ``max_batches`` full batches: more may be due at once
    errors: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.delivered or self.failed or self.postponed)


def post(url: str, *, body: bytes, headers: dict[str, str], settings: Settings) -> Outcome:
    """One attempt: POST ``body`` to ``url`` through an address checked now."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = resolve(host, port, settings)
    except ValidationFailed as exc:
        return Outcome(error=exc.message)
    host_header = parts.netloc.rsplit("@", 1)[-1]
    error = "no address"
    with httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=False, trust_env=False) as client:
        for address in addresses:
            literal = f"[{address}]" if ":" in address else address
            pinned = urlunsplit((parts.scheme, f"{literal}:{port}", parts.path or "/", parts.query, ""))
            request = client.build_request("POST", pinned, content=body,
                                           headers={**headers, "Host": host_header},
                                           extensions={"sni_hostname": host})
            try:
                response = client.send(request, stream=True)
            except httpx.ConnectError as exc:  # refused or unreachable: try the name's next address
                error = f"cannot connect to {host} ({exc or type(exc).__name__})"
                continue
            except httpx.TimeoutException:
                return Outcome(error=f"{host} did not answer within {TIMEOUT_SECONDS:g} seconds")
            except httpx.HTTPError as exc:
                return Outcome(error=f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS])
            try:
                if 200 <= response.status_code < 300:
                    return Outcome(status=response.status_code)
                return Outcome(status=response.status_code, error=_refusal(response))
            finally:
                response.close()
    return Outcome(error=error[:MAX_ERROR_CHARS])


def _refusal(response: httpx.Response) -> str:
    if response.is_redirect:
        return (f"The receiver answered {response.status_code} (a redirect to {response.headers.get('location', '?')}); "
                "webhooks do not follow redirects: register the final address.")[:MAX_ERROR_CHARS]
    text = ""
    try:  # a little of what it said, never a whole (possibly huge) body
        for chunk in response.iter_bytes():
            text += chunk.decode("utf-8", "replace")
            if len(text) >= 200:
                break
    except httpx.HTTPError:
        pass
    said = f": {' '.join(text.split())[:200]}" if text.strip() else ""
    return f"The receiver answered {response.status_code}{said}"[:MAX_ERROR_CHARS]


def _due(now: datetime):
    D = WebhookDelivery
    active = select(Webhook.id).where(Webhook.active)
    return (select(D.id).where(D.delivered_at.is_(None), D.failed_at.is_(None), D.next_attempt_at <= now,
                               or_(D.lease_until.is_(None), D.lease_until < now), D.webhook_id.in_(active))
            .order_by(D.id))


def claim(engine: Engine, *, now: datetime, limit: int = BATCH_SIZE) -> list[Claim]:
    """Lease up to ``limit`` due deliveries to this sender (committed before anything is sent)."""
    D = WebhookDelivery
    token = uuid.uuid4().hex
    with unit_of_work(engine) as session:
        candidates = _due(now).limit(limit)
        if session.get_bind().dialect.name == "postgresql":
            candidates = candidates.with_for_update(skip_locked=True)
        ids = list(session.exec(candidates))
        if not ids:
            return []
        # Conditional: a row another sender leased since it was read is not taken.
        session.exec(update(D).where(D.id.in_(ids), or_(D.lease_until.is_(None), D.lease_until < now))
                     .values(lease_until=now + LEASE, lease_token=token))
        rows = session.exec(select(D, Webhook.url, Webhook.secret).join(Webhook, Webhook.id == D.webhook_id)
                            .where(D.lease_token == token).order_by(D.id)).all()
        return [Claim(row.id, row, url, secret) for row, url, secret in rows]


def _record(engine: Engine, item: Claim, outcome: Outcome, now: datetime, report: DeliveryReport) -> None:
    D = WebhookDelivery
    row = item.delivery
    attempts = row.attempts + 1
    values = {"attempts": attempts, "last_attempt_at": now, "last_status": outcome.status,
              "last_error": outcome.error, "lease_until": None, "lease_token": None}
    if outcome.error is None:
        values["delivered_at"] = now
        report.delivered += 1
    else:
        report.failed += 1
        report.errors.append(outcome.error)
        if attempts >= row.attempt_limit:
            values["failed_at"] = now
            report.gave_up += 1
        else:
            values["next_attempt_at"] = now + backoff(attempts)
    with unit_of_work(engine) as session:
        session.exec(update(D).where(D.id == item.id, D.lease_token == row.lease_token).values(**values))


def _postpone(engine: Engine, items: list[Claim], until: datetime, report: DeliveryReport) -> None:
    """Give claims back unsent, due when their receiver's retry is."""
    if not items:
        return
    D = WebhookDelivery
    with unit_of_work(engine) as session:
        for item in items:
            session.exec(update(D).where(D.id == item.id, D.lease_token == item.delivery.lease_token)
                         .values(lease_until=None, lease_token=None, next_attempt_at=until))
    report.postponed += len(items)


def send_claimed(engine: Engine, settings: Settings, claims: list[Claim], *, now: datetime,
                 report: DeliveryReport) -> None:
    started = time.monotonic()
    unreachable: dict[int, datetime] = {}  # webhook id -> when its receiver is tried again
    waiting: list[tuple[Claim, datetime]] = []
    for index, item in enumerate(claims):
        row = item.delivery
        if row.webhook_id in unreachable:
            waiting.append((item, unreachable[row.webhook_id]))
            continue
        if timedelta(seconds=time.monotonic() - started) > LEASE - LEASE_MARGIN:
            waiting.extend((rest, now) for rest in claims[index:])  # our lease runs out: let another sender go on
            break
        body = body_of(row, settings.base_url)
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, "X-KB-Event": row.event,
                   "X-KB-Delivery": row.delivery_id, "X-KB-Attempt": str(row.attempts + 1),
                   "X-KB-Signature": sign(item.secret, int(time.time()), body)}
        outcome = post(item.url, body=body, headers=headers, settings=settings)
        if outcome.error is not None:
            log.warning("webhook delivery %s to %s failed: %s", row.delivery_id, item.url, outcome.error)
        _record(engine, item, outcome, now, report)
        if outcome.unreachable:
            unreachable[row.webhook_id] = now + backoff(row.attempts + 1)
    for until in sorted({until for _, until in waiting}):
        _postpone(engine, [item for item, when in waiting if when == until], until, report)


def deliver(*, engine: Engine, settings: Settings, now: datetime | None = None, batch_size: int = BATCH_SIZE,
            max_batches: int = 20) -> DeliveryReport:
    """Send the due deliveries, batch after batch, until none are due (or a batch had failures:
    those wait for their backoff). Receiver failures are recorded, never raised."""
    now = now or utcnow()
    report = DeliveryReport()
    for _ in range(max_batches):
        claims = claim(engine, now=now, limit=batch_size)
        if not claims:
            break
        failed_before = report.failed
        send_claimed(engine, settings, claims, now=now, report=report)
        if len(claims) < batch_size or report.failed > failed_before:
            break
    else:
        report.more = True
    if report:
        log.info("webhooks: %d delivered, %d failed attempts, %d postponed", report.delivered, report.failed,
                 report.postponed)
    return report


def forget_delivered(*, session, now: datetime | None = None) -> int:
    """Delivered deliveries older than ``DELIVERED_KEPT`` leave the log (failed ones stay until retried or deleted)."""
    cutoff = (now or utcnow()) - DELIVERED_KEPT
    return session.exec(delete(WebhookDelivery).where(WebhookDelivery.delivered_at.is_not(None),
                                                      WebhookDelivery.delivered_at < cutoff)).rowcount

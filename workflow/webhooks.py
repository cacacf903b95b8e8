"""Outgoing webhooks: administrators register addresses that hear of certifications, expiries,
flags and forum questions and answers.

A domain event that matters to a webhook writes a ``WebhookDelivery`` row in the session of the
service that made the change (``register()`` subscribes ``_queue`` to the events), so a change
that rolls back sends nothing and a committed one is never lost. Nothing is sent here: the
deliveries go out after the commit, from ``workflow.webhook_sender`` (a background task of
``kb serve``, the periodic job, ``kb webhooks send``), which signs, retries with backoff and
records every attempt. A write therefore never waits for a receiver, nor fails because of one.

Payloads carry only what the event's subject may publish: an entry's certified title (a forum
question's or answer's title, which every signed-in person sees), never a draft's title or any body.
An entry limited to groups (audiences) is named by id only, with ``limited_to_groups: true``: a
receiver (a chat channel, a ticketing tool) reaches people outside those groups.
"""

from __future__ import annotations

import ipaddress
import secrets
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import case, delete, func, update
from sqlmodel import Session, select

from kb.accounts.actors import Actor, require_admin
from kb.accounts.models import User
from kb.clock import utcnow
from kb.commit_signal import CommitSignal
from kb.content.models import Entry, EntryKind, Revision, RevisionState
from kb.errors import NotFound, ValidationFailed
from kb.events import (
    CERTIFICATION_CHANGED, ENTRY_CREATED, FLAG_CHANGED, REVISION_TRANSITION, Event, admin_action, subscribe
)
from kb.settings import Settings
from workflow.models import WEBHOOK_MAX_ATTEMPTS, Certification, Webhook, WebhookDelivery

# The events a webhook can hear of, with what each means (the form's checkboxes, the docs).
CERTIFIED = "entry.certified"
NEEDS_REVERIFICATION = "entry.needs_reverification"
FLAGGED = "entry.flagged"
QUESTION_ASKED = "question.asked"
QUESTION_ANSWERED = "question.answered"
EVENTS: dict[str, str] = {
    CERTIFIED: "An entry was certified, or its certification re-verified: agents now find this version.",
    NEEDS_REVERIFICATION: "A certification expired: the entry needs re-verification (agents see it marked stale).",
    FLAGGED: "Someone flagged an entry as outdated, incorrect, unclear or a duplicate.",
    QUESTION_ASKED: "Someone asked a question in the forum.",
    QUESTION_ANSWERED: "Someone answered a question in the forum.",
}
MAX_URL = 500
MAX_WEBHOOKS = 50
ADMIN_ONLY = "Only an administrator can manage webhooks."
# Wakes this process's sender when a transaction that wrote deliveries commits.
_written = CommitSignal("webhook_deliveries")


# --- the addresses a webhook may use -----------------------------------------------------------


def private_hosts(settings: Settings) -> set[str]:
    """Host names an administrator allowed to resolve to private addresses (``KB_WEBHOOK_PRIVATE_HOSTS``)."""
    return {h.strip().lower().rstrip(".") for h in settings.webhook_private_hosts.split(",") if h.strip()}


def refused_address(address: str, *, host: str, settings: Settings) -> str | None:
    """Why kb will not send to ``address`` (an IP that ``host`` resolved to), or None. In
    development every address is allowed (receivers on this machine); in production only public
    ones, and private or loopback ones of hosts listed in ``KB_WEBHOOK_PRIVATE_HOSTS``. Link-local
    (cloud metadata), multicast, unspecified and reserved addresses are never allowed there."""
    if not settings.is_production:
        return None
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_link_local or ip.is_multicast or ip.is_unspecified or ip.is_reserved:
        return f"{host} points to {ip}, an address kb never sends webhooks to (link-local, multicast or reserved)."
    if ip.is_global:
        return None
    if host.lower().rstrip(".") in private_hosts(settings):
        return None
    return (f"{host} points to {ip}, a private address. To send webhooks inside your network, add {host} to "
            "KB_WEBHOOK_PRIVATE_HOSTS.")


def resolve(host: str, port: int, settings: Settings) -> list[str]:
    """The addresses of ``host`` that kb may send to, checked now (at send time too: a name can be
    pointed elsewhere after it was registered). A ValidationFailed says why none may be used."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ValidationFailed(f"kb cannot find the host {host} ({exc}). Check the address.", field="url") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    # IPv4 first: a receiver on "localhost" usually listens there.
    addresses.sort(key=lambda a: ":" in a)
    for address in addresses:
        reason = refused_address(address, host=host, settings=settings)
        if reason:  # one bad address refuses the name: kb would not know which one it reaches
            raise ValidationFailed(reason, field="url")
    return addresses


def check_url(url: str, *, settings: Settings, resolve_host: bool = True) -> str:
    """The address as it will be used, or a ValidationFailed with a sentence about the field."""
    url = url.strip()
    if not url:
        raise ValidationFailed("Enter the address kb should send the events to.", field="url")
    if len(url) > MAX_URL:
        raise ValidationFailed(f"The address can be at most {MAX_URL} characters long.", field="url")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValidationFailed("That is not a web address; it should look like https://example.com/kb-events.",
                               field="url") from None
    allowed = ("https",) if settings.is_production else ("https", "http")
    if parts.scheme not in allowed:
        need = "https://" if settings.is_production else "https:// or http://"
        raise ValidationFailed(f"The address must start with {need}.", field="url")
    if not parts.hostname:
        raise ValidationFailed("The address has no host name; it should look like https://example.com/kb-events.",
                               field="url")
    if parts.username is not None or parts.password is not None:
        raise ValidationFailed("Leave the user name and password out of the address: every delivery is signed "
                               "with the webhook's secret instead.", field="url")
    if parts.fragment:
        raise ValidationFailed("Leave the #part out of the address: it is never sent to the server.", field="url")
    if resolve_host:
        resolve(parts.hostname, port or (443 if parts.scheme == "https" else 80), settings)
    return url


# --- what administrators do ---------------------------------------------------------------------


@dataclass(frozen=True)
class WebhookSummary:
    webhook: Webhook
    pending: int
    failed: int
    delivered: int
    last_delivered_at: datetime | None


def list_webhooks(*, session: Session, actor: Actor) -> list[WebhookSummary]:
    require_admin(actor, ADMIN_ONLY)
    D = WebhookDelivery
    counts = {row[0]: row[1:] for row in session.exec(
        select(D.webhook_id,
               func.sum(case((D.delivered_at.is_(None) & D.failed_at.is_(None), 1), else_=0)),
               func.sum(case((D.failed_at.is_not(None), 1), else_=0)),
               func.sum(case((D.delivered_at.is_not(None), 1), else_=0)),
               func.max(D.delivered_at))
        .group_by(D.webhook_id))}
    return [WebhookSummary(hook, *(int(n or 0) for n in counts.get(hook.id, (0, 0, 0, None))[:3]),
                           counts.get(hook.id, (0, 0, 0, None))[3])
            for hook in session.exec(select(Webhook).order_by(Webhook.id))]


def get_webhook(*, session: Session, actor: Actor, webhook_id: int) -> Webhook:
    require_admin(actor, ADMIN_ONLY)
    hook = session.get(Webhook, webhook_id)
    if hook is None:
        raise NotFound("There is no such webhook (it may have been deleted).")
    return hook


def create_webhook(*, session: Session, actor: Actor, settings: Settings, url: str, events: list[str]) -> Webhook:
    """A new webhook with a fresh secret, which the caller shows once to the administrator."""
    require_admin(actor, ADMIN_ONLY)
    url = check_url(url, settings=settings)
    unknown = [e for e in events if e not in EVENTS]
    if unknown:
        raise ValidationFailed(f"There is no event called {unknown[0]!r}; choose among the listed ones.",
                               field="events")
    if not events:
        raise ValidationFailed("Choose at least one event to send.", field="events")
    if session.exec(select(func.count()).select_from(Webhook)).one() >= MAX_WEBHOOKS:
        raise ValidationFailed(f"kb sends to at most {MAX_WEBHOOKS} webhooks; delete one you no longer use first.",
                               field="url")
    hook = Webhook(url=url, events=[e for e in EVENTS if e in events], secret="whsec_" + secrets.token_urlsafe(32),
                   created_by=actor.id)
    session.add(hook)
    session.flush()
    admin_action(session=session, actor_id=actor.id, action="webhook.create", target=url,
                 detail=", ".join(hook.events))
    return hook


def set_active(*, session: Session, actor: Actor, webhook: Webhook, active: bool) -> Webhook:
    """Pause (or resume) a webhook: paused, it is given no new deliveries and its pending ones wait."""
    require_admin(actor, ADMIN_ONLY)
    if webhook.active != active:
        webhook.active = active
        session.add(webhook)
        session.flush()
        admin_action(session=session, actor_id=actor.id, action="webhook.enable" if active else "webhook.disable",
                     target=webhook.url)
    return webhook


def delete_webhook(*, session: Session, actor: Actor, webhook: Webhook) -> Webhook:
    """The webhook and its delivery log; deliveries not sent yet are dropped."""
    require_admin(actor, ADMIN_ONLY)
    session.exec(delete(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook.id))
    session.delete(webhook)
    session.flush()
    admin_action(session=session, actor_id=actor.id, action="webhook.delete", target=webhook.url)
    return webhook


def deliveries(*, session: Session, actor: Actor, webhook: Webhook, limit: int = 100,
               offset: int = 0) -> list[WebhookDelivery]:
    """The delivery log of a webhook, newest first."""
    require_admin(actor, ADMIN_ONLY)
    return list(session.exec(select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook.id)
                             .order_by(WebhookDelivery.id.desc()).limit(limit).offset(offset)))


def retry(*, session: Session, actor: Actor, webhook: Webhook, delivery_id: int | None = None,
          now: datetime | None = None) -> int:
    """"Retry now": the delivery (or every failed one of the webhook) goes out at once, with a new
    series of attempts; the number of deliveries scheduled. A delivered one is not sent again."""
    require_admin(actor, ADMIN_ONLY)
    now = now or utcnow()
    D = WebhookDelivery
    condition = (D.webhook_id == webhook.id) & D.delivered_at.is_(None)
    if delivery_id is None:
        condition &= D.failed_at.is_not(None)
    else:
        row = session.get(D, delivery_id)
        if row is None or row.webhook_id != webhook.id:
            raise NotFound("There is no such delivery for this webhook.")
        if row.delivered_at is not None:
            raise ValidationFailed("This delivery has already arrived; kb does not send it twice.")
        condition &= D.id == delivery_id
    scheduled = session.exec(update(D).where(condition).values(
        failed_at=None, next_attempt_at=now, attempt_limit=D.attempts + WEBHOOK_MAX_ATTEMPTS,
        lease_until=None, lease_token=None)).rowcount
    if scheduled:
        _written.mark(session)
        admin_action(session=session, actor_id=actor.id, action="webhook.retry", target=webhook.url,
                     detail=f"{scheduled} deliveries")
    return scheduled


# --- the deliveries the domain events make --------------------------------------------------------


def _public_title(session: Session, entry: Entry) -> str | None:
    """The title anyone may be told: the certified one, or a forum post's (forum posts are seen by
    every signed-in person); None for an article that only its authors and reviewers can see, and
    for an entry limited to groups."""
    if entry.limited_to_groups:
        return None
    revision_id = entry.certified_revision_id
    if revision_id is None and entry.kind in (EntryKind.question.value, EntryKind.answer.value):
        revision_id = entry.latest_revision_id
    revision = session.get(Revision, revision_id) if revision_id else None
    return (revision.title or None) if revision else None


def _entry(session: Session, entry: Entry) -> dict:
    return {"id": entry.id, "kind": entry.kind, "title": _public_title(session, entry), "url": f"/entries/{entry.id}",
            "limited_to_groups": bool(entry.limited_to_groups)}


def _actor(session: Session, actor_id: int | None) -> dict | None:
    user = session.get(User, actor_id) if actor_id is not None else None
    return {"id": user.id, "name": user.display_name} if user else None


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def _certification(session: Session, entry: Entry) -> dict:
    cert = session.get(Certification, entry.id)
    revision = session.get(Revision, cert.revision_id) if cert else None
    return {"revision": revision.number if revision else None, "status": cert.status if cert else None,
            "valid_until": _iso(cert.valid_until) if cert else None}


def _webhook_event(event: Event) -> str | None:
    """The webhook event a domain event is, from the event alone (no query: most events are none)."""
    action = event.data.get("action")
    if event.entry_id is None:
        return None
    if event.name == REVISION_TRANSITION and event.data.get("to") == RevisionState.certified.value:
        return CERTIFIED
    if event.name == CERTIFICATION_CHANGED:
        return {"reverify": CERTIFIED, "expire": NEEDS_REVERIFICATION}.get(action)
    if event.name == FLAG_CHANGED and action == "raise":
        return FLAGGED
    if event.name == ENTRY_CREATED and not event.data.get("imported"):  # an import is not news
        return {EntryKind.question.value: QUESTION_ASKED, EntryKind.answer.value: QUESTION_ANSWERED}.get(
            event.data.get("kind"))
    return None


def _payload(session: Session, event: Event, name: str) -> dict | None:
    """What the webhooks are told of ``event`` (webhook event ``name``); None for a deleted entry."""
    entry = session.get(Entry, event.entry_id)
    if entry is None or entry.deleted_at is not None:
        return None
    extra: dict = {}
    if name == CERTIFIED:
        extra = {"reverified": event.name == CERTIFICATION_CHANGED}
    elif name == FLAGGED:
        extra = {"flag": {"id": event.data.get("flag_id"),
                          "reason": None if entry.limited_to_groups else event.data.get("reason")}}
    elif name == QUESTION_ANSWERED:
        extra = {"question": _entry(session, session.get(Entry, entry.parent_id))}
    if name in (CERTIFIED, NEEDS_REVERIFICATION):
        extra["certification"] = _certification(session, entry)
    return {"event": name, "occurred_at": _iso(utcnow()), "entry": _entry(session, entry),
            "actor": _actor(session, event.actor_id), **extra}


def _queue(session: Session, event: Event) -> None:
    """Write a delivery for every active webhook that wants this event, in the change's transaction."""
    name = _webhook_event(event)
    if name is None:
        return
    hooks = [hook for hook in session.exec(select(Webhook).where(Webhook.active)) if name in hook.events]
    if not hooks:
        return
    payload = _payload(session, event, name)
    if payload is None:
        return
    payload = {"event_id": str(uuid.uuid4()), **payload}
    now = utcnow()
    for hook in hooks:
        session.add(WebhookDelivery(webhook_id=hook.id, delivery_id=str(uuid.uuid4()), event=name,
                                    payload=payload, created_at=now, next_attempt_at=now))
    _written.mark(session)


def register() -> None:
    """Subscribe the webhook deliveries to the domain events they come from (idempotent)."""
    for name in (REVISION_TRANSITION, CERTIFICATION_CHANGED, FLAG_CHANGED, ENTRY_CREATED):
        subscribe(name, _queue)
    _written.install()


def wait_for_changes(timeout: float) -> bool:
    """Block until this process commits a delivery, or ``timeout`` seconds (deliveries written by
    other processes are found by the next round after the timeout). True when woken by a commit."""
    return _written.wait(timeout)


def notify_changes() -> None:
    """Wake this process's sender (tests, and ``kb`` after a "Retry now" in the same process)."""
    _written.notify()

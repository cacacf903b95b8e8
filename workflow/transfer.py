"""Import and export with the workflow state: certified content stays certified when migrating.

``kb.content.transfer`` reads and writes the files but may not import ``workflow``; the command
line (the composition root) calls the functions here, which hand it the certification side.

Certifying on import skips review (the content was reviewed in the knowledge base it comes from),
not the rule of who may vouch for it. The importing user must be an administrator, and the
certifier the file (or ``--certified-by``) names must be someone kb would let certify the revision
today: an active expert of one of its topics (designated, or by score when the policy allows it)
or an administrator, who wrote none of its text (four eyes). The audit trail records the event as
an ``import certification`` by the importer, naming the certifier; the certification itself
carries the certifier, the original certification time and the validity.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, insert, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from kb.accounts.actors import Actor, require_admin
from kb.accounts.models import User
from kb.clock import utcnow
from kb.content import export as content_export
from kb.content import transfer as content_transfer
from kb.content.models import Entry, Revision, RevisionState, RevisionTag, Tag
from kb.db import session_factory
from kb.errors import Forbidden, InvalidTransition, NotFound
from kb.events import CERTIFICATION_CHANGED, Event, publish_all
from workflow import audit
from workflow.models import Certification, CertificationStatus, Policy
from workflow.policy import combined_policy, contributors, expert_topic_ids
from workflow.transitions import REVIEWED_KINDS

IMPORT_CERTIFICATION = "import certification"
S = RevisionState


class _Experts:
    """Which topics each certifier is an expert of, read once per batch of files rather than
    once per file (expertise is decided topic by topic, so asking for more topics at once gives
    the same answer for each)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._known: dict[int, tuple[set[int], set[int]]] = {}  # user id -> (topics asked, expert of)

    def prefetch(self, user_ids: set[int], tag_ids: set[int]) -> None:
        for user_id in user_ids:
            self.of(user_id, tag_ids)

    def of(self, user_id: int, tag_ids) -> set[int]:
        asked, expert = self._known.setdefault(user_id, (set(), set()))
        missing = set(tag_ids) - asked
        if missing:
            expert |= expert_topic_ids(session=self.session, user_id=user_id, tag_ids=sorted(missing))
            asked |= missing
        return expert & set(tag_ids)


def certification_refusal(*, session: Session, certifier: User, tag_ids: list[int],
                          contributor_ids: frozenset[int], experts: _Experts | None = None) -> str | None:
    """Why ``certifier`` may not vouch for a revision with these topics and authors (None: they may)."""
    if not certifier.is_active:
        return f"{certifier.email} is deactivated and cannot certify; name another expert."
    if certifier.id in contributor_ids:
        return (f"{certifier.email} wrote this text, so they cannot certify it (four eyes); "
                "name another expert of its topics or an administrator.")
    if certifier.is_admin or (experts or _Experts(session)).of(certifier.id, tag_ids):
        return None
    return (f"{certifier.email} is not an expert of its topics nor an administrator, so they cannot certify it; "
            "designate them as expert of the topic first, or name another certifier.")


@dataclass(frozen=True)
class ImportedCertification:
    """An imported revision to certify as ``certified_by`` did in the knowledge base it comes from:
    ``valid_until`` (from the file) or ``valid_days`` from now; neither: the topic policy's validity
    from now. ``source``: the file, for the audit trail."""

    revision_id: int
    certified_by: User
    certified_at: datetime | None = None
    valid_until: datetime | None = None
    valid_days: int | None = None
    source: str = ""


CHUNK = 500  # ids per IN (...) list


def _chunks(ids: list) -> list[list]:
    return [ids[start:start + CHUNK] for start in range(0, len(ids), CHUNK)]


@dataclass
class _Batch:
    """What certifying a list of revisions reads, a table at a time."""

    revisions: dict[int, Any]  # id -> (id, entry_id, number, author_id, state)
    tags: dict[int, list[int]]  # revision id -> topic ids
    tag_names: dict[int, str]
    policies: list[Policy]
    superseded: dict[int, list[int]]  # entry id -> its other certified revisions
    certifications: dict[int, Certification]  # entry id -> its certification, if it had one


def _read_batch(session: Session, items: list[ImportedCertification]) -> _Batch:
    revisions = {}
    for chunk in _chunks([item.revision_id for item in items]):
        for row in session.exec(select(Revision.id, Revision.entry_id, Revision.number, Revision.author_id,
                                       Revision.state).where(Revision.id.in_(chunk)).with_for_update()):
            revisions[row.id] = row
    if len(revisions) != len(items):
        raise NotFound("That revision does not exist.")
    entry_ids = [revisions[item.revision_id].entry_id for item in items]
    kinds = {}
    for chunk in _chunks(entry_ids):
        kinds.update(session.exec(select(Entry.id, Entry.kind).where(Entry.id.in_(chunk))).all())
    if any(kind not in REVIEWED_KINDS for kind in kinds.values()):
        raise InvalidTransition("Questions are not certified; only articles and answers are.")
    tags: dict[int, list[int]] = {revision_id: [] for revision_id in revisions}
    for chunk in _chunks(list(revisions)):
        for revision_id, tag_id in session.exec(select(RevisionTag.revision_id, RevisionTag.tag_id)
                                                .where(RevisionTag.revision_id.in_(chunk))):
            tags[revision_id].append(tag_id)
    all_tags = sorted({t for ids in tags.values() for t in ids})
    tag_names, policies = {}, list(session.exec(select(Policy).where(Policy.tag_id.is_(None))))
    for chunk in _chunks(all_tags):
        tag_names.update(session.exec(select(Tag.id, Tag.name).where(Tag.id.in_(chunk))).all())
        policies += session.exec(select(Policy).where(Policy.tag_id.in_(chunk))).all()
    superseded: dict[int, list[int]] = {}
    certifications = {}
    for chunk in _chunks(entry_ids):
        for row in session.exec(select(Revision.id, Revision.entry_id).where(
                Revision.entry_id.in_(chunk), Revision.state == S.certified.value)):
            if row.id not in revisions:
                superseded.setdefault(row.entry_id, []).append(row.id)
        certifications.update({c.entry_id: c for c in session.exec(
            select(Certification).where(Certification.entry_id.in_(chunk)))})
    return _Batch(revisions, tags, tag_names, policies, superseded, certifications)


def certify_imported(*, session: Session, actor: Actor, items: list[ImportedCertification],
                     experts: _Experts | None = None) -> None:
    """Certify imported revisions, each as ``certify`` would on its own: the certifier may vouch
    for it today (or ``Forbidden``), an older certified revision of the entry is superseded, the
    certification records certifier, time and validity (one that already ran out is imported as
    needing re-verification), an ``import certification`` audit event and a
    ``certification.changed`` event. A statement per table for the whole list, not per revision."""
    require_admin(actor, "Only administrators can import certified content.")
    if len({item.revision_id for item in items}) != len(items):
        raise ValueError("Each revision is certified once per call.")
    batch = _read_batch(session, items)
    revisions, tags, tag_names, policies = batch.revisions, batch.tags, batch.tag_names, batch.policies
    superseded, existing = batch.superseded, batch.certifications
    entry_of = {item.revision_id: revisions[item.revision_id].entry_id for item in items}
    if len(set(entry_of.values())) != len(items):  # two revisions of one entry: the later supersedes the earlier
        for item in items:
            certify_imported(session=session, actor=actor, items=[item], experts=experts)
        return
    experts = experts or _Experts(session)
    experts.prefetch({item.certified_by.id for item in items}, set(tag_names))  # admins too: the signature names topics
    now = utcnow()
    validity: dict[frozenset[int], int] = {}  # days, per set of topics
    audit_rows, published, new_certs = [], [], []
    for item in items:
        revision = revisions[item.revision_id]
        tag_ids, certifier = tags[revision.id], item.certified_by
        # A first revision has one author; later ones: everyone who wrote since the last certification.
        authors = frozenset({revision.author_id}) if revision.number == 1 else contributors(session=session,
                                                                                                revision=revision)
        refusal = certification_refusal(session=session, certifier=certifier, tag_ids=tag_ids,
                                        contributor_ids=authors, experts=experts)
        if refusal:
            raise Forbidden(refusal)
        certified_at = item.certified_at or now
        valid_until = item.valid_until
        if valid_until is None:
            key = frozenset(tag_ids)
            if key not in validity:
                validity[key] = combined_policy(policies, tag_ids).validity_days
            days = item.valid_days or validity[key]
            valid_until = now + timedelta(days=days)
        stale = valid_until <= now
        status = (CertificationStatus.needs_reverification if stale else CertificationStatus.active).value
        for previous in superseded.get(revision.entry_id, []):  # an entry never has two certified revisions
            audit_rows.append({"entry_id": revision.entry_id, "revision_id": previous, "action": "supersede",
                               "from_state": S.certified.value, "to_state": S.superseded.value,
                               "comment": f"Superseded by revision {revision.number}.",
                               "signature": "superseded on import"})
        cert = existing.get(revision.entry_id)
        if cert is None:
            new_certs.append({"entry_id": revision.entry_id, "revision_id": revision.id, "certified_by": certifier.id,
                              "certified_at": certified_at, "valid_until": valid_until, "status": status,
                              "reminder_sent_at": None, "reverified_by": None, "reverified_at": None,
                              "archived_by": None, "archived_at": None, "version": 1})
        else:
            cert.revision_id, cert.certified_by, cert.certified_at, cert.valid_until = (
                revision.id, certifier.id, certified_at, valid_until)
            cert.status = status
            cert.reminder_sent_at = cert.reverified_by = cert.reverified_at = cert.archived_by = None
            cert.archived_at = None
            cert.version += 1
        topics = sorted(tag_names[t] for t in experts.of(certifier.id, tag_ids)) if tag_ids else []
        role = f"as expert of {', '.join(topics)}" if topics else "as administrator"
        audit_rows.append({"entry_id": revision.entry_id, "revision_id": revision.id, "action": IMPORT_CERTIFICATION,
                           "from_state": revision.state, "to_state": S.certified.value,
                           "signature": f"certified by {certifier.email} {role}"[:200],
                           "comment": _comment(item.source, certifier, certified_at, valid_until, stale)})
        published.append(Event(CERTIFICATION_CHANGED, entry_id=revision.entry_id, revision_id=revision.id,
                               actor_id=actor.id, data={"action": IMPORT_CERTIFICATION, "imported": True,
                                                        "needs_reverification": stale}))

    older = [revision_id for ids in superseded.values() for revision_id in ids]
    for chunk in _chunks(older):
        session.exec(update(Revision).where(Revision.id.in_(chunk)).values(state=S.superseded.value))
    for chunk in _chunks(list(revisions)):
        session.exec(update(Revision).where(Revision.id.in_(chunk)).values(state=S.certified.value))
    entry_table = Entry.__table__
    session.exec(update(entry_table).where(entry_table.c.id == bindparam("entry"))
                 .values(certified_revision_id=bindparam("revision")),
                 params=[{"entry": entry_of[item.revision_id], "revision": item.revision_id} for item in items])
    if new_certs:
        session.exec(insert(Certification.__table__), params=new_certs)
    session.flush()
    audit.record_all(session=session, actor=actor, events=audit_rows)
    publish_all(session=session, events=published)


def _comment(source: str, certifier: User, certified_at: datetime, valid_until: datetime, stale: bool) -> str:
    origin = f"Imported from {source}: certified" if source else "Imported: certified"
    until = "ran out" if stale else "valid until"
    return (f"{origin} by {certifier.email} on {certified_at:%Y-%m-%d}; {until} {valid_until:%Y-%m-%d}"
            f"{', so it needs re-verification' if stale else ''}.")


ADMINS_ONLY = ("Only an administrator can import certified content; import it as drafts (--state draft), or ask "
               "an administrator to import it.")


class ImportCertifier:
    """``kb.content.transfer.ImportWorkflow``: checks the files' certifications before anything of
    them is written, then certifies in the import's transaction, a batch of files at a time."""

    def __init__(self, *, importer: User) -> None:
        self.importer = importer
        self._users: dict[str, User | None] = {}

    def _certifiers(self, session: Session, emails: set[str]) -> dict[str, User | None]:
        unknown = sorted(emails - self._users.keys())
        if unknown:
            found = {u.email: u for u in session.exec(select(User).where(User.email.in_(unknown)))}
            for user in found.values():
                session.expunge(user)
            self._users.update({email: found.get(email) for email in unknown})
        return self._users

    def check(self, session: Session, checks: list[content_transfer.CertificationCheck]) -> list[str | None]:
        if not self.importer.is_admin:
            return [ADMINS_ONLY] * len(checks)
        users = self._certifiers(session, {c.request.certified_by for c in checks})
        names = sorted({name for c in checks for name in c.tag_names})
        tag_ids: dict[str, int] = {}
        for chunk in _chunks(names):
            tag_ids.update(session.exec(select(Tag.name, Tag.id).where(Tag.name.in_(chunk))).all())
        experts = _Experts(session)
        experts.prefetch({u.id for u in users.values() if u is not None and not u.is_admin}, set(tag_ids.values()))
        refusals = []
        for check in checks:
            certifier = users[check.request.certified_by]
            if certifier is None:
                refusals.append(f"No user has the email {check.request.certified_by} (named as certifier): create "
                                "the account first.")
                continue
            authors = {check.author_id}
            if check.entry_id is not None:  # an update: everyone who wrote text since its last certification
                latest = session.exec(select(Revision).join(Entry, Entry.latest_revision_id == Revision.id)
                                      .where(Entry.id == check.entry_id)).one()
                authors |= contributors(session=session, revision=latest)
            refusals.append(certification_refusal(
                session=session, certifier=certifier, tag_ids=[tag_ids[n] for n in check.tag_names if n in tag_ids],
                contributor_ids=frozenset(authors), experts=experts))
        return refusals

    def certify(self, session: Session, revisions: list[content_transfer.ImportedRevision]) -> None:
        users = self._certifiers(session, {item.request.certified_by for item in revisions})
        for item in revisions:
            if users[item.request.certified_by] is None:  # checked before: only a concurrent deletion
                raise NotFound(f"No user has the email {item.request.certified_by} (named as certifier).")
        certify_imported(session=session, actor=self.importer, items=[ImportedCertification(
            revision_id=item.revision_id, certified_by=users[item.request.certified_by],
            certified_at=item.request.certified_at, valid_until=item.request.valid_until,
            valid_days=item.request.valid_days, source=item.path.as_posix()) for item in revisions])


def certification_fields(session: Session, entry_ids: list[int]) -> dict[int, dict]:
    """What an export writes about each entry's certification (``kb.content.export.Certifications``)."""
    rows = session.exec(select(Certification, User.email).join(User, User.id == Certification.certified_by)
                        .where(Certification.entry_id.in_(entry_ids)))
    return {cert.entry_id: {"certified_by": email, "certified_at": cert.certified_at,
                            "valid_until": cert.valid_until} for cert, email in rows}


def import_folder(*, engine: Engine, path: Path | str, actor_email: str,
                  options: content_transfer.ImportOptions | None = None, batch_size: int = 500,
                  progress: content_transfer.Progress | None = None) -> content_transfer.ImportReport:
    """``kb import``: the files' content through ``kb.content``, their certification through workflow."""
    with session_factory(engine)() as session:
        importer = session.exec(select(User).where(User.email == actor_email.strip().lower())).first()
        if importer is None:
            raise NotFound(f"No user has the email {actor_email}.")
        session.expunge(importer)
    return content_transfer.import_folder(engine=engine, path=path, actor_email=importer.email, options=options,
                                          batch_size=batch_size, progress=progress,
                                          workflow=ImportCertifier(importer=importer))


def export_folder(*, engine: Engine, path: Path | str, actor: User,
                  progress: content_transfer.Progress | None = None) -> content_export.ExportReport:
    """``kb export``: every article and question with its answers and certification."""
    return content_export.export_entries(engine=engine, path=path, actor=actor, progress=progress,
                                         certifications=certification_fields)

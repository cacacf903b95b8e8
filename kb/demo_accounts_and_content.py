"""Demo data for development: the demo accounts and the content in ``kb/demo_content``.

``demo_content/articles/*.md`` are articles and ``demo_content/threads/*.md`` forum questions,
in the import file format (see ``kb.content.transfer``); a thread also lists its ``answers``
(author, body, accepted). Everything is created through the services, by the authors named in
the files, so the demo looks like content people wrote.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

from sqlmodel import Session, select

from kb.accounts import security
from kb.accounts import service as accounts
from kb.accounts.actors import SYSTEM
from kb.accounts.models import Role, User
from kb.accounts.schemas import UserCreate
from kb.clock import travel, utcnow
from kb.content.forum import accept_answer, answer_question, ask_question
from kb.content.models import Entry, EntryKind, Revision
from kb.content.schemas import AnswerCreate, ArticleCreate, QuestionCreate
from kb.content.service import create_article
from kb.content.transfer import read_document
from kb.errors import NotFound

DEMO_PASSWORD = "demo-password"
DEMO_ACCOUNTS = (
    ("agent@example.com", "Alex Agent", [Role.agent]),
    ("author@example.com", "Avery Author", [Role.author, Role.agent]),
    ("expert@example.com", "Erin Expert", [Role.expert, Role.author, Role.agent]),
    ("admin@example.com", "Ada Admin", [Role.admin, Role.expert, Role.author, Role.agent]),
)
# The colleagues who wrote most of the demo content.
DEMO_AUTHORS = tuple(
    (email, name, [Role.author, Role.expert, Role.agent])
    for email, name in (
        ("maria.lopez@example.com", "Maria Lopez"),
        ("sam.okafor@example.com", "Sam Okafor"),
        ("priya.nair@example.com", "Priya Nair"),
    )
)
# Front-line colleagues who search, vote and link answers to their cases in the demo.
DEMO_AGENTS = tuple(
    (email, name, [Role.agent])
    for email, name in (
        ("lee.chen@example.com", "Lee Chen"),
        ("ana.silva@example.com", "Ana Silva"),
        ("tom.becker@example.com", "Tom Becker"),
        ("noor.haddad@example.com", "Noor Haddad"),
        ("jonas.berg@example.com", "Jonas Berg"),
    )
)
DEMO_CONTENT = Path(__file__).with_name("demo_content")


@dataclass
class DemoContentReport:
    articles: int = 0
    questions: int = 0
    answers: int = 0
    accepted: int = 0
    # Files whose entry already exists (same kind and title): loading twice adds nothing.
    skipped: int = 0
    authors_created: list[str] = field(default_factory=list)


@cache
def _demo_password_hash() -> str:
    # One argon2 hash shared by the demo accounts (same password): hashing costs ~0.5 s each.
    return security.hash_password(DEMO_PASSWORD)


def _create_missing(session: Session, accounts_list) -> list[str]:
    created = []
    for email, name, roles in accounts_list:
        if accounts.find_user_by_email(session=session, email=email) is None:
            data = UserCreate(email=email, display_name=name, roles=roles)
            with travel(utcnow() - timedelta(days=120)):  # colleagues joined before they wrote anything
                user = accounts.create_user(session=session, actor=SYSTEM, data=data)
            user.password_hash = _demo_password_hash()
            created.append(email)
    session.flush()
    return created


def load_demo_accounts(*, session: Session) -> list[str]:
    """Create the demo accounts that do not exist yet; returns the emails created."""
    return _create_missing(session, DEMO_ACCOUNTS)


def load_demo_agents(*, session: Session) -> list[str]:
    """Create the demo's front-line colleagues (agents) that do not exist yet."""
    return _create_missing(session, DEMO_AGENTS)


def load_demo_content(*, session: Session, folder: Path = DEMO_CONTENT) -> DemoContentReport:
    """Create the demo authors and every demo article and thread not loaded yet.

    The demo accounts must exist (``load_demo_accounts``).
    """
    report = DemoContentReport(authors_created=_create_missing(session, DEMO_AUTHORS))
    users: dict[str, User] = {}

    def user(email: str) -> User:
        if email not in users:
            found = accounts.find_user_by_email(session=session, email=email)
            if found is None:
                raise NotFound(f"The demo content needs the account {email}; load the demo accounts first.")
            users[email] = found
        return users[email]

    existing = set(
        session.exec(select(Entry.kind, Revision.title).join(Revision, Revision.id == Entry.latest_revision_id)).all()
    )
    articles = sorted((folder / "articles").glob("*.md"))
    for index, path in enumerate(articles):
        meta, body = read_document(path)
        data = ArticleCreate(title=meta["title"], body=body, tags=meta.get("tags") or [])
        if (EntryKind.article.value, data.title) in existing:
            report.skipped += 1
            continue
        with travel(_written_at(index, len(articles))):
            create_article(session=session, actor=user(meta["author"]), data=data)
        report.articles += 1
    threads = sorted((folder / "threads").glob("*.md"))
    for index, path in enumerate(threads):
        meta, body = read_document(path)
        data = QuestionCreate(title=meta["title"], body=body, tags=meta.get("tags") or [])
        if (EntryKind.question.value, data.title) in existing:
            report.skipped += 1
            continue
        asker = user(meta["author"])
        asked_at = _written_at(index, len(threads))
        with travel(asked_at):
            question = ask_question(session=session, actor=asker, data=data)
        report.questions += 1
        for number, item in enumerate(meta.get("answers") or [], start=1):
            with travel(asked_at + timedelta(hours=3 * number)):
                answer = answer_question(session=session, actor=user(item["author"]), question=question,
                                         data=AnswerCreate(body=item["body"]))
                report.answers += 1
                if item.get("accepted"):
                    accept_answer(session=session, actor=asker, answer=answer)
                    report.accepted += 1
    return report


def _written_at(index: int, count: int) -> datetime:
    """When the demo pretends an item was written: between ~100 and 8 days ago, most of it recent."""
    share = (count - index) / max(count, 1)
    return utcnow() - timedelta(days=8 + 92 * share * share, hours=index % 9)

"""The agent search page: results as you type, facets, badges, drafts only for writers."""

import html
import re

import pytest

from kb.content.schemas import ArticleCreate
from kb.content.service import create_article
from search.factory import backend_for, reset_backends
from search.outbox import drain
from tests.helpers import login
from workflow.models import Action
from workflow.policy import designate_expert
from workflow.service import transition
from kb.accounts.actors import SYSTEM


def text_of(page: str) -> str:
    """What a person reads: tags removed (highlights split words), entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", page))


@pytest.fixture
def indexed(db, engine, make_user, settings, app):
    reset_backends()
    author, expert = make_user("author", name="Avery"), make_user("expert")
    designate_expert_needed = create_article(session=db, actor=author, data=ArticleCreate(
        title="Reset a customer's password", body="Send the reset link; it expires after 60 minutes.",
        tags=["passwords"]))
    create_article(session=db, actor=author, data=ArticleCreate(
        title="Zephyrine draft", body="A private draft about passwords.", tags=["passwords"]))
    designate_expert(session=db, actor=SYSTEM, topic="passwords", user=expert)
    for who, action in ((author, Action.submit), (expert, Action.approve), (expert, Action.certify)):
        transition(session=db, actor=who, revision_id=designate_expert_needed.latest_revision_id, action=action)
    db.commit()
    drain(engine=engine, backend=backend_for(app.state.settings))
    yield {"author": author}
    reset_backends()


def test_agent_finds_the_certified_article_with_a_typo(client, make_user, indexed):
    login(client, make_user("agent").email)
    page = client.get("/search?q=pasword+resett").text
    assert "<mark>" in page and "Reset a customer's password" in text_of(page) and "badge-certified" in page
    assert "Zephyrine" not in page
    assert "Include drafts" not in page  # agents have no drafts toggle
    assert re.search(r"by User \d+, valid until <time>\d{4}-\d{2}-\d{2}</time>", page)  # certifier and validity


def test_htmx_gets_only_the_results(client, make_user, indexed):
    login(client, make_user("agent").email)
    partial = client.get("/search?q=pass", headers={"HX-Request": "true"}).text
    assert "Reset a customer's password" in text_of(partial) and "<html" not in partial


def test_drafts_toggle_for_authors_and_facets(client, indexed):
    login(client, indexed["author"].email)
    without = client.get("/search?q=zephyrine").text
    assert "Zephyrine" not in without
    with_drafts = client.get("/search?q=zephyrine&drafts=true").text
    assert "Zephyrine" in with_drafts and "(not certified)" in with_drafts
    faceted = client.get("/search?q=password&tag=passwords").text
    assert 'aria-current="true"' in faceted and '<span class="count">' in faceted


def test_no_result_offers_to_ask_the_forum(client, make_user, indexed):
    login(client, make_user("agent").email)
    page = client.get("/search?q=teleportation+voucher").text
    assert "No answer found" in page and "/questions/ask?title=teleportation%20voucher" in page
    ask = client.get("/questions/ask?title=teleportation%20voucher").text
    assert 'value="teleportation voucher"' in ask


def test_a_weak_match_is_possibly_related_and_the_forum_is_offered(client, make_user, indexed):
    login(client, make_user("agent").email)
    page = client.get("/search?q=hovercraft+custom").text
    # "custom" is the start of "customer's" in the password article; "hovercraft" is nowhere.
    assert "Reset a customer's password" in text_of(page)
    assert "No confident match" in text_of(page) and "Possibly related" in page
    assert "/questions/ask?title=hovercraft%20custom" in page
    confident = client.get("/search?q=reset+password").text
    assert "No confident match" not in text_of(confident) and "Possibly related" not in confident


def test_no_result_suggests_searches_that_helped_several_colleagues(client, db, make_user, indexed):
    from datetime import timedelta

    from sqlmodel import select

    from kb.clock import travel, utcnow
    from kb.content.models import Entry
    from search import querylog
    from search.models import SearchLog

    people = [make_user("agent") for _ in range(5)]
    assert db.exec(select(SearchLog.id)).first() is None
    certified = db.exec(select(Entry.id).where(Entry.certified_revision_id.is_not(None))).one()
    draft = db.exec(select(Entry.id).where(Entry.certified_revision_id.is_(None))).one()
    for n, (person, query, opened) in enumerate([
            (people[0], "gift card balance", certified), (people[1], "gift card balance", certified),
            (people[2], "gift card for jane doe order 5512", certified),
            (people[3], "gift project falcon", draft), (people[4], "gift project falcon", draft)]):
        with travel(utcnow() - timedelta(minutes=10 + n)):
            row = querylog.log_search(session=db, user_id=person.id, query=query, result_count=1)
            querylog.log_click(session=db, user_id=person.id, search_id=row.id, entry_id=opened, rank=1)
    db.commit()
    login(client, people[0].email)
    page = client.get("/search?q=gift+teleporter").text
    assert "No answer found" in page and "Colleagues found answers with" in page
    assert 'href="/search?q=gift%20card%20balance"' in page
    assert "jane doe" not in page  # one person's pasted sentence is never shown to others
    assert "falcon" not in page  # searches that led to a draft never become hints


def test_searches_and_clicks_are_logged_once_per_typed_query(client, db, make_user, indexed):
    from search.models import SearchClick, SearchLog
    from tests.helpers import rows

    agent = make_user("agent")
    login(client, agent.email)
    for typed in ("pas", "passw", "password reset"):  # as the agent types
        client.get(f"/search?q={typed}", headers={"HX-Request": "true"})
    client.get("/search?q=teleportation")
    logs = sorted(rows(db, SearchLog, user_id=agent.id), key=lambda r: r.id)
    assert [(r.normalised, r.result_count > 0) for r in logs] == [("password reset", True), ("teleportation", False)]
    page = client.get("/search?q=password+reset").text
    link = re.search(r'href="(/search/click\?[^"]+)"', page).group(1).replace("&amp;", "&")
    opened = client.get(link, follow_redirects=False)
    assert opened.status_code == 303 and opened.headers["location"].startswith("/entries/")
    click = rows(db, SearchClick)[0]
    assert click.rank == 1 and rows(db, SearchLog, id=click.search_id)[0].normalised == "password reset"


def test_a_click_on_a_search_the_log_still_holds_in_memory_is_recorded_with_it(engine, db, settings, make_user,
                                                                                indexed):
    from fastapi.testclient import TestClient

    from search.models import SearchClick, SearchLog
    from tests.helpers import rows
    from web.app import create_app

    agent = make_user("agent")
    batched = create_app(settings=settings.model_copy(update={"query_log_seconds": 3600}), engine=engine)
    with TestClient(batched, base_url="http://testserver") as client:
        login(client, agent.email)
        page = client.get("/search?q=password+reset").text
        link = re.search(r'href="(/search/click\?[^"]+)"', page).group(1).replace("&amp;", "&")
        assert client.get(link, follow_redirects=False).status_code == 303
        db.expire_all()
        assert rows(db, SearchLog) == [] and rows(db, SearchClick) == []  # nobody waited for the log
    db.expire_all()  # a clean shutdown wrote the search, then its click
    click = rows(db, SearchClick)[0]
    assert click.rank == 1 and rows(db, SearchLog, id=click.search_id)[0].normalised == "password reset"


def test_the_page_says_when_search_is_catching_up(client, db, make_user, indexed):
    from search.models import SearchOutbox

    from datetime import timedelta

    from kb.clock import utcnow

    db.add(SearchOutbox(entry_id=10_000))  # just written: the indexer has a moment
    for n in range(3):
        db.add(SearchOutbox(entry_id=10_001 + n, created_at=utcnow() - timedelta(minutes=2)))
    db.commit()
    login(client, make_user("agent").email)
    assert "Search is catching up with 3 recent changes" in client.get("/search?q=password").text

"""App-wide behaviour: security headers, health, API docs, error pages."""

from fastapi.testclient import TestClient

from tests.helpers import PASSWORD, csrf_from, login
from kb.accounts.actors import SYSTEM


def test_security_headers_on_pages(client):
    response = client.get("/login")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    assert response.headers["x-frame-options"] == "DENY"


def test_no_inline_scripts_in_pages(client, make_user):
    user = make_user("admin")
    login(client, user.email)
    for path in ("/", "/profile", "/admin/users", "/login"):
        html = client.get(path).text
        assert "<script>" not in html and " onclick=" not in html and " onload=" not in html, path


def test_healthz_reports_database_and_search(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["search"]["backend"] == "embedded" and body["search"]["status"] == "ok"
    assert body["search"]["pending"] == 0  # nothing waiting for the indexer


def test_healthz_is_degraded_when_search_is_down(app, client, settings):
    app.state.settings = settings.model_copy(
        update={"search_backend": "meilisearch", "search_url": "http://127.0.0.1:9", "search_key": "x"}
    )
    body = client.get("/healthz").json()
    assert body["status"] == "degraded" and body["search"]["status"] == "down"


def test_healthz_is_degraded_when_changes_wait_too_long_to_be_indexed(client, db, make_user):
    """A dead indexer process leaves the backend "ok" but search stale: health says so."""
    from datetime import timedelta

    from kb.clock import travel, utcnow
    from kb.content.schemas import ArticleCreate
    from kb.content.service import create_article

    author = make_user("author")
    with travel(utcnow() - timedelta(minutes=2)):  # nobody drained the outbox since
        create_article(session=db, actor=author, data=ArticleCreate(title="Stale", body="Body.", tags=[]))
    db.commit()
    body = client.get("/healthz").json()
    assert body["status"] == "degraded" and body["search"]["status"] == "ok"
    assert body["search"]["pending"] >= 1 and body["search"]["lagging"] >= 1


def test_openapi_and_docs(client):
    spec = client.get("/api/v1/openapi.json")
    assert spec.status_code == 200
    paths = spec.json()["paths"]
    assert "/api/v1/me" in paths and "/api/v1/users" in paths
    assert "/login" not in paths  # HTML pages are not part of the API
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200 and "redoc.standalone.js" in docs.text
    assert client.get("/static/vendor/redoc.standalone.js").status_code == 200


def test_unknown_page_is_a_friendly_html_404(client, make_user):
    response = client.get("/no/such/page", headers={"accept": "text/html"})
    assert response.status_code == 404
    assert "There is nothing at this address" in response.text
    assert "<html" in response.text


def test_unknown_api_path_is_json_404(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    assert "detail" in response.json()


def test_malformed_json_is_a_422_not_a_500(client, make_user, bearer):
    headers = {**bearer(make_user("admin")), "content-type": "application/json"}
    response = client.post("/api/v1/users", content=b"{not json", headers=headers)
    assert response.status_code == 422
    assert response.json()["detail"]


def test_static_assets_are_vendored(client):
    assert client.get("/static/vendor/htmx.min.js").status_code == 200
    assert client.get("/static/kb.css").status_code == 200


def test_a_failed_commit_is_never_reported_as_success(app, client, make_user):
    """The unit of work commits before the response leaves, so a failing commit becomes an error."""
    user = make_user()
    original = app.state.sessionmaker

    def failing_sessionmaker(**kwargs):
        session = original(**kwargs)

        def commit():
            raise RuntimeError("database went away during commit")

        session.commit = commit
        return session

    with TestClient(app, raise_server_exceptions=False) as browser:
        token = csrf_from(browser.get("/login").text)
        app.state.sessionmaker = failing_sessionmaker
        response = browser.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token},
                                follow_redirects=False)
    assert response.status_code == 500
    assert "kb_session" not in response.headers.get("set-cookie", "")


def test_navigation_fits_the_role_and_marks_the_current_page(client, make_user):
    author = make_user("author")
    login(client, author.email)
    html = client.get("/articles/new").text
    assert '<a href="/articles/new" aria-current="page">Write</a>' in html
    assert '<a href="/articles">Articles</a>' in html
    assert "/admin/users" not in html


def test_serve_runs_the_periodic_jobs(engine, db, settings, make_user):
    """kb serve's background task runs expiry and mail on a timer (here every second)."""
    import time

    from kb.content.schemas import ArticleCreate
    from kb.content.service import create_article
    from web.app import create_app
    from workflow.models import Action, Certification
    from workflow.policy import designate_expert
    from workflow.service import transition

    author, expert = make_user("author"), make_user("expert")
    entry = create_article(session=db, actor=author, data=ArticleCreate(title="T", body="B", tags=["billing"]))
    designate_expert(session=db, actor=SYSTEM, topic="billing", user=expert)
    for who, action in ((author, Action.submit), (expert, Action.approve), (expert, Action.certify)):
        transition(session=db, actor=who, revision_id=entry.latest_revision_id, action=action)
    cert = db.get(Certification, entry.id)
    cert.valid_until = cert.certified_at  # already expired
    db.commit()
    app = create_app(settings=settings.model_copy(update={"periodic_seconds": 1}), engine=engine)
    with TestClient(app):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            db.expire_all()
            db.commit()
            if db.get(Certification, entry.id).status == "needs_reverification":
                break
            time.sleep(0.2)
    assert db.get(Certification, entry.id).status == "needs_reverification"


def test_home_shows_certified_articles_and_unanswered_questions(client, db, make_user):
    from kb.content.forum import ask_question
    from kb.content.schemas import ArticleCreate, QuestionCreate
    from kb.content.service import create_article
    from workflow.models import Action
    from workflow.policy import designate_expert
    from workflow.service import transition

    author, expert, agent = make_user("author"), make_user("expert"), make_user("agent")
    certified = create_article(session=db, actor=author, data=ArticleCreate(title="Certified one", body="B",
                                                                            tags=["billing"]))
    create_article(session=db, actor=author, data=ArticleCreate(title="Private draft", body="B", tags=["billing"]))
    designate_expert(session=db, actor=SYSTEM, topic="billing", user=expert)
    for who, action in ((author, Action.submit), (expert, Action.approve), (expert, Action.certify)):
        transition(session=db, actor=who, revision_id=certified.latest_revision_id, action=action)
    ask_question(session=db, actor=agent, data=QuestionCreate(title="Anyone knows?", body="Help"))
    db.commit()
    login(client, agent.email)
    page = client.get("/").text
    assert "Certified one" in page and "Anyone knows?" in page and "Private draft" not in page
    assert "<title>Home · kb</title>" in page

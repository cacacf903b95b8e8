"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager, suppress
from datetime import timedelta
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from sqlalchemy import text
from sqlalchemy.engine import Engine

from kb.db import get_engine, session_factory, writer
from kb.schema import load_all_models
from kb.settings import Settings, get_settings
from search import outbox
from search.factory import backend_for
from search.health import search_health
from web import errors
from web.api import accounts as api_accounts
from web.api import content as api_content
from web.api import search as api_search
from web.api import workflow as api_workflow
from web.api import attachments as api_attachments
from web.api import workflow_entries as api_workflow_entries
from web.api import experts as api_experts
from web.api import ratings as api_ratings
from web.csrf import CSRFMiddleware
from kb.content import forum as forum_service
from kb.content import service as content
from web.deps import PageUser, SessionDep
from web.routes.content_pages import entry_view
from web.headers import DOCS_PATH, SecurityHeadersMiddleware
from web.limits import BodyLimitMiddleware
from web.routes import flags, inbox
from web.routes import people as people_pages
from web.routes import knowledge_health
from web.routes import admin_routing, experts
from web.routes import ratings as rating_pages
from web.routes import admin, admin_workflow, articles, attachments, auth, editor, forum, profile, review, search_page
from web.routes import admin_search
from web.templating import render
from workflow import periodic
from expertise import reactions as expertise_reactions
from expertise import periodic as expertise_periodic

STATIC_DIR = Path(__file__).parent / "static"
API_PREFIX = "/api/v1"
INDEXER_SECONDS = 0.5  # how often kb serve drains the search outbox
HEALTH_LAG = timedelta(seconds=30)  # /healthz is "degraded" when changes wait longer to be indexed


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    settings = settings or get_settings()
    load_all_models()
    # Reactions to domain events (search outbox, flags closed on certification): registered with
    # the app, not its lifespan, so they hold however the app is served.
    periodic.register()
    outbox.register()
    expertise_reactions.register()
    app = FastAPI(
        lifespan=_lifespan,
        title="kb API",
        version="1",
        description="Knowledge base for customer service: articles, forum, certification workflow and search.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine or get_engine(settings.sqlalchemy_url)
    app.state.write_engine = writer(app.state.engine)
    app.state.sessionmaker = session_factory(app.state.engine)

    app.add_middleware(
        CSRFMiddleware,
        secret_key=settings.secret_key,
        secure=settings.cookies_secure,
        max_body=(settings.max_upload_mb + 1) * 1024 * 1024,
    )
    app.add_middleware(BodyLimitMiddleware)  # outside CSRF, which reads form bodies
    app.add_middleware(SecurityHeadersMiddleware, hsts=settings.cookies_secure)
    errors.install(app)

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for router in (
        auth.router,
        profile.router,
        search_page.router,
        admin.router,
        admin_workflow.router,
        admin_search.router,
        editor.router,
        articles.router,
        forum.router,
        attachments.router,
        review.router,
        inbox.router,
        flags.router,
        people_pages.router,
        knowledge_health.router,
        experts.router,
        admin_routing.router,
        rating_pages.router,
    ):
        app.include_router(router)
    app.include_router(_pages())

    api = APIRouter(prefix=API_PREFIX, responses=errors.API_ERROR_RESPONSES)
    api.include_router(api_accounts.router)
    api.include_router(api_content.router)
    api.include_router(api_workflow.router)
    api.include_router(api_attachments.router)
    api.include_router(api_workflow_entries.router)
    api.include_router(api_search.router)
    api.include_router(api_experts.router)
    api.include_router(api_ratings.router)
    app.include_router(api)
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI):
    """Start the periodic jobs (expiry, reminders, email) and the search indexer unless the
    settings turn them off."""
    tasks = []
    seconds = app.state.settings.periodic_seconds
    if seconds > 0:
        tasks.append(asyncio.create_task(_every(seconds, app)))
        tasks.append(asyncio.create_task(_index_every(INDEXER_SECONDS, app)))
    yield
    for task in tasks:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


async def _every(seconds: int, app: FastAPI) -> None:
    while True:
        try:
            await run_in_threadpool(periodic.run_once, app.state.engine, app.state.settings)
        except Exception:  # a failing job must not stop the next run
            logging.getLogger("kb.periodic").exception("periodic jobs failed")
        try:  # on its own: a failing escalation must not stop expiry and email, nor the reverse
            await run_in_threadpool(expertise_periodic.run_once, app.state.engine, app.state.settings)
        except Exception:
            logging.getLogger("kb.periodic").exception("expertise periodic jobs failed")
        await asyncio.sleep(seconds)


async def _index_every(seconds: float, app: FastAPI) -> None:
    """Drain the search outbox, right after this process commits outbox rows and at least every
    ``seconds``. The embedded index has one writing process per directory: only the process
    holding the indexer lock drains (the others keep trying to take it over)."""
    settings = app.state.settings
    lock = outbox.drain_lock(settings.data_dir) if settings.search_backend == "embedded" else None
    logger = logging.getLogger("kb.search.indexer")
    try:
        while True:
            try:
                if lock is None or lock.acquire():
                    report = await run_in_threadpool(outbox.drain, engine=app.state.engine,
                                                     backend=backend_for(settings), embed=settings.semantic)
                    if report.embedded:  # more vectors to compute: go on after this round's changes
                        continue
            except Exception:  # the database is unreachable, ...: try again on the next round
                logger.exception("search indexer failed")
            # Woken at once by this process's commits; other processes' rows within ``seconds``.
            await asyncio.to_thread(outbox.wait_for_changes, seconds)
    finally:
        if lock is not None:
            lock.release()


def _pages() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/")
    def home(request: Request, session: SessionDep, user: PageUser):
        roles = sorted(user.roles, key=lambda r: r.value)
        certified = [e for e in content.list_articles(session=session, actor=user, limit=50)
                     if e.certified_revision_id][:8]
        unanswered = forum_service.list_questions(session=session, status="unanswered", order="newest", limit=5)
        context = {
            "roles": roles, "role_names": {r.value for r in roles},
            "certified": [entry_view(session, user, e) for e in certified],
            "unanswered": [entry_view(session, user, q) for q in unanswered.questions],
        }
        return render(request, "home.html", context)

    @router.get("/healthz")
    def healthz(request: Request):
        database, pending, lagging = "ok", None, 0
        try:
            with request.app.state.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            with request.app.state.sessionmaker() as session:
                pending = outbox.pending_count(session)
                lagging = outbox.lagging_count(session, older_than=HEALTH_LAG,
                                               semantic=request.app.state.settings.semantic)
        except Exception as exc:  # report, don't raise: this is what a load balancer polls
            database = f"down ({type(exc).__name__})"
        # Changes not yet in the search index: search is catching up (or its backend is down).
        # Changes waiting longer than HEALTH_LAG mean no indexer is keeping up (or none runs).
        search = {**search_health(request.app.state.settings), "pending": pending, "lagging": lagging}
        status = "ok" if database == "ok" and search["status"] == "ok" and not lagging else "degraded"
        if database != "ok":
            status = "down"
        return JSONResponse(
            {"status": status, "database": database, "search": search},
            status_code=503 if status == "down" else 200,
        )

    @router.get(DOCS_PATH)
    def api_docs():
        return HTMLResponse(
            "<!doctype html><html><head><meta charset=utf-8><title>kb API</title>"
            "<link rel=icon href=/static/favicon.svg></head><body>"
            f"<redoc spec-url='{API_PREFIX}/openapi.json'></redoc>"
            "<script src='/static/vendor/redoc.standalone.js'></script></body></html>"
        )

    return router

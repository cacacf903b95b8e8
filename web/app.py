"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
import logging
import threading
from contextlib import asynccontextmanager, suppress
from functools import cache, partial
from datetime import timedelta
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.routing import BaseRoute
from sqlalchemy import text
from sqlalchemy.engine import Engine
from threadpoolctl import threadpool_limits

from kb.db import get_engine, session_factory, unit_of_work, writer
from kb.events import require_bootstrap
from kb.jobs import run_periodic
from kb.settings import Settings, get_settings
from search import outbox
from search.factory import backend_for
from search.health import search_health
from search.querylog_writer import QueryLogWriter
from web import errors
from web.api import accounts as api_accounts
from web.api import content as api_content
from web.api import search as api_search
from web.api import workflow as api_workflow
from web.api import attachments as api_attachments
from web.api import experts as api_experts
from web.api import ratings as api_ratings
from web import oidc
from web.csrf import CSRFMiddleware
from web.deps import PageUser, SessionDep
from web.headers import DOCS_PATH, SecurityHeadersMiddleware
from web.limits import BodyLimitMiddleware
from web.routes import flags, inbox
from web.routes import people as people_pages
from web.routes import knowledge_health
from web.routes import admin_routing, experts
from web.routes import ratings as rating_pages
from web.routes import admin, admin_workflow, articles, attachments, auth, editor, forum, profile, review, sso
from web.routes import password as password_pages
from web.routes import search as search_pages
from web.routes import admin_groups, admin_search, admin_webhooks, audience
from web.routes import panel as panel_pages
from web.templating import render, templates
from workflow import webhook_sender, webhooks
from workflow.sheets import front_page

STATIC_DIR = Path(__file__).parent / "static"
API_PREFIX = "/api/v1"
INDEXER_SECONDS = 0.5  # how often kb serve drains the search outbox
WEBHOOK_SECONDS = 2.0  # how often kb serve looks for webhook deliveries other processes wrote, and retries
HEALTH_LAG = timedelta(seconds=30)  # /healthz is "degraded" when changes wait longer to be indexed


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    # The reactions to domain events (search outbox, flags closed on certification, expertise) and
    # the periodic jobs are wired by cli.bootstrap.bootstrap(), which web cannot import: refuse to
    # build an app whose writes would silently skip them.
    require_bootstrap("The web app")
    settings = settings or get_settings()
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
    # In production templates do not change while serving: no file check on every page.
    templates.env.auto_reload = not settings.is_production
    app.state.engine = engine or get_engine(settings.sqlalchemy_url)
    app.state.write_engine = writer(app.state.engine)
    app.state.sessionmaker = session_factory(app.state.engine)
    app.state.query_log = QueryLogWriter(partial(unit_of_work, app.state.engine), settings.query_log_seconds)

    app.add_middleware(
        CSRFMiddleware,
        secret_key=settings.secret_key,
        secure=settings.cookies_secure,
        max_body=(settings.max_upload_mb + 1) * 1024 * 1024,
        embedded_panel=bool(settings.panel_origin_list),
    )
    app.add_middleware(BodyLimitMiddleware)  # outside CSRF, which reads form bodies
    app.add_middleware(SecurityHeadersMiddleware, hsts=settings.cookies_secure,
                       panel_origins=settings.panel_origin_list)
    oidc.install(app, settings)  # single sign-on's client and state cookie, when it is set up
    errors.install(app)

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.router.routes.extend(_routes())
    return app


@cache
def _routes() -> tuple[BaseRoute, ...]:
    """Every page and API route, built once per process. FastAPI analyses each endpoint's signature
    when its router is included (about a quarter of a second for kb's routes); the routes hold no
    state of an app (endpoints read ``request.app.state``), so every app of the process shares them."""
    router = APIRouter()
    for page_router in (
        auth.router,
        sso.router,
        password_pages.router,
        profile.router,
        search_pages.router,
        admin.router,
        admin_workflow.router,
        admin_search.router,
        admin_webhooks.router,
        admin_groups.router,
        audience.router,
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
        panel_pages.router,
    ):
        router.include_router(page_router)
    router.include_router(_pages())

    api = APIRouter(prefix=API_PREFIX, responses=errors.API_ERROR_RESPONSES)
    api.include_router(api_accounts.router)
    api.include_router(api_content.router)
    api.include_router(api_workflow.router)
    api.include_router(api_attachments.router)
    api.include_router(api_search.router)
    api.include_router(api_experts.router)
    api.include_router(api_ratings.router)
    router.include_router(api)
    return tuple(router.routes)


@asynccontextmanager
async def _lifespan(app: FastAPI):
    """Start the periodic jobs (``kb.jobs``: expiry, reminders, email, escalation, ...), the
    search indexer and the webhook sender unless the settings turn them off."""
    tasks = []
    settings = app.state.settings
    warm = getattr(backend_for(settings), "warm", None)
    if settings.semantic and warm is not None:  # hybrid search's vectors and model, off the first searches
        # One search is one thread: OpenBLAS's own threads for the vector scan (a matrix-vector
        # product) only compete with the other requests' and spin while they wait (8 concurrent
        # hybrid searches over 100,000 vectors: about 20 % more per second with one BLAS thread).
        threadpool_limits(limits=1, user_api="blas")
        threading.Thread(target=warm, name="kb-search-warm-up", daemon=True).start()
    seconds = settings.periodic_seconds
    if seconds > 0:
        tasks.append(asyncio.create_task(_every(seconds, app)))
        tasks.append(asyncio.create_task(_index_every(INDEXER_SECONDS, app)))
        tasks.append(asyncio.create_task(_send_webhooks_every(WEBHOOK_SECONDS, app)))
    yield
    for task in tasks:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
    await run_in_threadpool(app.state.query_log.close)  # what is still in memory is written now


async def _every(seconds: int, app: FastAPI) -> None:
    while True:
        try:  # run_periodic isolates each job; this guards the loop itself
            await run_in_threadpool(run_periodic, app.state.engine, app.state.settings)
        except Exception:  # a failing run must not stop the next one
            logging.getLogger("kb.periodic").exception("periodic jobs failed")
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


async def _send_webhooks_every(seconds: float, app: FastAPI) -> None:
    """Send webhook deliveries right after this process commits some, and at least every ``seconds``
    (other processes' deliveries, retries coming due). Requests never wait for it: it runs in a
    worker thread, and several processes may run it at once (``workflow.webhook_sender``)."""
    logger = logging.getLogger("kb.webhooks")
    while True:
        try:
            report = await run_in_threadpool(webhook_sender.deliver, engine=app.state.engine,
                                             settings=app.state.settings)
            if report.more:  # a backlog (a receiver back after an outage): go on at once
                continue
        except Exception:  # the database is unreachable, ...: try again on the next round
            logger.exception("webhook sender failed")
        await asyncio.to_thread(webhooks.wait_for_changes, seconds)


def _pages() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/")
    def home(request: Request, session: SessionDep, user: PageUser):
        roles = sorted(user.roles, key=lambda r: r.value)
        front = front_page(session=session, actor=user)
        context = {
            "roles": roles, "role_names": {r.value for r in roles},
            "certified": front.certified,
            "unanswered": front.unanswered,
        }
        return render(request, "home.html", context)

    @router.get("/healthz")
    def healthz(request: Request):
        database, pending, lagging = "ok", None, 0
        try:
            with request.app.state.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            with request.app.state.sessionmaker() as session:
                pending = outbox.pending_count(session=session)
                lagging = outbox.lagging_count(session=session, older_than=HEALTH_LAG,
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

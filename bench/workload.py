"""What the load generator does against a running ``kb serve``: sign in, prepare data through the
API (votes, reuse, revisions in review, approved revisions to certify), the measured endpoints,
and certify -> searchable."""

from __future__ import annotations

import asyncio
import itertools
import random
import re
import string
import time
from dataclasses import dataclass, field

from bench.corpus import ADMIN, AGENTS, AUTHORS, PASSWORD, Query, topics
from bench.load import Connection, HTTPError, drive, forever

CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')
API = "/api/v1"


@dataclass
class Client:
    """Who sends what: API tokens and signed-in browser sessions."""

    host: str
    port: int
    tokens: dict[str, str]
    sessions: dict[str, tuple[str, str]] = field(default_factory=dict)  # email -> (cookie header, csrf)

    def bearer(self, email: str) -> dict:
        return {"Authorization": f"Bearer {self.tokens[email]}"}

    def browser(self, email: str) -> dict:
        return {"Cookie": self.sessions[email][0]}


async def sign_in(client: Client, email: str) -> None:
    """Sign in through the login form, as a browser does; keeps the cookies and a form token."""
    conn = Connection(client.host, client.port)
    try:
        page = await conn.request("GET", "/login")
        cookies = dict(page.cookies)
        jar = lambda: "; ".join(f"{k}={v}" for k, v in cookies.items())  # noqa: E731
        done = await conn.request("POST", "/login", headers={"Cookie": jar()},
                                  form={"email": email, "password": PASSWORD,
                                        "csrf_token": CSRF.search(page.text).group(1)})
        if done.status not in (302, 303) or "kb_session" not in done.cookies:
            raise HTTPError(f"signing in as {email} failed ({done.status})")
        cookies.update(done.cookies)
        editor = await conn.request("GET", "/articles/new", headers={"Cookie": jar()})
        client.sessions[email] = (jar(), CSRF.search(editor.text).group(1))
    finally:
        await conn.close()


def _unique_word(rng: random.Random) -> str:
    return "zq" + "".join(rng.choice(string.ascii_lowercase) for _ in range(10))


def _article(rng: random.Random, word: str = "") -> dict:
    tags = rng.sample(topics(), 2)
    return {"title": f"Benchmark procedure {word or _unique_word(rng)} for {tags[0]}",
            "body": f"Check the {tags[0]} record, then confirm with the customer. {word}\n\n1. Verify.\n2. Apply.\n",
            "tags": tags}


async def _expect(response, *statuses: int):
    if response.status not in statuses:
        raise HTTPError(f"{response.status}: {response.text[:300]}")
    return response


async def approved_revision(client: Client, conn: Connection, rng: random.Random, word: str = "") -> int:
    """A new article by an author, submitted and approved by the administrator: ready to certify."""
    author, admin = client.bearer(AUTHORS[0]), client.bearer(ADMIN)
    entry = (await _expect(await conn.request("POST", f"{API}/articles", headers=author,
                                              json_body=_article(rng, word)), 201)).json()
    revision = entry["latest_revision_id"]
    await _expect(await conn.request("POST", f"{API}/revisions/{revision}/submit", headers=author, json_body={}), 200)
    await _expect(await conn.request("POST", f"{API}/revisions/{revision}/approve", headers=admin, json_body={}), 200)
    return revision


async def prepare(client: Client, facts: dict, *, votes: int, reuses: int, reviews: int) -> dict:
    """Helpful votes and case reuse by agents, and revisions sent to review, through the API."""
    rng = random.Random(7)
    certified = facts["certified_articles"]
    pairs = iter(rng.sample([(a, e) for a in AGENTS for e in certified[:max(1, votes)]],
                            min(votes, len(AGENTS) * len(certified))))
    reuse_targets = iter([rng.choice(certified) for _ in range(reuses)])
    drafts = iter(facts["draft_revisions"][:reviews])
    started = time.perf_counter()

    def vote_jobs():
        for agent, entry in pairs:
            async def job(conn, _n, agent=agent, entry=entry):
                return (await conn.request("POST", f"{API}/entries/{entry}/votes", headers=client.bearer(agent),
                                           json_body={"value": 1 if rng.random() < 0.8 else -1})).status
            yield job

    def reuse_jobs():
        for n, entry in enumerate(reuse_targets):
            async def job(conn, _n, n=n, entry=entry):
                return (await conn.request("POST", f"{API}/entries/{entry}/reuse", headers=client.bearer(AGENTS[n % len(AGENTS)]),
                                           json_body={"case_ref": f"CASE-{n:06d}"})).status
            yield job

    def review_jobs():
        for revision in drafts:
            async def job(conn, _n, revision=revision):
                return (await conn.request("POST", f"{API}/revisions/{revision}/submit", headers=client.bearer(ADMIN),
                                           json_body={})).status
            yield job

    done = {}
    for name, jobs in (("votes", vote_jobs()), ("reuse", reuse_jobs()), ("in_review", review_jobs())):
        samples = await drive(client.host, client.port, jobs, duration=600)
        done[name] = {"ok": len(samples.latencies), "refused": samples.errors, "statuses": samples.summary()["statuses"]}
    done["seconds"] = round(time.perf_counter() - started, 1)
    return done


async def certify_pool(client: Client, size: int) -> list[int]:
    rng = random.Random(11)
    pool: list[int] = []

    def jobs():
        for _ in range(size):
            async def job(conn, _n):
                pool.append(await approved_revision(client, conn, rng))
                return 200
            yield job

    await drive(client.host, client.port, jobs(), duration=600)
    return pool


def endpoint_jobs(client: Client, facts: dict, query_set: list[Query], pool: list[int]) -> dict:
    """Per measured endpoint: its jobs (an endless stream, or the certify pool) and what it is."""
    rng = random.Random(3)
    queries = itertools.cycle(query_set)
    agent_pages = client.browser(AGENTS[0])
    entries = facts["certified_articles"]
    questions = facts["questions"]

    async def healthz(conn, _n):
        return (await conn.request("GET", "/healthz")).status

    async def search_api(conn, n):
        return (await conn.request("GET", f"{API}/search", params=next(queries).params(),
                                   headers=client.bearer(AGENTS[n % len(AGENTS)]))).status

    async def search_page(conn, _n):
        return (await conn.request("GET", "/search", params=next(queries).params(), headers=agent_pages)).status

    async def entry_page(conn, _n):
        path = f"/questions/{rng.choice(questions)}" if questions and rng.random() < 0.2 else \
            f"/articles/{rng.choice(entries)}"
        return (await conn.request("GET", path, headers=agent_pages)).status

    drafts: dict[int, dict] = {}
    cookie, csrf = client.sessions[AUTHORS[0]]

    async def save_draft(conn, n):
        state = drafts.setdefault(n, {"body": f"Draft {n} written during the benchmark.", "form": {}})
        state["body"] += f" {rng.choice(['refund', 'parcel', 'invoice', 'courier', 'voucher'])}"
        form = {"kind": "article", "title": f"Benchmark draft {n}", "body": state["body"], "tags": "billing",
                "csrf_token": csrf, **state["form"]}
        response = await conn.request("POST", "/drafts/autosave", headers={"Cookie": cookie}, form=form)
        if response.status == 200:
            saved = response.json()
            state["form"] = {"draft_id": saved["draft_id"], "draft_seen": saved["draft_seen"]}
        return response.status

    def certify_jobs():
        for revision in pool:
            async def job(conn, _n, revision=revision):
                return (await conn.request("POST", f"{API}/revisions/{revision}/certify", headers=client.bearer(ADMIN),
                                           json_body={})).status
            yield job

    return {
        "healthz": ("GET /healthz (baseline)", forever(healthz)),
        "search_api": ("GET /api/v1/search?q= (agent token)", forever(search_api)),
        "search_page": ("GET /search?q= (agent's page)", forever(search_page)),
        "entry_page": ("GET /articles/{id}, /questions/{id}", forever(entry_page)),
        "save_draft": ("POST /drafts/autosave (editor)", forever(save_draft)),
        "certify": ("POST /api/v1/revisions/{id}/certify", certify_jobs()),
    }


async def certify_to_searchable(client: Client, samples: int, *, timeout: float = 30.0) -> dict:
    """Certify a new article with a unique word, then search for the word as an agent until the
    certified article is found: the time from sending the certify request to that answer."""
    rng = random.Random(13)
    conn = Connection(client.host, client.port)
    agent, admin = client.bearer(AGENTS[1]), client.bearer(ADMIN)
    latencies, missed = [], 0
    try:
        for _ in range(samples):
            word = _unique_word(rng)
            revision = await approved_revision(client, conn, rng, word)
            await asyncio.sleep(0.3)  # the draft's own indexing is not what we measure
            started = time.perf_counter()
            await _expect(await conn.request("POST", f"{API}/revisions/{revision}/certify", headers=admin,
                                             json_body={}), 200)
            while True:
                found = await conn.request("GET", f"{API}/search", params={"q": word, "certified": "true"},
                                           headers=agent)
                if found.status == 200 and found.json()["total"] > 0:
                    latencies.append(time.perf_counter() - started)
                    break
                if time.perf_counter() - started > timeout:
                    missed += 1
                    break
                await asyncio.sleep(0.01)
    finally:
        await conn.close()
    ordered = sorted(latencies)
    pct = lambda p: ordered[max(0, -(-len(ordered) * p // 100) - 1)] * 1000 if ordered else None  # noqa: E731
    return {"samples": len(ordered), "missed": missed, "p50_ms": pct(50), "p95_ms": pct(95),
            "max_ms": ordered[-1] * 1000 if ordered else None}

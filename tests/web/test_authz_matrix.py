"""The authorisation matrix (issue 12): every route of the app x every kind of person, with the
expected status in one table; and the side channels through which a draft could leak.

A route without a row fails ``test_every_route_has_a_row``. Columns, in order: anonymous, agent,
author (wrote the content), other author, expert of the topic, expert of another topic, admin.
Requests are made in that order; mutating rows act on a target of their own per person
(``{role}`` in the path), so one person's success never hides the next one's refusal.

Reading the codes: 303 for an anonymous page request is the redirect to the sign-in page (checked);
401 is the API without a token; 404 means "does not exist, or you cannot see it" (existence is
never confirmed to those who may not open a thing); 403 means they may see it but not do it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from starlette.routing import Mount

from kb.accounts import service as accounts
from kb.accounts.models import User
from kb.accounts.schemas import TokenCreate
from kb.content import access
from kb.content import service as content
from kb.content.sheets import entry_sheets
from kb.content.models import Entry, Revision
from kb.db import session_factory
from kb.settings import Settings
from search.factory import backend_for, reset_backends
from search.outbox import drain
from sqlmodel import select
from tests.conftest import _empty_all_tables
from tests.helpers import TEST_SECRET, csrf_from, login
from tests.search.conftest import meili_server  # noqa: F401 - the fixture, for the Meilisearch run
from tests.web import authz_world as w

ROLES = w.ROLES


@dataclass(frozen=True)
class Call:
    method: str
    path: str  # "{name}" is a world id; "{role}" becomes the column's role first
    form: dict = field(default_factory=dict)
    json: dict | None = None


def get(path):
    return Call("GET", path)


def post(path, form=None, json=None):
    return Call("POST", path, form or {}, json)


def patch(path, json):
    return Call("PATCH", path, json=json)


def delete(path):
    return Call("DELETE", path)


L = 303  # anonymous page request: sent to sign in
U = 401  # anonymous API request
# fmt: off
MATRIX: list[tuple[str, Call, tuple[int, ...]]] = [
    # route                                              request                                                               anon agent author other expert o.exp admin
    # --- open to everyone --------------------------------------------------------------------------------------------------------------
    ("GET /login",                                       get("/login"),                                                        (200, 303, 303, 303, 303, 303, 303)),
    ("GET /healthz",                                     get("/healthz"),                                                      (200, 200, 200, 200, 200, 200, 200)),
    ("GET /auth/oidc/login",                             get("/auth/oidc/login"),                                              (404, 404, 404, 404, 404, 404, 404)),
    ("GET /auth/oidc/callback",                          get("/auth/oidc/callback?code=x&state=y"),                            (404, 404, 404, 404, 404, 404, 404)),
    ("GET /password/forgot",                             get("/password/forgot"),                                              (200, 200, 200, 200, 200, 200, 200)),
    ("GET /password/set",                                get("/password/set?token=kbp_not-a-link"),                            (410, 410, 410, 410, 410, 410, 410)),
    ("GET /api/v1/openapi.json",                         get("/api/v1/openapi.json"),                                          (200, 200, 200, 200, 200, 200, 200)),
    ("GET /api/v1/docs",                                 get("/api/v1/docs"),                                                  (200, 200, 200, 200, 200, 200, 200)),
    # the helpdesk side panel: signed out, its own sign-in form (never an answer)
    ("GET /panel",                                       get("/panel?subject=refund&text=cancelled+order&ticket=ZD-1"),        (200, 200, 200, 200, 200, 200, 200)),
    # --- pages for every signed-in person -----------------------------------------------------------------------------------------------
    ("GET /",                                            get("/"),                                                             (L, 200, 200, 200, 200, 200, 200)),
    ("GET /search",                                      get("/search?q=refund&drafts=1"),                                     (L, 200, 200, 200, 200, 200, 200)),
    ("GET /search/click",                                get("/search/click?entry={certified}&rank=1"),                        (L, 303, 303, 303, 303, 303, 303)),
    ("GET /profile",                                     get("/profile"),                                                      (L, 200, 200, 200, 200, 200, 200)),
    ("GET /articles",                                    get("/articles"),                                                     (L, 200, 200, 200, 200, 200, 200)),
    ("GET /questions",                                   get("/questions"),                                                    (L, 200, 200, 200, 200, 200, 200)),
    ("GET /questions/ask",                               get("/questions/ask"),                                                (L, 200, 200, 200, 200, 200, 200)),
    ("GET /questions/similar",                           get("/questions/similar?title=refund+window"),                        (L, 200, 200, 200, 200, 200, 200)),
    ("GET /questions/{question_id}",                     get("/questions/{question}"),                                         (L, 200, 200, 200, 200, 200, 200)),
    ("GET /inbox",                                       get("/inbox"),                                                        (L, 200, 200, 200, 200, 200, 200)),
    ("GET /people/me",                                   get("/people/me"),                                                    (L, 303, 303, 303, 303, 303, 303)),
    ("GET /people/{user_id}",                            get("/people/{author_id}"),                                           (L, 200, 200, 200, 200, 200, 200)),
    ("GET /experts",                                     get("/experts?q=refund"),                                             (L, 200, 200, 200, 200, 200, 200)),
    ("GET /tags/suggest",                                get("/tags/suggest?tags=ref"),                                        (L, 200, 200, 200, 200, 200, 200)),
    ("GET /knowledge-health",                            get("/knowledge-health"),                                             (L, 403, 403, 403, 200, 200, 200)),
    ("GET /knowledge-health/{table}.csv",                get("/knowledge-health/failed-searches.csv"),                         (L, 403, 403, 403, 200, 200, 200)),
    # --- a certified article ------------------------------------------------------------------------------------------------------------
    ("GET /articles/{entry_id}",                         get("/articles/{certified}"),                                         (L, 200, 200, 200, 200, 200, 200)),
    ("GET /entries/{entry_id}",                          get("/entries/{certified}"),                                          (L, 303, 303, 303, 303, 303, 303)),
    ("GET /entries/{entry_id}/history",                  get("/entries/{certified}/history"),                                  (L, 200, 200, 200, 200, 200, 200)),
    ("GET /entries/{entry_id}/audit",                    get("/entries/{certified}/audit"),                                    (L, 200, 200, 200, 200, 200, 200)),
    ("GET /entries/{entry_id}/plain",                    get("/entries/{certified}/plain"),                                    (L, 200, 200, 200, 200, 200, 200)),
    ("GET /revisions/{revision_id}",                     get("/revisions/{certified_rev}"),                                    (L, 200, 200, 200, 200, 200, 200)),
    ("GET /revisions/{revision_id}",                     get("/revisions/{draft_rev}"),                                        (L, 404, 200, 404, 404, 404, 200)),
    ("GET /entries/{entry_id}/diff",                     get("/entries/{certified}/diff?old={certified_rev}&new={draft_rev}"), (L, 404, 200, 404, 404, 404, 200)),
    ("GET /entries/{entry_id}/edit",                     get("/entries/{certified}/edit"),                                     (L, 403, 200, 200, 200, 200, 200)),
    ("GET /articles/{entry_id}",                         get("/articles/{private}"),                                           (L, 404, 200, 404, 404, 404, 200)),
    ("GET /entries/{entry_id}/edit",                     get("/entries/{private}/edit"),                                       (L, 404, 200, 404, 404, 404, 200)),
    ("GET /articles/{entry_id}",                         get("/articles/{in_review}"),                                         (L, 404, 200, 404, 200, 200, 200)),
    ("GET /articles/{entry_id}",                         get("/articles/{rejected}"),                                          (L, 404, 200, 404, 404, 404, 200)),
    ("GET /attachments/{attachment_id}",                 get("/attachments/{public_file}"),                                    (L, 200, 200, 200, 200, 200, 200)),
    ("GET /attachments/{attachment_id}/{filename}",      get("/attachments/{draft_file}/draft.png"),                           (L, 404, 200, 404, 404, 404, 200)),
    ("GET /attachments/{attachment_id}/{filename}",      get("/attachments/{review_file}/review.png"),                         (L, 404, 200, 404, 200, 200, 200)),
    # --- review -------------------------------------------------------------------------------------------------------------------------
    ("GET /review",                                      get("/review"),                                                       (L, 403, 403, 403, 200, 200, 200)),
    ("GET /review/{revision_id}",                        get("/review/{review_rev}"),                                          (L, 404, 200, 404, 200, 200, 200)),
    ("GET /review/{revision_id}",                        get("/review/{parent_rev}"),                                          (L, 404, 200, 404, 404, 404, 200)),
    ("POST /review/{revision_id}/assign",                post("/review/{assignable_rev_{role}}/assign", {"reviewer_id": "{spare_id}"}), (L, 404, 303, 404, 303, 303, 303)),
    # --- the admin pages ----------------------------------------------------------------------------------------------------------------
    ("GET /admin",                                       get("/admin"),                                                        (L, 403, 403, 403, 403, 403, 200)),
    ("GET /admin/users",                                 get("/admin/users"),                                                  (L, 403, 403, 403, 403, 403, 200)),
    ("GET /admin/users/{user_id}",                       get("/admin/users/{agent_id}"),                                       (L, 403, 403, 403, 403, 403, 200)),
    ("GET /admin/topics",                                get("/admin/topics"),                                                 (L, 403, 403, 403, 403, 403, 200)),
    ("GET /admin/audit",                                 get("/admin/audit"),                                                  (L, 403, 403, 403, 403, 403, 200)),
    ("GET /admin/audit.csv",                             get("/admin/audit.csv?start=2000-01-01&end=2100-01-01"),              (L, 403, 403, 403, 403, 403, 200)),
    ("GET /admin/synonyms",                              get("/admin/synonyms"),                                               (L, 403, 403, 403, 403, 403, 200)),
    ("GET /admin/routing",                               get("/admin/routing"),                                                (L, 403, 403, 403, 403, 403, 200)),
    ("GET /admin/groups",                                get("/admin/groups"),                                                 (L, 403, 403, 403, 403, 403, 200)),
    ("POST /admin/groups",                               post("/admin/groups", {"name": "{role} group"}),                      (L, 403, 403, 403, 403, 403, 303)),
    ("GET /admin/groups/{group_id}",                     get("/admin/groups/{spare_group}"),                                   (L, 403, 403, 403, 403, 403, 200)),
    ("POST /admin/groups/{group_id}",                    post("/admin/groups/{spare_group}", {"name": "Spare group", "description": "Spare"}), (L, 403, 403, 403, 403, 403, 303)),
    ("POST /admin/groups/{group_id}/members",            post("/admin/groups/{spare_group}/members", {"email": "agent@matrix.example.com"}), (L, 403, 403, 403, 403, 403, 303)),
    ("POST /admin/groups/{group_id}/members/{user_id}/remove", post("/admin/groups/{spare_group}/members/{spare_id}/remove"), (L, 403, 403, 403, 403, 403, 303)),
    ("GET /admin/groups/{group_id}/delete",              get("/admin/groups/{deletable_group}/delete"),                        (L, 403, 403, 403, 403, 403, 200)),
    ("POST /admin/groups/{group_id}/delete",             post("/admin/groups/{deletable_group}/delete"),                       (L, 403, 403, 403, 403, 403, 303)),
    ("POST /entries/{entry_id}/audience",                post("/entries/{audience_{role}}/audience", {"groups": "{spare_group}"}), (L, 404, 303, 404, 404, 404, 303)),
    ("PUT /api/v1/entries/{entry_id}/audience",          Call("PUT", "/api/v1/entries/{audience_api_{role}}/audience", json={"groups": ["spare GROUP"]}), (U, 404, 200, 404, 404, 404, 200)),
    ("GET /api/v1/groups",                               get("/api/v1/groups"),                                                (U, 403, 200, 200, 200, 200, 200)),
    ("POST /api/v1/groups",                              post("/api/v1/groups", json={"name": "API group"}),                   (U, 403, 403, 403, 403, 403, 201)),
    ("GET /admin/webhooks",                              get("/admin/webhooks"),                                               (L, 403, 403, 403, 403, 403, 200)),
    ("GET /admin/webhooks/{webhook_id}",                 get("/admin/webhooks/{webhook}"),                                     (L, 403, 403, 403, 403, 403, 200)),
    # --- the JSON API: reading ----------------------------------------------------------------------------------------------------------
    ("GET /api/v1/me",                                   get("/api/v1/me"),                                                    (U, 200, 200, 200, 200, 200, 200)),
    ("GET /api/v1/users",                                get("/api/v1/users"),                                                 (U, 403, 403, 403, 403, 403, 200)),
    ("GET /api/v1/tokens",                               get("/api/v1/tokens"),                                                (U, 200, 200, 200, 200, 200, 200)),
    ("GET /api/v1/entries/{entry_id}",                   get("/api/v1/entries/{certified}"),                                   (U, 200, 200, 200, 200, 200, 200)),
    ("GET /api/v1/entries/{entry_id}",                   get("/api/v1/entries/{private}"),                                     (U, 404, 200, 404, 404, 404, 200)),
    ("GET /api/v1/entries/{entry_id}/revisions",         get("/api/v1/entries/{certified}/revisions"),                         (U, 200, 200, 200, 200, 200, 200)),
    ("GET /api/v1/revisions/{revision_id}",              get("/api/v1/revisions/{draft_rev}"),                                 (U, 404, 200, 404, 404, 404, 200)),
    ("GET /api/v1/revisions/{revision_id}",              get("/api/v1/revisions/{review_rev}"),                                (U, 404, 200, 404, 200, 200, 200)),
    ("GET /api/v1/revisions/{revision_id}/diff",         get("/api/v1/revisions/{draft_rev}/diff?against={certified_rev}"),    (U, 404, 200, 404, 404, 404, 200)),
    ("GET /api/v1/revisions/{revision_id}/diff",         get("/api/v1/revisions/{review_rev}/diff?against={parent_rev}"),      (U, 404, 200, 404, 404, 404, 200)),
    ("GET /api/v1/revisions/{revision_id}/actions",      get("/api/v1/revisions/{review_rev}/actions"),                        (U, 404, 200, 404, 200, 200, 200)),
    ("GET /api/v1/questions",                            get("/api/v1/questions"),                                             (U, 200, 200, 200, 200, 200, 200)),
    ("GET /api/v1/questions/{question_id}/answers",      get("/api/v1/questions/{question}/answers"),                          (U, 200, 200, 200, 200, 200, 200)),
    ("GET /api/v1/entries/{entry_id}/flags",             get("/api/v1/entries/{dismissable_agent}/flags"),                     (U, 200, 200, 200, 200, 200, 200)),
    ("GET /api/v1/search",                               get("/api/v1/search?q=refund&include_drafts=true"),                   (U, 200, 200, 200, 200, 200, 200)),
    ("GET /api/v1/experts",                              get("/api/v1/experts?q=refund"),                                      (U, 200, 200, 200, 200, 200, 200)),
    # --- writing content ----------------------------------------------------------------------------------------------------------------
    ("GET /articles/new",                                get("/articles/new"),                                                 (L, 403, 200, 200, 200, 200, 200)),
    ("POST /articles",                                   post("/articles", {"title": "New", "body": "Text.", "tags": "refunds"}), (L, 403, 303, 303, 303, 303, 303)),
    ("POST /api/v1/articles",                            post("/api/v1/articles", json={"title": "New", "body": "Text.", "tags": ["refunds"]}), (U, 403, 201, 201, 201, 201, 201)),
    ("POST /entries/{entry_id}/revisions",               post("/entries/{revisable_{role}}/revisions", {"title": "T", "body": "B", "tags": "refunds"}), (L, 403, 303, 303, 303, 303, 303)),
    ("POST /entries/{entry_id}/revisions",               post("/entries/{private}/revisions", {"title": "T", "body": "B", "tags": "refunds"}), (L, 404, 303, 404, 404, 404, 303)),
    ("POST /api/v1/entries/{entry_id}/revisions",        post("/api/v1/entries/{revisable_api_{role}}/revisions", json={"title": "T", "body": "B", "tags": []}), (U, 403, 201, 201, 201, 201, 201)),
    ("POST /preview",                                    post("/preview", {"body": "**hi**"}),                                 (L, 200, 200, 200, 200, 200, 200)),
    ("POST /entries/{entry_id}/edit/compare",            post("/entries/{certified}/edit/compare", {"body": "x"}),             (L, 403, 200, 200, 200, 200, 200)),
    ("POST /entries/{entry_id}/edit/compare",            post("/entries/{private}/edit/compare", {"body": "x"}),               (L, 404, 200, 404, 404, 404, 200)),
    ("POST /drafts/autosave",                            post("/drafts/autosave", {"kind": "article", "body": "x"}),           (L, 403, 200, 200, 200, 200, 200)),
    ("POST /attachments",                                Call("POST", "/attachments", {"upload": "a.png"}),                    (401, 201, 201, 201, 201, 201, 201)),
    ("POST /api/v1/entries/{entry_id}/attachments",      Call("POST", "/api/v1/entries/{certified}/attachments", {"upload": "b.png"}), (U, 403, 201, 201, 201, 201, 201)),
    # --- the forum ----------------------------------------------------------------------------------------------------------------------
    ("POST /questions",                                  post("/questions", {"title": "How?", "body": "Tell me."}),            (L, 303, 303, 303, 303, 303, 303)),
    ("POST /api/v1/questions",                           post("/api/v1/questions", json={"title": "How?", "body": "Tell me."}), (U, 201, 201, 201, 201, 201, 201)),
    ("POST /questions/{question_id}/answers",            post("/questions/{question}/answers", {"body": "Like this."}),        (L, 403, 303, 303, 303, 303, 303)),
    ("POST /api/v1/questions/{question_id}/answers",     post("/api/v1/questions/{question}/answers", json={"body": "Like so."}), (U, 403, 201, 201, 201, 201, 201)),
    ("POST /answers/{answer_id}/accept",                 post("/answers/{answer}/accept"),                                     (L, 303, 403, 403, 303, 303, 303)),
    ("POST /api/v1/answers/{answer_id}/accept",          post("/api/v1/answers/{answer}/accept"),                              (U, 200, 403, 403, 200, 200, 200)),
    ("POST /answers/{answer_id}/promote",                post("/answers/{promote_{role}}/promote"),                            (L, 403, 303, 303, 303, 303, 303)),
    ("POST /api/v1/answers/{answer_id}/promote",         post("/api/v1/answers/{api_promote_{role}}/promote"),                 (U, 403, 201, 201, 201, 201, 201)),
    # --- the workflow -------------------------------------------------------------------------------------------------------------------
    ("POST /revisions/{revision_id}/{action}",           post("/revisions/{submittable_rev_{role}}/submit"),                   (L, 404, 303, 404, 404, 404, 303)),
    ("POST /revisions/{revision_id}/{action}",           post("/revisions/{approvable_rev_{role}}/approve"),                   (L, 404, 403, 404, 303, 303, 303)),
    ("POST /revisions/{revision_id}/{action}",           post("/revisions/{certifiable_rev_{role}}/certify"),                  (L, 404, 403, 404, 303, 403, 303)),
    ("POST /api/v1/revisions/{revision_id}/{action}",    post("/api/v1/revisions/{rejectable_rev_{role}}/reject", json={"comment": "No."}), (U, 404, 403, 404, 200, 200, 200)),
    # --- throwing drafts away (kb.content.removal): the author or an admin; a certified article never -----------------------------------
    ("GET /revisions/{revision_id}/discard",             get("/revisions/{draft_rev}/discard"),                                (L, 404, 200, 404, 404, 404, 200)),
    ("GET /revisions/{revision_id}/discard",             get("/revisions/{certified_rev}/discard"),                            (L, 403, 409, 403, 403, 403, 409)),
    ("POST /revisions/{revision_id}/discard",            post("/revisions/{discardable_rev_{role}}/discard"),                  (L, 404, 303, 404, 404, 404, 303)),
    ("POST /api/v1/revisions/{revision_id}/discard",     post("/api/v1/revisions/{discardable_api_rev_{role}}/discard"),       (U, 404, 200, 404, 404, 404, 200)),
    ("GET /entries/{entry_id}/delete",                   get("/entries/{private}/delete"),                                     (L, 404, 200, 404, 404, 404, 200)),
    ("GET /entries/{entry_id}/delete",                   get("/entries/{certified}/delete"),                                   (L, 403, 409, 403, 403, 403, 409)),
    ("POST /entries/{entry_id}/delete",                  post("/entries/{deletable_{role}}/delete"),                           (L, 404, 303, 404, 404, 404, 303)),
    ("DELETE /api/v1/entries/{entry_id}",                delete("/api/v1/entries/{deletable_api_{role}}"),                     (U, 404, 204, 404, 404, 404, 204)),
    ("POST /entries/{entry_id}/flags",                   post("/entries/{flaggable_{role}}/flags", {"reason": "unclear"}),     (L, 303, 303, 303, 303, 303, 303)),
    ("POST /api/v1/entries/{entry_id}/flags",            post("/api/v1/entries/{flaggable_api_{role}}/flags", json={"reason": "unclear"}), (U, 201, 201, 201, 201, 201, 201)),
    ("POST /flags/{flag_id}/dismiss",                    post("/flags/{flag_dismissable_{role}}/dismiss", {"reason": "Still right."}), (L, 403, 403, 403, 303, 403, 303)),
    ("POST /api/v1/flags/{flag_id}/dismiss",             post("/api/v1/flags/{flag_dismissable_api_{role}}/dismiss", json={"reason": "Fine."}), (U, 403, 403, 403, 200, 403, 200)),
    ("POST /entries/{entry_id}/reverify",                post("/entries/{reverifiable_{role}}/reverify"),                        (L, 403, 403, 403, 303, 403, 303)),
    ("POST /api/v1/entries/{entry_id}/reverify",         post("/api/v1/entries/{reverifiable_api_{role}}/reverify", json={}),          (U, 403, 403, 403, 200, 403, 200)),
    ("POST /entries/{entry_id}/archive",                 post("/entries/{archivable_{role}}/archive"),                         (L, 403, 403, 403, 303, 403, 303)),
    ("POST /api/v1/entries/{entry_id}/archive",          post("/api/v1/entries/{archivable_api_{role}}/archive", json={}),          (U, 403, 403, 403, 200, 403, 200)),
    # --- ratings ------------------------------------------------------------------------------------------------------------------------
    ("POST /entries/{entry_id}/votes",                   post("/entries/{votable_{role}}/votes", {"value": "1"}),               (L, 303, 403, 303, 303, 303, 303)),
    ("POST /api/v1/entries/{entry_id}/votes",            post("/api/v1/entries/{votable_api_{role}}/votes", json={"value": 1}), (U, 200, 403, 200, 200, 200, 200)),
    ("DELETE /api/v1/entries/{entry_id}/votes",          delete("/api/v1/entries/{votable_api_{role}}/votes"),                 (U, 200, 200, 200, 200, 200, 200)),
    ("POST /entries/{entry_id}/reuse",                   post("/entries/{certified}/reuse", {"case_ref": "C-1"}),              (L, 303, 303, 303, 303, 303, 303)),
    ("POST /api/v1/entries/{entry_id}/reuse",            post("/api/v1/entries/{certified}/reuse", json={"case_ref": "C-2"}),  (U, 201, 201, 201, 201, 201, 201)),
    # --- people -------------------------------------------------------------------------------------------------------------------------
    ("POST /people/me/interests",                        post("/people/me/interests", {"topic": "refunds"}),                   (L, 303, 303, 303, 303, 303, 303)),
    ("POST /people/me/interests/{topic}/remove",         post("/people/me/interests/refunds/remove"),                          (L, 303, 303, 303, 303, 303, 303)),
    ("POST /people/{user_id}/endorsements",              post("/people/{author_id}/endorsements", {"topic": "refunds"}),       (L, 303, 403, 303, 303, 303, 303)),
    ("POST /people/{user_id}/endorsements/{topic}/withdraw", post("/people/{author_id}/endorsements/refunds/withdraw"),        (L, 303, 303, 303, 303, 303, 303)),
    # --- one's own inbox and tokens -----------------------------------------------------------------------------------------------------
    ("POST /inbox/read-all",                             post("/inbox/read-all"),                                              (L, 303, 303, 303, 303, 303, 303)),
    ("POST /inbox/preferences",                          post("/inbox/preferences", {"mode": "daily"}),                        (L, 303, 303, 303, 303, 303, 303)),
    ("POST /inbox/{notification_id}/read",               post("/inbox/{author_note}/read"),                                    (L, 404, 303, 404, 404, 404, 404)),
    ("POST /profile/tokens",                             post("/profile/tokens", {"name": "laptop"}),                          (L, 200, 200, 200, 200, 200, 200)),
    ("POST /api/v1/tokens",                              post("/api/v1/tokens", json={"name": "bot"}),                         (U, 201, 201, 201, 201, 201, 201)),
    ("POST /profile/tokens/{token_id}/revoke",           post("/profile/tokens/{author_page_token}/revoke"),                   (L, 404, 303, 404, 404, 404, 303)),
    ("DELETE /api/v1/tokens/{token_id}",                 delete("/api/v1/tokens/{author_api_token}"),                          (U, 404, 200, 404, 404, 404, 200)),
    ("POST /profile/password",                           post("/profile/password", {"current_password": "wrong", "new_password": "x" * 20}), (L, 422, 422, 422, 422, 422, 422)),
    # --- administration -----------------------------------------------------------------------------------------------------------------
    ("POST /admin/users",                                post("/admin/users", {"email": "{role}-new@example.com", "display_name": "New", "roles": "agent", "password": "long-enough-pass"}), (L, 403, 403, 403, 403, 403, 303)),
    # no email set up in this world: the administrator gets the link on the page (200), the API in its answer
    ("POST /admin/users/{user_id}/password-link",        post("/admin/users/{spare_id}/password-link", {"purpose": "reset"}),  (L, 403, 403, 403, 403, 403, 200)),
    ("POST /api/v1/users/{user_id}/password-link",       post("/api/v1/users/{spare_id}/password-link", json={"purpose": "reset"}), (U, 403, 403, 403, 403, 403, 201)),
    ("POST /admin/users/{user_id}/roles-from-provider",  post("/admin/users/{spare_id}/roles-from-provider"),                   (L, 403, 403, 403, 403, 403, 303)),
    ("POST /admin/users/{user_id}",                      post("/admin/users/{spare_id}", {"display_name": "Spare", "roles": "expert", "is_active": "true"}), (L, 403, 403, 403, 403, 403, 303)),
    ("POST /api/v1/users",                               post("/api/v1/users", json={"email": "api-new@example.com", "display_name": "New", "roles": ["agent"]}), (U, 403, 403, 403, 403, 403, 201)),
    ("PATCH /api/v1/users/{user_id}",                    patch("/api/v1/users/{spare_id}", json={"display_name": "Spare Two"}), (U, 403, 403, 403, 403, 403, 200)),
    ("POST /admin/topics/{topic}/experts",               post("/admin/topics/spare-topic/experts", {"email": "spare@matrix.example.com"}), (L, 403, 403, 403, 403, 403, 303)),
    ("POST /admin/topics/{topic}/experts/{user_id}/remove", post("/admin/topics/spare-topic/experts/{spare_id}/remove"),       (L, 403, 403, 403, 403, 403, 303)),
    ("POST /admin/policy",                               post("/admin/policy", {"topic": "spare-topic", "required_approvals": "1", "validity_days": "90"}), (L, 403, 403, 403, 403, 403, 303)),
    ("POST /admin/topics/{topic}/policy/remove",         post("/admin/topics/spare-topic/policy/remove"),                      (L, 403, 403, 403, 403, 403, 303)),
    ("POST /admin/synonyms",                             post("/admin/synonyms", {"phrase": "cash back", "alternatives": "refund"}), (L, 403, 403, 403, 403, 403, 303)),
    ("POST /admin/synonyms/{rule_id}/delete",            post("/admin/synonyms/{synonym}/delete"),                             (L, 403, 403, 403, 403, 403, 303)),
    ("POST /admin/routing",                              post("/admin/routing", {"topic": "spare-topic", "user_id": "{spare_id}"}), (L, 403, 403, 403, 403, 403, 303)),
    ("POST /admin/routing/{topic}/remove",               post("/admin/routing/spare-topic/remove"),                            (L, 403, 403, 403, 403, 403, 303)),
    # the page that answers a new webhook shows its secret once: no redirect
    ("POST /admin/webhooks",                             post("/admin/webhooks", {"url": "http://127.0.0.1:9/{role}", "events": "question.asked"}), (L, 403, 403, 403, 403, 403, 201)),
    ("POST /admin/webhooks/{webhook_id}/pause",          post("/admin/webhooks/{webhook}/pause"),                              (L, 403, 403, 403, 403, 403, 303)),
    ("POST /admin/webhooks/{webhook_id}/resume",         post("/admin/webhooks/{webhook}/resume"),                             (L, 403, 403, 403, 403, 403, 303)),
    ("POST /admin/webhooks/{webhook_id}/retry",          post("/admin/webhooks/{webhook}/retry"),                              (L, 403, 403, 403, 403, 403, 303)),
    ("POST /admin/webhooks/{webhook_id}/deliveries/{delivery_id}/retry", post("/admin/webhooks/{webhook}/deliveries/{webhook_delivery}/retry"), (L, 403, 403, 403, 403, 403, 303)),
    ("POST /admin/webhooks/{webhook_id}/delete",         post("/admin/webhooks/{webhook_deletable}/delete"),                   (L, 403, 403, 403, 403, 403, 303)),
    # --- signing in and out (last: it ends the sessions) --------------------------------------------------------------------------------
    ("POST /password/forgot",                            post("/password/forgot", {"email": "{role}-nobody@example.com"}),    (200, 200, 200, 200, 200, 200, 200)),
    ("POST /password/set",                               post("/password/set", {"token": "kbp_not-a-link", "password": "x" * 12, "password_again": "x" * 12}), (410, 410, 410, 410, 410, 410, 410)),
    ("POST /login",                                      post("/login", {"email": "{role}-nobody@example.com", "password": "wrong"}), (401, 401, 401, 401, 401, 401, 401)),
    ("POST /panel/login",                                post("/panel/login", {"email": "{role}-nobody@example.com", "password": "wrong"}), (401, 401, 401, 401, 401, 401, 401)),
    ("POST /panel/logout",                               post("/panel/logout"),                                                (303, 303, 303, 303, 303, 303, 303)),
    ("POST /logout",                                     post("/logout"),                                                      (303, 303, 303, 303, 303, 303, 303)),
]
# fmt: on


# --- the world, built once per module ------------------------------------------------------------


@pytest.fixture(scope="module")
def world(engine, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("authz") / "data"
    settings = Settings(env="development", data_dir=data_dir, secret_key=TEST_SECRET, periodic_seconds=0)
    from web.app import create_app

    app = create_app(settings=settings, engine=engine)  # the conftest ran bootstrap() (the reactions)
    db = session_factory(engine)()
    try:
        built = w.build(db, data_dir)
    finally:
        db.close()
    reset_backends()
    drain(engine=engine, backend=backend_for(settings))
    clients: dict[str, TestClient] = {}
    tokens: dict[str, str] = {}
    with TestClient(app, base_url="http://testserver") as anonymous:
        clients["anonymous"] = anonymous
        for role in ROLES[1:]:
            client = TestClient(app, base_url="http://testserver")
            assert login(client, built.users[role].email).status_code == 303, role
            clients[role] = client
        db = session_factory(engine)()
        for role in ROLES[1:]:
            user = db.get(type(built.users[role]), built.users[role].id)
            tokens[role] = accounts.create_api_token(session=db, actor=user, user=user, data=TokenCreate(name="m"))[1]
        db.commit()
        db.close()
        yield {"world": built, "app": app, "clients": clients, "tokens": tokens, "engine": engine}
        for role in ROLES[1:]:
            clients[role].close()
    reset_backends()
    _empty_all_tables(engine)


@pytest.fixture(scope="module")
def meili_world(world, meili_server, tmp_path_factory):  # noqa: F811
    """The same world searched through Meilisearch: another app on the same database, its index
    rebuilt from it (``kb reindex``), everyone signed in again."""
    from search.service import reindex
    from web.app import create_app

    settings = Settings(env="development", data_dir=tmp_path_factory.mktemp("authz-meili") / "data",
                        secret_key=TEST_SECRET, periodic_seconds=0, search_backend="meilisearch",
                        search_url=meili_server.url, search_key=meili_server.key)
    backend = backend_for(settings)
    reindex(engine=world["engine"], backend=backend)
    app = create_app(settings=settings, engine=world["engine"])
    clients: dict[str, TestClient] = {"anonymous": TestClient(app, base_url="http://testserver")}
    for role in ROLES[1:]:
        clients[role] = TestClient(app, base_url="http://testserver")
        assert login(clients[role], world["world"].users[role].email).status_code == 303, role
    yield {**world, "app": app, "clients": clients}
    for client in clients.values():
        client.close()
    backend.clear()


def _path(call: Call, role: str, ids: dict) -> str:
    return call.path.replace("{role}", role).format_map(ids)


def send(ctx, role: str, call: Call):
    """Make the request as ``role`` would: pages with the session cookie and a CSRF token, the API
    with the person's bearer token."""
    client, ids = ctx["clients"][role], ctx["world"].ids
    path = _path(call, role, ids)
    api = path.startswith("/api/")
    headers = {}
    if api and role != "anonymous":
        headers["Authorization"] = f"Bearer {ctx['tokens'][role]}"
    form = {k: (v.replace("{role}", role).format_map(ids) if isinstance(v, str) else v) for k, v in call.form.items()}
    files = None
    if "upload" in form:
        files = {"file": (form.pop("upload"), w.PNG + role.encode(), "image/png")}
    if call.method != "GET" and not api:
        page = client.get("/login" if role == "anonymous" else "/profile")
        headers["X-CSRF-Token"] = csrf_from(page.text)
        if path == "/attachments":
            headers["Accept"] = "application/json"
    return client.request(call.method, path, data=form or None, json=call.json, files=files, headers=headers,
                          follow_redirects=False)


# --- the tests ----------------------------------------------------------------------------------------


def test_every_route_has_a_row(world):
    """A new route fails here until someone decides, in the table, who may use it."""
    routes = set()
    for context in iter_route_contexts(world["app"].routes):
        if isinstance(context.route, Mount):
            continue
        routes |= {f"{method} {context.path}" for method in context.methods - {"HEAD"}}
    covered = {route for route, _, _ in MATRIX}
    assert sorted(routes - covered) == [], "routes without a row in MATRIX"
    assert sorted(covered - routes) == [], "rows for routes that no longer exist"


def test_the_sql_and_python_forms_of_revision_visibility_agree(world):
    session = session_factory(world["engine"])()
    try:
        entries = {e.id: e for e in session.exec(select(Entry))}
        revisions = list(session.exec(select(Revision)))
        for built in world["world"].users.values():
            user = session.get(User, built.id)  # in this session: the audience rule reads its groups
            expected = {r.id for r in revisions if access.can_view_revision(user, entries[r.entry_id], r)}
            got = set(session.exec(select(Revision.id).join(Entry, Entry.id == Revision.entry_id)
                                   .where(access.revision_visible(user))))
            assert got == expected, user.email
    finally:
        session.close()


def test_entry_sheets_read_in_batch_show_what_one_at_a_time_shows(world):
    """The pages' batch read (``kb.content.sheets``) applies ``visible_revision``'s rule to each
    entry as if read alone, and never holds a revision (nor its author) the viewer may not open."""
    session = session_factory(world["engine"])()
    try:
        entries = list(session.exec(select(Entry).order_by(Entry.id)))
        for built in world["world"].users.values():
            user = session.get(User, built.id)
            sheets = entry_sheets(session=session, actor=user, entries=entries)
            for entry, sheet in zip(entries, sheets, strict=True):
                alone = content.visible_revision(session=session, actor=user, entry=entry)
                assert sheet.revision == alone, (user.email, entry.id)
                if sheet.revision is not None:
                    assert access.can_view_revision(user, entry, sheet.revision), (user.email, entry.id)
                    assert sheet.revision_author.id == sheet.revision.author_id
    finally:
        session.close()


# Side channels: a secret word reaches nobody who may not open the revision that holds it.
# (who may read it, the requests that must not carry it to anyone else)
SIDE_CHANNELS = {
    w.DRAFT_WORD: ({"author", "admin"}, [
        "/questions/similar?title={word}",
        "/search?q={word}&drafts=1", "/api/v1/search?q={word}&include_drafts=true", "/experts?q={word}",
        "/api/v1/experts?q={word}", "/entries/{certified}/edit", "/articles/{certified}", "/entries/{certified}/audit",
        "/entries/{certified}/history", "/api/v1/entries/{certified}", "/api/v1/entries/{certified}/revisions",
        "/entries/{certified}/plain", "/revisions/{draft_rev}", "/entries/{certified}/diff?old={certified_rev}&new={draft_rev}",
        "/api/v1/revisions/{draft_rev}/diff?against={certified_rev}", "/people/{author_id}", "/", "/articles",
        "/review", "/knowledge-health", "/inbox", "/panel?subject={word}", "/panel?subject=x&text={word}"]),
    w.DRAFT_TAG: ({"author", "admin"}, [
        "/tags/suggest?tags=quokka", "/questions", "/people/{author_id}", "/experts", "/search?q=closed+card&drafts=1",
        "/api/v1/search?q=closed+card&include_drafts=true", "/experts?q=quokka+pricing", "/", "/articles", "/review",
        "/knowledge-health", "/inbox", "/people/{expert_id}", "/api/v1/experts?q=quokka+pricing",
        "/api/v1/entries/{certified}/revisions"]),
    w.PRIVATE_WORD: ({"author", "admin"}, [
        "/questions/similar?title={word}",
        "/search?q={word}&drafts=1", "/api/v1/search?q={word}&include_drafts=true", "/experts?q={word}",
        "/api/v1/experts?q={word}", "/articles", "/", "/review", "/knowledge-health", "/people/{author_id}",
        "/api/v1/questions", "/panel?subject={word}"]),
    w.REVIEW_WORD: ({"author", "expert", "other_expert", "admin"}, [
        "/questions/similar?title={word}",
        "/search?q={word}&drafts=1", "/api/v1/search?q={word}&include_drafts=true", "/experts?q={word}",
        "/api/v1/experts?q={word}", "/articles", "/", "/people/{author_id}", "/inbox", "/panel?subject={word}"]),
    w.PARENT_WORD: ({"author", "admin"}, [
        "/review/{review_rev}", "/api/v1/revisions/{review_rev}", "/search?q={word}&drafts=1", "/experts?q={word}"]),
    w.REJECTED_WORD: ({"author", "admin"}, [
        "/questions/similar?title={word}",
        "/search?q={word}&drafts=1", "/api/v1/search?q={word}&include_drafts=true", "/experts?q={word}",
        "/api/v1/experts?q={word}", "/articles", "/review", "/knowledge-health", "/people/{author_id}",
        "/people/{expert_id}", "/inbox", "/panel?subject={word}"]),
    w.LIMITED_WORD: ({"author", "agent", "admin"}, [
        "/questions/similar?title={word}", "/search?q={word}", "/search?q={word}&drafts=1", "/api/v1/search?q={word}",
        "/api/v1/search?q={word}&include_drafts=true", "/experts?q={word}", "/api/v1/experts?q={word}",
        "/articles/{limited}", "/entries/{limited}/audit", "/entries/{limited}/history", "/entries/{limited}/edit",
        "/api/v1/entries/{limited}", "/api/v1/entries/{limited}/revisions", "/entries/{limited}/plain",
        "/revisions/{limited_rev}", "/review/{limited_rev}", "/review/{limited_review_rev}",
        "/entries/{limited}/diff?old={limited_rev}&new={limited_review_rev}",
        "/api/v1/revisions/{limited_review_rev}/diff?against={limited_rev}", "/attachments/{limited_file}",
        "/attachments/{limited_file}/" + w.LIMITED_WORD + ".png", "/", "/articles", "/review", "/knowledge-health",
        "/inbox", "/people/{author_id}", "/people/{expert_id}", "/api/v1/questions", "/panel?subject={word}"]),
    w.LIMITED_TAG: ({"author", "agent", "admin"}, [
        "/tags/suggest?tags=kowari", "/experts", "/experts?q=kowari+routes", "/api/v1/experts?q=kowari+routes",
        "/search?q=escalation", "/api/v1/search?q=escalation", "/search?q=escalation&drafts=1", "/",
        "/articles", "/people/{author_id}", "/people/{expert_id}", "/knowledge-health"]),
    w.COMMENT_WORD: ({"author", "expert", "other_expert", "admin"}, [
        "/entries/{commented}/audit", "/articles/{commented}", "/review/{commented_rev}", "/inbox",
        "/api/v1/entries/{commented}", "/people/{expert_id}"]),
}


def _is_search(path: str) -> bool:
    return path.startswith(("/search", "/api/v1/search"))


def _leaks(ctx, role: str, *, search: bool) -> list[str]:
    """Queries ask in lower case (pages echo the query); the content spells the words capitalised."""
    leaks = []
    for word, (readers, paths) in SIDE_CHANNELS.items():
        for path in paths:
            if role in readers or _is_search(path) != search:
                continue
            response = send(ctx, role, get(path.replace("{word}", word.lower())))
            if word in response.text:
                leaks.append(f"{path.replace('{word}', word.lower())} ({response.status_code})")
    return leaks


@pytest.mark.parametrize("role", ROLES[1:])
def test_secret_words_reach_only_those_who_may_open_them(world, role):
    leaks = _leaks(world, role, search=False)
    assert leaks == [], f"{role} learns what they may not open: {leaks}"


@pytest.mark.parametrize("role", ROLES[1:])
def test_search_with_drafts_shows_only_what_the_searcher_may_open(world, role):
    leaks = _leaks(world, role, search=True)
    assert leaks == [], f"{role} finds what they may not open: {leaks}"


SEARCHING = ("/search", "/api/v1/search", "/experts?", "/api/v1/experts?", "/questions/similar")


@pytest.mark.parametrize("role", ROLES[1:])
def test_what_goes_through_meilisearch_shows_only_what_the_searcher_may_open(meili_world, role):
    """Search, the expert finder and similar questions on the other backend: the same rule."""
    leaks = []
    for word, (readers, paths) in SIDE_CHANNELS.items():
        for path in paths:
            if role in readers or not path.startswith(SEARCHING):
                continue
            response = send(meili_world, role, get(path.replace("{word}", word.lower())))
            if word in response.text:
                leaks.append(f"{path.replace('{word}', word.lower())} ({response.status_code})")
    assert leaks == [], f"{role} finds through Meilisearch what they may not open: {leaks}"
    if role in ("agent", "author", "admin"):  # ... and the group's members find the limited article
        assert w.LIMITED_WORD in send(meili_world, role, get("/search?q=kowarilimited")).text
        assert w.LIMITED_WORD in send(meili_world, role, get("/api/v1/search?q=escalation")).text


def test_the_secret_words_are_there_for_those_who_may_open_them(world):
    """The side-channel test would prove nothing if the words were nowhere: the author finds each."""
    author = [("/search?q={word}&drafts=1".replace("{word}", w.DRAFT_WORD), w.DRAFT_WORD),
              ("/entries/{certified}/edit", w.DRAFT_WORD), ("/tags/suggest?tags=quokka", w.DRAFT_TAG),
              ("/experts?q=" + w.PRIVATE_WORD, "Author"), ("/review/{review_rev}", w.PARENT_WORD),
              ("/entries/{commented}/audit", w.COMMENT_WORD)]
    for path, word in author:
        assert word in send(world, "author", get(path)).text, path
    assert w.REVIEW_WORD in send(world, "other_expert", get("/review/{review_rev}")).text
    for path in ("/search?q=kowarilimited", "/articles/{limited}", "/inbox", "/api/v1/search?q=escalation"):
        assert w.LIMITED_WORD in send(world, "agent", get(path)).text, path
    assert w.LIMITED_TAG in send(world, "agent", get("/articles/{limited}")).text
    assert w.LIMITED_WORD in send(world, "author", get("/tags/suggest?tags=kowari")).text.replace("-routes", "") \
        or w.LIMITED_TAG in send(world, "author", get("/tags/suggest?tags=kowari")).text
    assert send(world, "agent", get("/attachments/{limited_file}")).status_code == 200
    assert w.COMMENT_WORD in send(world, "expert", get("/entries/{commented}/audit")).text


def _rows():
    for i, (route, call, expected) in enumerate(MATRIX):
        yield pytest.param(route, call, expected, id=f"{i:03d} {route}")


@pytest.mark.parametrize(("route", "call", "expected"), list(_rows()))
def test_route_as_each_role(world, route, call, expected):
    got = []
    for role in ROLES:
        response = send(world, role, call)
        if role == "anonymous" and response.status_code == 303 and route not in ("POST /logout", "POST /panel/logout"):
            assert re.match(r"/login(\?|$)", response.headers["location"]), response.headers["location"]
        got.append(response.status_code)
    assert tuple(got) == expected, f"{route} {call.path}: got {tuple(got)}"

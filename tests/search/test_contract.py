"""The search contract (search.backend), run against the embedded backend and a real
Meilisearch server (see conftest.py)."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from search.backend import SearchDocument, SearchQuery, SearchResults, Viewer

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)

AGENT = Viewer(user_id=99)
AGENT_DRAFTS = Viewer(user_id=99, include_drafts=True)
AUTHOR = Viewer(user_id=7, include_drafts=True)
AUTHOR_NO_DRAFTS = Viewer(user_id=7)
REVIEWER = Viewer(user_id=50, is_reviewer=True, include_drafts=True)
REVIEWER_NO_DRAFTS = Viewer(user_id=50, is_reviewer=True)
ADMIN = Viewer(user_id=1, is_admin=True, include_drafts=True)
ADMIN_NO_DRAFTS = Viewer(user_id=1, is_admin=True)


def doc(
    entry_id: int,
    title: str,
    body: str = "",
    *,
    tags: tuple[str, ...] = (),
    kind: str = "article",
    audience: str = "public",
    author_id: int = 1,
    certified: bool = True,
    state: str = "certified",
    hours: int = 0,
    revision_id: int | None = None,
) -> SearchDocument:
    return SearchDocument(
        id=f"{entry_id}:{audience}",
        entry_id=entry_id,
        revision_id=revision_id if revision_id is not None else entry_id * 10,
        kind=kind,
        title=title,
        body=body,
        tags=list(tags),
        audience=audience,  # type: ignore[arg-type]
        author_id=author_id,
        state=state,
        certified=certified,
        updated_at=T0 + timedelta(hours=hours or entry_id),
    )


BASE = [
    doc(1, "Reset a customer's password",
        "Open the customer record in the admin console and choose Send reset link. The link expires after one hour.",
        tags=("account", "security")),
    doc(2, "Change the email address on an account",
        "Ask for the current password before you change the email address. Confirm the new address with a "
        "verification message.",
        tags=("account",)),
    doc(3, "Refund an order",
        "Issue a refund from the billing page. Refunded orders appear on the monthly statement; the customer "
        "receives the amount within five days.",
        tags=("billing", "refund")),
    doc(4, "Delete a customer account", "Account deletion removes personal data permanently after thirty days.",
        tags=("account", "privacy")),
    doc(5, "Shipping delays during holidays?", "Parcels may take longer; tell the customer the tracking number.",
        tags=("shipping",), kind="question", certified=False, state="open"),
    doc(6, "Gift voucher expired", "Expired vouchers can be extended once by a supervisor.",
        tags=("billing", "voucher"), kind="answer"),
    doc(7, "Sell a gift voucher", "Vouchers are sold at the checkout of the web shop.", tags=("voucher",)),
    doc(8, "Cancel a subscription",
        "Cancelled subscriptions are not eligible for a refund once the trial has ended.", tags=("billing",)),
]  # fmt: skip
BASE_IDS = {d.entry_id for d in BASE}


def search(backend, text: str = "", viewer: Viewer = AGENT, **kwargs) -> SearchResults:
    return backend.search(SearchQuery(text=text, viewer=viewer, **kwargs))


def ids(results: SearchResults) -> list[int]:
    return [h.entry_id for h in results.hits]


def plain(fragment: str) -> str:
    return re.sub(r"</?mark>", "", fragment)


@pytest.fixture
def base(backend):
    backend.index(BASE)
    return backend


# -- indexing and finding --------------------------------------------------------------------


def test_index_then_search_finds_by_title_and_body(base):
    by_title = search(base, "subscription")
    assert ids(by_title) == [8]
    assert by_title.total == 1
    by_body = search(base, "supervisor")
    assert ids(by_body) == [6]
    hit = by_body.hits[0]
    assert (hit.kind, hit.revision_id, hit.audience, hit.state) == ("answer", 60, "public", "certified")
    assert hit.certified is True and hit.needs_reverification is False
    assert sorted(hit.tags) == ["billing", "voucher"]


def test_title_match_outranks_body_only_match(backend):
    backend.index(
        [
            doc(1, "How escalations work", "Loyalty members get priority. Loyalty points, loyalty tiers, loyalty."),
            doc(2, "Loyalty programme", "Members collect points with every order."),
        ]
    )
    assert ids(search(backend, "loyalty")) == [2, 1]


def test_typo_tolerance_finds_reset_password_first(base):
    results = search(base, "pasword resett")
    assert ids(results)[0] == 1
    assert "<mark>" in results.hits[0].title


def test_exact_match_ranks_above_typo_match(backend):
    backend.index([doc(1, "Trucking partners", "Freight."), doc(2, "Parcel tracking", "Freight.")])
    assert ids(search(backend, "tracking")) == [2, 1]


def test_prefix_of_the_last_word_matches_search_as_you_type(base):
    results = search(base, "passw")
    assert set(ids(results)) == {1, 2}
    assert ids(results)[0] == 1  # title before body
    assert ids(search(base, "reset passw"))[0] == 1
    assert 3 in ids(search(base, "refu"))


def test_english_stemming(backend):
    backend.index(
        [
            doc(1, "Order status", "The order was refunded yesterday."),
            doc(2, "Partial returns", "Partial refunds need a supervisor."),
            doc(3, "Unrelated", "Nothing to see."),
        ]
    )
    assert set(ids(search(backend, "refunding policy"))) == {1, 2}
    assert set(ids(search(backend, "refunds "))) == {1, 2}
    assert set(ids(search(backend, "refunded "))) == {1, 2}


def test_stop_words_are_ignored(base):
    assert ids(search(base, "how do I reset the password for a customer"))[0] == 1
    # Only the documents with "password": stop words match nothing on their own.
    assert set(ids(search(base, "what is the password"))) == {1, 2}


def test_not_every_word_must_match_and_more_matches_rank_higher(base):
    results = search(base, "voucher expired")
    assert ids(results)[:2] == [6, 7]  # 6 has both words, 7 only "voucher"
    # Documents with only "expired" (entry 1: "expires") may follow, depending on the backend's
    # matching strategy; never documents with neither word.
    assert set(ids(results)) <= {6, 7, 1}
    assert set(ids(search(base, "voucher teleportation"))) == {6, 7}


def test_synonyms_customers_words(base):
    base.set_synonyms({"money back": ["refund"], "erase": ["delete"]})
    assert search(base, "money back ").hits[0].entry_id == 3
    assert ids(search(base, "customer wants the money back"))[0] == 3
    assert ids(search(base, "erase account"))[0] == 4
    # The synonym's words are highlighted.
    assert "<mark>Refund</mark>" in search(base, "money back").hits[0].title


def test_synonyms_given_before_indexing(backend):
    backend.set_synonyms({"log in": ["sign in"], "erase": ["delete"]})
    backend.index([doc(1, "Delete an address", "Remove it."), doc(2, "Sign in problems", "Two-factor codes.")])
    assert ids(search(backend, "erase address"))[0] == 1
    assert ids(search(backend, "cannot log in "))[0] == 2


# -- highlighting ------------------------------------------------------------------------------


def test_highlighting_marks_matches_in_title_and_snippet(base):
    results = search(base, "password")
    by_id = {h.entry_id: h for h in results.hits}
    assert by_id[1].title == "Reset a customer&#x27;s <mark>password</mark>"
    assert "<mark>password</mark>" in by_id[2].snippet
    assert "<mark>" not in by_id[2].title
    stemmed = search(base, "refunds ").hits
    assert any("<mark>Refunded</mark>" in h.snippet for h in stemmed)


def test_highlighting_escapes_html(backend):
    backend.index(
        [
            doc(
                1,
                "Embedding <b>widgets</b> & co",
                "Never paste <script>alert('x')</script> into the widget settings; use \"safe mode\".",
            )
        ]
    )
    hit = search(backend, "widget").hits[0]
    for fragment in (hit.title, hit.snippet):
        assert "<" not in plain(fragment) and ">" not in plain(fragment), fragment
    assert hit.title == "Embedding &lt;b&gt;<mark>widgets</mark>&lt;/b&gt; &amp; co"
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in hit.snippet
    assert "<mark>widget</mark>" in hit.snippet
    # Also without any match (empty query): still escaped.
    empty = search(backend, "").hits[0]
    assert "<script" not in empty.snippet and "&lt;script&gt;" in empty.snippet


def test_snippet_is_cropped_around_the_match(backend):
    filler = " ".join(f"filler{i}" for i in range(150))
    backend.index([doc(1, "Long article", f"{filler} the chargeback window is sixty days {filler}")])
    snippet = search(backend, "chargeback").hits[0].snippet
    assert "<mark>chargeback</mark>" in snippet
    assert snippet.startswith("…") and snippet.endswith("…")
    assert len(plain(snippet).split()) < 45


def test_snippet_keeps_table_rows_and_paragraphs_apart(backend):
    body = "Order states.\n\nState | Refund\nPlaced | Full chargeback\nShipped | Partial"
    backend.index([doc(1, "Order states", body)])
    snippet = plain(search(backend, "chargeback").hits[0].snippet)
    assert snippet == "Order states. · State | Refund · Placed | Full chargeback · Shipped | Partial"


# -- facets, filters, pagination -------------------------------------------------------------------


def test_facets_count_every_match_not_just_the_page(base):
    everything = search(base, "account", limit=100)
    page = search(base, "account", limit=1)
    assert len(page.hits) == 1 and page.total == everything.total >= 3
    expected_tags: dict[str, int] = {}
    expected_kinds: dict[str, int] = {}
    for h in everything.hits:
        expected_kinds[h.kind] = expected_kinds.get(h.kind, 0) + 1
        for t in h.tags:
            expected_tags[t] = expected_tags.get(t, 0) + 1
    assert page.facets["tag"] == expected_tags
    assert page.facets["kind"] == expected_kinds
    assert page.facets["tag"]["account"] == 3  # entries 1, 2 and 4


def test_facets_of_the_empty_query(base):
    facets = search(base, "", limit=2).facets
    assert facets["tag"] == {"account": 3, "security": 1, "billing": 3, "refund": 1, "privacy": 1,
                             "shipping": 1, "voucher": 2}  # fmt: skip
    assert facets["kind"] == {"article": 6, "question": 1, "answer": 1}


def test_filters(base):
    assert set(ids(search(base, tags=("billing",)))) == {3, 6, 8}
    assert set(ids(search(base, tags=("privacy", "shipping")))) == {4, 5}  # any of
    assert set(ids(search(base, kinds=("question", "answer")))) == {5, 6}
    assert set(ids(search(base, certified_only=True))) == BASE_IDS - {5}
    assert set(ids(search(base, "voucher", tags=("billing",)))) == {6}
    narrowed = search(base, "customer", tags=("account",), certified_only=True)
    assert set(ids(narrowed)) == {1, 4}
    assert narrowed.total == 2
    assert narrowed.facets["tag"].get("account") == 2
    assert "shipping" not in narrowed.facets["tag"]


def test_filter_values_are_quoted(backend):
    odd = 'we"ird\\tag OR audience = restricted'
    backend.index([doc(1, "Odd tag", "x", tags=(odd,)), doc(2, "Plain", "x", tags=("plain",))])
    assert ids(search(backend, tags=(odd,))) == [1]
    assert ids(search(backend, kinds=('article" OR kind = "x',))) == []


def test_empty_query_lists_everything_newest_first(base):
    results = search(base, "", limit=100)
    assert ids(results) == sorted(BASE_IDS, reverse=True)
    assert results.total == len(BASE)


def test_pagination(base):
    everything = ids(search(base, "", limit=100))
    pages = [search(base, "", limit=3, offset=o) for o in (0, 3, 6)]
    assert [i for p in pages for i in ids(p)] == everything
    assert {p.total for p in pages} == {len(BASE)}
    assert ids(search(base, "", limit=2, offset=1)) == everything[1:3]
    beyond = search(base, "", limit=5, offset=50)
    assert beyond.hits == [] and beyond.total == len(BASE)
    text_all = ids(search(base, "customer", limit=100))
    text_page = search(base, "customer", limit=2, offset=1)
    assert ids(text_page) == text_all[1:3]
    assert text_page.total == len(text_all)
    counted = search(base, "customer", limit=0)
    assert counted.hits == [] and counted.total == len(text_all) and counted.facets["tag"]


@pytest.mark.parametrize("text", ["customer", "custmer", "cust", "reset password link", "refund the order",
                                  "passwrod reset", "zzzz nothing"])
def test_total_counts_exactly_the_documents_found(base, text):
    """The total and the facet counts are those of every document the search finds (the embedded
    backend counts them in a pass of its own, without scoring)."""
    found = search(base, text, limit=100)
    assert found.total == len(found.hits)
    assert sum(found.facets["kind"].values()) == found.total
    narrowed = search(base, text, limit=100, tags=("billing",))
    assert narrowed.total == len(narrowed.hits) == found.facets["tag"].get("billing", 0)


# -- visibility -------------------------------------------------------------------------------------

DRAFT = doc(900, "Quokkaflux escalation procedure", "Quokkaflux steps for the escalation desk.",
            tags=("secret-draft",), kind="question", audience="restricted", author_id=7, certified=False,
            state="draft")  # fmt: skip
NEW_REVISION = doc(3, "Refund an order (new quokkaflux policy)", "Draft text.", audience="restricted",
                   author_id=7, certified=False, state="in_review", revision_id=31)  # fmt: skip


@pytest.fixture
def with_drafts(base):
    base.index([DRAFT, NEW_REVISION])
    return base


@pytest.mark.parametrize(
    "viewer", [AGENT, AGENT_DRAFTS, AUTHOR_NO_DRAFTS, REVIEWER_NO_DRAFTS, ADMIN_NO_DRAFTS, Viewer(8, include_drafts=True)]
)
def test_restricted_documents_are_invisible(with_drafts, viewer):
    for text in ("quokkaflux", "quokkaflux escalation", "quokk", "quokaflux"):
        results = search(with_drafts, text, viewer=viewer)
        assert results.total == 0 and results.hits == [], text
        assert results.facets.get("tag", {}) == {} and results.facets.get("kind", {}) == {}
    everything = search(with_drafts, "", viewer=viewer, limit=100)
    assert everything.total == len(BASE)
    assert "secret-draft" not in everything.facets["tag"]
    assert everything.facets["kind"]["question"] == 1
    assert all(h.audience == "public" for h in everything.hits)
    escalation = search(with_drafts, "escalation procedure steps", viewer=viewer)
    assert 900 not in ids(escalation)
    refund = search(with_drafts, "refund order", viewer=viewer, limit=100)
    assert [h.revision_id for h in refund.hits if h.entry_id == 3] == [30]
    assert all("quokkaflux" not in plain(h.title).lower() + plain(h.snippet).lower() for h in refund.hits)


@pytest.mark.parametrize("viewer", [AUTHOR, REVIEWER, ADMIN])
def test_restricted_documents_visible_to_author_reviewer_admin_with_drafts(with_drafts, viewer):
    results = search(with_drafts, "quokkaflux", viewer=viewer)
    assert results.total == 2
    assert set(ids(results)) == {900, 3}
    draft = next(h for h in results.hits if h.entry_id == 900)
    assert (draft.audience, draft.state, draft.certified) == ("restricted", "draft", False)
    assert "<mark>Quokkaflux</mark>" in draft.title
    assert results.facets["tag"]["secret-draft"] == 1
    everything = search(with_drafts, "", viewer=viewer, limit=100)
    assert everything.total == len(BASE) + 2


# Articles: experts see another author's revision only once it is submitted for review, as on the
# entry page (kb.content.access.can_view_revision); the entry's own author sees every revision.
PRIVATE_DRAFTS = [
    doc(910, "Wombatix unsubmitted draft", "Wombatix notes.", tags=("draft-tag",), audience="restricted",
        author_id=7, certified=False, state="draft"),
    doc(911, "Wombatix rejected draft", "Wombatix rejected notes.", tags=("rejected-tag",), audience="restricted",
        author_id=7, certified=False, state="rejected"),
    doc(912, "Wombatix withdrawn draft", "Wombatix withdrawn notes.", tags=("withdrawn-tag",),
        audience="restricted", author_id=7, certified=False, state="withdrawn"),
    doc(913, "Wombatix revision in review", "Wombatix reviewed notes.", tags=("review-tag",),
        audience="restricted", author_id=7, certified=False, state="in_review"),
]  # fmt: skip


def test_reviewers_do_not_find_other_authors_unsubmitted_or_rejected_drafts(base):
    base.index(PRIVATE_DRAFTS)
    for viewer in (REVIEWER, REVIEWER_NO_DRAFTS, Viewer(51, is_reviewer=True, include_drafts=True)):
        results = search(base, "wombatix", viewer=viewer, limit=100)
        assert set(ids(results)) == ({913} if viewer.include_drafts else set())
        assert results.total == len(results.hits)
        assert set(results.facets["tag"]) <= {"review-tag"}
        everything = search(base, "", viewer=viewer, limit=100)
        assert not {"draft-tag", "rejected-tag", "withdrawn-tag"} & set(everything.facets["tag"])


def test_the_entry_author_finds_every_revision_of_their_entry(base):
    by_someone_else = [replace(d, author_id=8, entry_author_id=7) for d in PRIVATE_DRAFTS]
    base.index(by_someone_else)
    assert set(ids(search(base, "wombatix", viewer=AUTHOR, limit=100))) == {910, 911, 912, 913}
    assert set(ids(search(base, "wombatix", viewer=Viewer(8, include_drafts=True), limit=100))) == {910, 911, 912, 913}
    assert ids(search(base, "wombatix", viewer=Viewer(9, include_drafts=True), limit=100)) == []


# -- writes ------------------------------------------------------------------------------------------


def test_delete(base):
    base.delete(["3:public", "does-not-exist:public"])
    assert 3 not in ids(search(base, "refund", limit=100))
    assert search(base, "", limit=100).total == len(BASE) - 1
    base.delete([])


def test_reindexing_a_document_replaces_it(base):
    base.index([doc(3, "Refund a marketplace order", "Marketplace refunds go through the seller.",
                    tags=("marketplace",))])  # fmt: skip
    results = search(base, "refund", limit=100)
    assert ids(results).count(3) == 1
    assert search(base, "marketplace").total == 1
    assert search(base, "statement").total == 0  # words of the old body are gone
    assert search(base, "", limit=100).total == len(BASE)
    tags = search(base, "").facets["tag"]
    assert "refund" not in tags and tags["marketplace"] == 1


def test_clear(base):
    base.clear()
    results = search(base, "", limit=100)
    assert results.total == 0 and results.hits == []
    base.index([doc(1, "Fresh start", "x")])
    assert ids(search(base, "fresh")) == [1]


def test_health(backend):
    health = backend.health()
    assert health["status"] == "ok"
    assert health["backend"] == backend.name


def test_reindex_replaces_everything_without_going_empty(backend):
    backend.index(BASE)
    new_docs = [doc(100 + i, f"Replacement article {i}", "Rebuilt from the database.") for i in range(40)]
    totals: list[int] = []
    done = threading.Event()
    errors: list[BaseException] = []

    def rebuild():
        try:
            assert backend.reindex(new_docs) == len(new_docs)
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=rebuild)
    thread.start()
    while not done.is_set():
        totals.append(search(backend, "", limit=1).total)
        time.sleep(0.01)
    thread.join()
    assert not errors, errors
    assert totals and all(t > 0 for t in totals), totals
    results = search(backend, "", limit=100)
    assert results.total == len(new_docs)
    assert set(ids(results)) == {d.entry_id for d in new_docs}
    assert search(backend, "replacement").total == len(new_docs)


# -- ranking: relevance first, then quality (search.ranking) ------------------------------------------


def test_with_equal_text_the_certified_helpful_reused_document_ranks_first(backend):
    text = ("Replace a damaged parcel", "Send a replacement when the parcel arrives damaged.")
    plain = doc(1, *text, certified=False, state="approved", hours=5)
    good = replace(doc(2, *text, hours=5), helpful_score=0.9, reuse_count=12)
    helpful_only = replace(doc(3, *text, certified=False, state="approved", hours=5), helpful_score=0.9)
    backend.index([plain, good, helpful_only])
    assert ids(search(backend, "damaged parcel", viewer=ADMIN)) == [2, 3, 1]
    assert ids(search(backend, "replacement", viewer=ADMIN)) == [2, 3, 1]


def test_a_much_better_text_match_beats_a_high_quality_poor_match(backend):
    strong = doc(1, "Parcel damaged in transit", "What to do when a parcel arrives damaged.", certified=False,
                 state="approved")
    best_quality = replace(doc(2, "Delivery times", "Most parcels arrive within two days; damaged ones are rare."),
                           helpful_score=1.0, reuse_count=500)
    backend.index([strong, best_quality])
    assert ids(search(backend, "damaged parcel", viewer=ADMIN)) == [1, 2]
    # A title match still outranks a body-only match of the best quality.
    assert ids(search(backend, "transit", viewer=ADMIN)) == [1]
    assert ids(search(backend, "delivery damaged", viewer=ADMIN))[0] == 2


# -- backend-specific ----------------------------------------------------------------------------


def test_meilisearch_health_is_down_without_raising_when_unreachable():
    import socket

    from search.meili import MeiliBackend

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again below: nothing listens there
    started = time.monotonic()
    health = MeiliBackend(f"http://127.0.0.1:{port}", "key").health()
    assert health["status"] == "down" and health["backend"] == "meilisearch"
    assert time.monotonic() - started < 5


def test_meilisearch_settings_are_applied_by_code(meili_backend):
    meili_backend.set_synonyms({"money back": ["refund"]})
    meili_backend.index([doc(1, "x", "y")])
    settings = meili_backend._client.index(meili_backend.index_name).get_settings()
    assert settings["searchableAttributes"] == ["title_stem", "tags_stem", "body_stem", "context_stem"]
    assert {"audience", "author_id", "kind", "tags", "certified", "state"} <= set(settings["filterableAttributes"])
    assert "updated_at" in settings["sortableAttributes"]
    assert settings["rankingRules"][:6] == ["words", "typo", "proximity", "attribute", "sort", "exactness"]
    assert settings["rankingRules"][-1] == "quality:desc"  # quality only after relevance
    assert settings["typoTolerance"]["enabled"] is True
    assert "the" in settings["stopWords"]
    assert settings["synonyms"] == {"money back": ["refund"]}


def test_meilisearch_reindex_swaps_a_new_index_in(meili_backend):
    meili_backend.index(BASE)
    meili_backend.set_synonyms({"erase": ["delete"]})
    assert meili_backend.reindex(BASE[:3]) == 3
    uids = {i.uid for i in meili_backend._client.get_indexes({"limit": 1000})["results"]}
    assert meili_backend.index_name in uids and f"{meili_backend.index_name}_tmp" not in uids
    assert search(meili_backend, "", limit=100).total == 3
    assert ids(search(meili_backend, "pasword resett"))[0] == 1
    meili_backend.index([doc(4, "Delete a customer account", "Account deletion.")])
    assert ids(search(meili_backend, "erase account"))[0] == 4  # settings came along


def test_embedded_index_persists_and_reopens(tmp_path):
    from search.embedded import EmbeddedBackend

    first = EmbeddedBackend(tmp_path / "idx")
    first.index(BASE)
    first.close()
    reopened = EmbeddedBackend(tmp_path / "idx")
    assert search(reopened, "", limit=100).total == len(BASE)
    assert ids(search(reopened, "pasword resett"))[0] == 1
    reopened.index([doc(9, "Another", "x")])
    assert search(reopened, "another").total == 1
    reopened.close()


def test_embedded_concurrent_writes_and_searches(tmp_path):
    from search.embedded import EmbeddedBackend

    backend = EmbeddedBackend(tmp_path / "idx")
    errors: list[BaseException] = []

    def writer(start: int):
        try:
            for i in range(start, start + 10):
                backend.index([doc(i, f"Concurrent article {i}", "Written from a thread.")])
        except BaseException as exc:
            errors.append(exc)

    def reader():
        try:
            for _ in range(30):
                search(backend, "concurrent articl")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(s,)) for s in (1, 101, 201)]
    threads += [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert search(backend, "concurrent", limit=0).total == 30
    backend.close()


def test_factory_returns_one_backend_per_configuration(tmp_path):
    from kb.settings import Settings
    from search.embedded import EmbeddedBackend
    from search.factory import backend_for, reset_backends
    from search.meili import MeiliBackend

    try:
        settings = Settings(data_dir=tmp_path)
        embedded = backend_for(settings)
        assert isinstance(embedded, EmbeddedBackend)
        assert embedded.path == tmp_path / "search"
        assert backend_for(Settings(data_dir=tmp_path)) is embedded
        meili = backend_for(Settings(data_dir=tmp_path, search_backend="meilisearch",
                                     search_url="http://127.0.0.1:1", search_key="k"))  # fmt: skip
        assert isinstance(meili, MeiliBackend) and meili.url == "http://127.0.0.1:1"
        assert meili.health()["status"] == "down"
    finally:
        reset_backends()


# -- audiences: documents of an entry limited to groups (kb.content.access.audience_allows) ------------

LIMITED = [
    replace(doc(920, "Kowariflux escalation rota", "Kowariflux: call the duty manager.", tags=("limited-tag",),
                author_id=7), groups=("g5",)),
    replace(doc(920, "Kowariflux escalation rota v2", "Kowariflux: call the night manager.", audience="restricted",
                author_id=7, certified=False, state="in_review", revision_id=9201), groups=("g5",)),
    replace(doc(921, "Kowariflux orphan", "Kowariflux: its only group was deleted.", author_id=7), groups=()),
]  # fmt: skip


@pytest.mark.parametrize(("viewer", "expected"), [
    (AGENT, set()),
    (Viewer(99, group_ids=(6,)), set()),
    (Viewer(50, is_reviewer=True, include_drafts=True), set()),  # an expert outside the group
    (Viewer(99, group_ids=(6, 5)), {(920, "public")}),
    (Viewer(99, group_ids=(5,), include_drafts=True), {(920, "public")}),
    (Viewer(50, is_reviewer=True, include_drafts=True, group_ids=(5,)), {(920, "public"), (920, "restricted")}),
    (AUTHOR, {(920, "public"), (920, "restricted"), (921, "public")}),
    (ADMIN, {(920, "public"), (920, "restricted"), (921, "public")}),
])
def test_documents_limited_to_groups_are_found_by_members_authors_and_admins_only(base, viewer, expected):
    base.index(LIMITED)
    for text in ("kowariflux", "kowariflux escalation", "kowari", "kowarifux"):
        results = search(base, text, viewer=viewer, limit=50)
        assert {(h.entry_id, h.audience) for h in results.hits} == expected, text
        assert results.total == len(expected)
        assert ("limited-tag" in results.facets.get("tag", {})) == bool(expected & {(920, "public")})
    assert search(base, "", viewer=viewer, limit=100).total == len(BASE) + len(expected)

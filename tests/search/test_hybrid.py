"""Hybrid search (lexical + semantic) through the search contract, on the embedded backend and a
real Meilisearch, with the real embedding model (search.embedding): no mock."""

from __future__ import annotations

from dataclasses import replace

import pytest

from search.backend import SearchQuery, Viewer
from search.embedding import MODEL_ID, embedder
from search.embedding_indexer import embed_documents
from search.querylog_writer import QueryLogWriter
from tests.search.test_contract import ADMIN, AGENT, AUTHOR, REVIEWER, doc, ids

DOCS = [
    doc(1, "Parcel shows as delivered but never arrived",
        "If tracking says the order was handed over and nothing is at the door, open a carrier trace and "
        "check the neighbours and the safe place first.", tags=("shipping",)),
    doc(2, "Resetting a password", "Send the reset link from the admin console. The link expires after an hour.",
        tags=("account",)),
    doc(3, "Refund an order", "Issue the refund from the billing page; it reaches the card within five days.",
        tags=("billing",)),
    doc(4, "Mobile app signs users out repeatedly",
        "Clear the app cache and update to the latest version; sessions end when the device clock is wrong.",
        tags=("app",)),
    doc(5, "Duplicate charge on a card statement",
        "A pending authorisation can look like a second payment; it drops off after a few days.",
        tags=("billing",)),
    doc(6, "Changing the delivery address", "Addresses can be changed until the parcel leaves the warehouse.",
        tags=("shipping",)),
]  # fmt: skip

# Restricted drafts whose meaning matches "the app keeps logging me out" without sharing its words.
UNSUBMITTED = doc(900, "Zorblat session expiry memo", "Zorblat: sessions of the phone application terminate early.",
                  tags=("secret-draft",), audience="restricted", author_id=7, certified=False, state="draft")
IN_REVIEW = doc(901, "Zorblat sign-in persistence", "Zorblat: the phone application forgets its sign-in.",
                tags=("review-draft",), audience="restricted", author_id=7, certified=False, state="in_review")


def with_vectors(backend, docs):
    """Index lexically, then compute and store the vectors as the indexer's second pass does."""
    backend.index(docs)
    if backend.vector_model() != MODEL_ID:
        backend.reset_vectors(MODEL_ID)
    assert backend.index_vectors(docs, embed_documents(embedder(), docs)) == len(docs)
    return backend


@pytest.fixture
def hybrid(backend):
    return with_vectors(backend, DOCS)


def search(backend, text, viewer=AGENT, **kwargs):
    return backend.search(SearchQuery(text=text, viewer=viewer, **{"semantic": True, **kwargs}))


@pytest.mark.parametrize(("sentence", "expected", "confident"), [
    ("my parcel says delivered but the porch is empty", 1, True),
    ("the app keeps logging me out", 4, True),
    ("you took the money twice this month", 5, False),  # found first, though not a close paraphrase
])
def test_a_customer_sentence_finds_the_article_by_meaning(hybrid, sentence, expected, confident):
    results = search(hybrid, sentence)
    assert ids(results)[0] == expected
    assert results.hits[0].confident is confident


def test_without_semantics_the_sentence_is_not_understood(hybrid):
    results = search(hybrid, "you took the money twice this month", semantic=False)
    assert 5 not in ids(results)[:1]


@pytest.mark.parametrize(("keywords", "expected"), [("refund", 3), ("pasword reset", 2), ("delivery addr", 6)])
def test_keyword_queries_keep_the_exact_match_first(hybrid, keywords, expected):
    assert ids(search(hybrid, keywords))[0] == expected


def test_nothing_confident_for_an_unrelated_query(hybrid):
    results = search(hybrid, "hovercraft lease")
    assert not any(h.confident for h in results.hits)


def test_semantic_side_obeys_filters(hybrid):
    results = search(hybrid, "my parcel says delivered but the porch is empty", tags=("billing",))
    assert 1 not in ids(results)
    assert set(results.facets["tag"]) <= {"billing"}


@pytest.mark.parametrize("viewer", [AGENT, Viewer(99, include_drafts=True), Viewer(8, include_drafts=True),
                                    Viewer(50, is_reviewer=True)])
def test_a_drafts_meaning_never_reaches_who_may_not_see_it(hybrid, viewer):
    with_vectors(hybrid, [UNSUBMITTED, IN_REVIEW])
    results = search(hybrid, "the app keeps logging me out", viewer=viewer, limit=50)
    assert not {900, 901} & set(ids(results))
    assert "secret-draft" not in results.facets["tag"] and "review-draft" not in results.facets["tag"]
    assert results.total == len(search(hybrid, "the app keeps logging me out", viewer=AGENT, limit=50).hits)


def test_drafts_by_meaning_for_their_author_reviewers_in_review_and_admins(hybrid):
    with_vectors(hybrid, [UNSUBMITTED, IN_REVIEW])
    sentence = "the app keeps logging me out"
    assert {900, 901} <= set(ids(search(hybrid, sentence, viewer=AUTHOR, limit=50)))
    assert {900, 901} <= set(ids(search(hybrid, sentence, viewer=ADMIN, limit=50)))
    reviewer = ids(search(hybrid, sentence, viewer=REVIEWER, limit=50))
    assert 901 in reviewer and 900 not in reviewer  # another author's unsubmitted draft: no


def test_a_new_revision_drops_the_old_vectors_until_embedded_again(hybrid):
    changed = replace(DOCS[4], revision_id=51, title="Card statement", body="Statements list every card payment.")
    hybrid.index([changed])
    assert [d.id for d in hybrid.missing_vectors(DOCS)] == [changed.id]
    assert hybrid.missing_vectors([changed]) == [changed]
    assert hybrid.index_vectors([DOCS[4]], embed_documents(embedder(), [DOCS[4]])) == 0  # stale: refused


def test_a_model_change_drops_every_vector(hybrid):
    assert hybrid.vector_model() == MODEL_ID and hybrid.missing_vectors(DOCS) == []
    hybrid.reset_vectors("another-model")
    assert hybrid.vector_model() == "another-model"
    assert len(hybrid.missing_vectors(DOCS)) == len(DOCS)
    results = search(hybrid, "you took the money twice this month")
    assert all(h.entry_id != 5 or not h.confident for h in results.hits[:1])


def test_an_uncertified_question_does_not_outrank_the_certified_answer(backend):
    question = doc(20, "Parcel delivered but not there?", "Tracking says delivered but the customer has nothing.",
                   kind="question", certified=False, state="open")
    with_vectors(backend, DOCS + [question])
    assert ids(search(backend, "parcel delivered but not received"))[0] == 1


def test_confidence_needs_most_words_or_the_meaning():
    from search.fusion import is_confident

    assert is_confident(coverage=1.0, similarity=None)  # keywords: every word found
    assert not is_confident(coverage=0.5, similarity=None)  # "hovercraft lease": half of them
    assert is_confident(coverage=0.0, similarity=0.45)  # the same meaning in other words
    # A sentence's common words in an unrelated text are a coincidence.
    assert not is_confident(coverage=1.0, similarity=0.1, sentence=True)
    assert is_confident(coverage=0.75, similarity=0.3, sentence=True)


def test_a_model_file_that_is_not_the_pinned_one_is_refused(tmp_path):
    from search.embedding import TOKENIZER_SHA256, Embedder, ModelFileError, model_dir

    tampered = tmp_path / "tokenizer.json"
    tampered.write_bytes((model_dir() / "tokenizer.json").read_bytes() + b" ")
    with pytest.raises(ModelFileError, match=f"expected {TOKENIZER_SHA256}"):
        Embedder(tokenizer=tampered)
    with pytest.raises(ModelFileError, match="install-embedding-model.sh"):
        Embedder(tokenizer=tmp_path / "missing.json")


# --- the helpdesk side panel: a whole ticket as the query ----------------------------------------


def test_a_ticket_finds_its_certified_answer_by_meaning_and_never_a_draft(hybrid, db, engine, make_user):
    from kb.db import unit_of_work
    from search.querylog import SearchLog
    from search.service import TICKET_TEXT_CHARS, answers_for_ticket
    from tests.helpers import rows

    for draft in (UNSUBMITTED, IN_REVIEW):
        with_vectors(hybrid, [draft])
    admin = make_user("admin")  # sees drafts on the search page when asking for them; never here
    text = ("Hello, the tracking page says my parcel was delivered on Monday but the porch was empty "
            "and the neighbours have nothing. " + "Zorblat phone application. " * 200)
    assert len(text) > TICKET_TEXT_CHARS
    query_log = QueryLogWriter(lambda: unit_of_work(engine), batch_seconds=0)
    searched = answers_for_ticket(session=db, backend=hybrid, actor=admin, query_log=query_log,
                                  subject="Where is my order?", text=text)
    found = [hit.entry_id for hit in searched.results.hits]
    assert found[0] == 1 and 900 not in found and 901 not in found and len(found) <= 5
    assert all(hit.certified for hit in searched.results.hits)
    assert rows(db, SearchLog)[-1].query.startswith("Where is my order?\nHello, the tracking page")


# An article limited to a group (audiences) whose meaning matches the sentence without its words.
LIMITED = replace(doc(930, "Zorblat handset logout notes", "Zorblat: the phone application forgets its sign-in.",
                      tags=("limited-tag",), author_id=7), groups=("g5",))


def test_a_limited_articles_meaning_reaches_its_groups_members_only(hybrid):
    with_vectors(hybrid, [LIMITED])
    sentence = "the app keeps logging me out"
    for viewer in (AGENT, Viewer(99, group_ids=(6,)), Viewer(50, is_reviewer=True, include_drafts=True)):
        results = search(hybrid, sentence, viewer=viewer, limit=50)
        assert 930 not in ids(results) and "limited-tag" not in results.facets["tag"]
    for viewer in (Viewer(99, group_ids=(5,)), AUTHOR, ADMIN):
        assert 930 in ids(search(hybrid, sentence, viewer=viewer, limit=50))


def test_the_vector_stores_own_mask_keeps_limited_documents_to_their_groups(tmp_path):
    from search.embedded import EmbeddedBackend
    from search.embedding import query_vector
    from search.visibility import vector_mask

    backend = with_vectors(EmbeddedBackend(tmp_path / "search", semantic=True), [*DOCS, LIMITED])
    try:
        vector = query_vector("the app keeps logging me out")

        def nearest(viewer):
            return {doc_id for doc_id, _ in backend._vectors.nearest(vector, vector_mask(viewer), limit=50)}

        assert "930:public" not in nearest(AGENT) and "930:public" not in nearest(Viewer(99, group_ids=(6,)))
        assert "4:public" in nearest(AGENT)
        for viewer in (Viewer(99, group_ids=(5,)), AUTHOR, ADMIN):
            assert "930:public" in nearest(viewer)
    finally:
        backend.close()


def test_warming_up_loads_the_vectors_before_the_first_search(tmp_path):
    """A server warms hybrid search up when it starts: the first agents' searches do not all wait
    for the vectors (and the model) to load."""
    from search.embedded import EmbeddedBackend

    with_vectors(EmbeddedBackend(tmp_path / "search", semantic=True), DOCS).close()
    opened = EmbeddedBackend(tmp_path / "search", semantic=True)  # as a freshly started server opens it
    try:
        assert opened._vectors.count == 0
        opened.warm()
        assert opened._vectors.count == len(DOCS)
    finally:
        opened.close()


def test_a_second_process_sees_the_vectors_the_first_one_writes_on_its_next_search(tmp_path):
    """The indexer writes vectors, web workers search them: each worker's store notices the other
    process's changes (new vectors, a document's vectors dropped) without being reopened, while a
    search with nothing new reads nothing but the file's change counter."""
    from search.embedded import EmbeddedBackend
    from search.embedding import query_vector
    from search.visibility import vector_mask

    writer = with_vectors(EmbeddedBackend(tmp_path / "search", semantic=True), DOCS[:3])
    reader = EmbeddedBackend(tmp_path / "search", semantic=True)
    vector = query_vector("the app keeps logging me out")

    def nearest():
        reader._vectors.refresh()  # what every hybrid search does first
        return [doc_id for doc_id, _ in reader._vectors.nearest(vector, vector_mask(AGENT), limit=10)]

    try:
        assert "4:public" not in nearest()
        with_vectors(writer, DOCS[3:])
        assert nearest()[0] == "4:public"
        writer.delete(["4:public"])
        assert "4:public" not in nearest() and len(nearest()) == len(DOCS) - 1
    finally:
        writer.close()
        reader.close()


def test_a_change_during_a_scan_is_not_mixed_into_its_result(tmp_path):
    """Searches scan the vectors outside the store's lock; a change that lands during a scan (the
    indexer dropping a document's vectors) makes the scan start again, so the result never holds
    a document that is gone, nor another document's similarity."""
    import numpy as np

    from search.embedded import EmbeddedBackend
    from search.embedding import query_vector
    from search.visibility import vector_mask

    writer = with_vectors(EmbeddedBackend(tmp_path / "search", semantic=True), DOCS)
    reader = EmbeddedBackend(tmp_path / "search", semantic=True)
    store = reader._vectors
    store.refresh()
    scans = []

    class Hooked(np.ndarray):
        def __matmul__(self, other):
            scans.append(1)
            if len(scans) == 1:  # the first scan: the indexer drops document 4 meanwhile
                writer.delete(["4:public"])
                store.refresh()
            return np.asarray(self) @ other

    try:
        store._matrix = store._matrix.view(Hooked)
        found = dict(store.nearest(query_vector("the app keeps logging me out"), vector_mask(AGENT), limit=10))
        assert len(scans) == 2  # scanned again after the change
        assert "4:public" not in found and found
        fresh = dict(reader._vectors.nearest(query_vector("the app keeps logging me out"), vector_mask(AGENT), limit=10))
        assert found == pytest.approx(fresh)
    finally:
        writer.close()
        reader.close()

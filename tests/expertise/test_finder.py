"""The expert finder: Model 2 over the search results, combined with topic expertise; evidence
only as far as the viewer may see it; and, on the demo data, the seeded expert first per topic."""

from __future__ import annotations

import uuid

import pytest
from sqlmodel import delete, select

from kb.accounts import service as accounts
from kb.accounts.models import Role
from kb.accounts.schemas import UserCreate
from kb.content import service as content
from kb.content.forum import answer_question, ask_question
from kb.content.models import Entry, Revision, Tag
from kb.content.schemas import AnswerCreate, ArticleCreate, QuestionCreate, RevisionCreate
from kb.errors import ValidationFailed
from cli.bootstrap import bootstrap
from expertise import finder
from expertise.models import ExpertiseScore
from search.backend import SearchQuery
from search.embedded import EmbeddedBackend
from search.service import reindex
from workflow import service as workflow
from workflow.models import Action, TopicExpert
from kb.accounts.actors import SYSTEM


@pytest.fixture(autouse=True)
def _reactions():
    bootstrap()  # as the app and the CLI do


@pytest.fixture
def backend(tmp_path):
    instance = EmbeddedBackend(tmp_path / "search")
    yield instance
    instance.close()


def person(db, *roles: str, name: str):
    data = UserCreate(email=f"{name.split()[0].lower()}-{uuid.uuid4().hex[:6]}@example.com", display_name=name,
                      roles=[Role(r) for r in roles], password=None)
    return accounts.create_user(session=db, actor=SYSTEM, data=data)


def article(db, author, title: str, body: str, tags=("refunds",)) -> Entry:
    return content.create_article(session=db, actor=author, data=ArticleCreate(title=title, body=body,
                                                                               tags=list(tags)))


def tag_id(db, name: str) -> int:
    return db.exec(select(Tag.id).where(Tag.name == name)).one()


# --- the maths -------------------------------------------------------------------------------------


def test_model2_sums_relevance_times_share_per_candidate():
    relevance = {1: 0.75, 2: 0.25}
    shares = {1: {10: 2 / 3, 20: 1 / 3}, 2: {20: 1.0}}
    result = finder.model2(relevance, shares)
    assert result[10] == pytest.approx({1: 0.5})
    assert result[20] == pytest.approx({1: 0.25, 2: 0.25})
    assert sum(sum(docs.values()) for docs in result.values()) == pytest.approx(1.0)  # all relevance shared out


@pytest.fixture
def refunds(db, engine, backend):
    """A small world about refunds, indexed. Maria wrote most of it; Priya certified one of her
    articles; Sam answered in the forum; Ian wrote one and left the company."""
    cast = {
        "maria": person(db, "author", "expert", name="Maria Lopez"),
        "sam": person(db, "author", "expert", name="Sam Okafor"),
        "priya": person(db, "expert", name="Priya Nair"),
        "ian": person(db, "author", name="Ian Gone"),
        "agent": person(db, "agent", name="Alex Agent"),
        "admin": person(db, "admin", name="Ada Admin"),
    }
    db.flush()
    closed = article(db, cast["maria"], "Refund to a closed card",
                     "When the card is closed the bank forwards the refund to the new card.")
    db.add(TopicExpert(tag_id=tag_id(db, "refunds"), user_id=cast["priya"].id))
    for actor, action in ((cast["maria"], Action.submit), (cast["priya"], Action.approve),
                          (cast["priya"], Action.certify)):
        workflow.transition(session=db, actor=actor, revision_id=closed.latest_revision_id, action=action)
    db.refresh(closed)
    content.save_revision(session=db, actor=cast["maria"], entry=closed, data=RevisionCreate(
        title="Secret refund plan", body="A refund draft nobody outside may read yet.", tags=["refunds"],
        base_revision_id=closed.latest_revision_id))
    partial = article(db, cast["maria"], "Partial refunds and goodwill", "Agents may refund up to 20 euros.")
    question = ask_question(session=db, actor=cast["agent"], data=QuestionCreate(
        title="Late express parcel", body="The customer wants a refund of the express fee.",
        tags=["refunds", "shipping"]))
    answer = answer_question(session=db, actor=cast["sam"], question=question, data=AnswerCreate(
        body="Refund the express fee in full; no need to ask the carrier first."))
    gone = article(db, cast["ian"], "Refunds for damaged goods", "Refund once the photo arrives.")
    article(db, cast["sam"], "Shipping options", "Standard, express and next day.", tags=("shipping",))
    cast["ian"].is_active = False
    # Topic expertise as the scores engine would leave it (set last, after the commit at which the
    # events above recompute scores: nothing recomputes it then).
    db.commit()
    db.exec(delete(ExpertiseScore))
    db.add(ExpertiseScore(user_id=cast["maria"].id, tag_id=tag_id(db, "refunds"), score=6.0, components={}))
    db.add(ExpertiseScore(user_id=cast["sam"].id, tag_id=tag_id(db, "refunds"), score=3.0, components={}))
    db.commit()
    reindex(engine=engine, backend=backend)
    return {**cast, "closed": closed, "partial": partial, "question": question, "answer": answer, "gone": gone}


def test_experts_are_ranked_by_model_2_and_topic_expertise(db, backend, refunds):
    # An administrator may open everything, so every matching document takes part.
    experts = finder.find_experts(session=db, backend=backend, viewer=refunds["admin"], query="refunds")

    # p(q|d): the search scores of the matching articles and answers (best version of each entry),
    # normalised; the question and the shipping article take no part.
    hits = backend.search(SearchQuery(text="refunds", viewer=finder.EVERYTHING, kinds=finder.DOCUMENT_KINDS,
                                      limit=finder.DOCUMENTS)).hits
    best: dict[int, float] = {}
    for hit in hits:
        best[hit.entry_id] = max(best.get(hit.entry_id, 0.0), hit.score)
    closed, partial, answer, gone = (refunds[k].id for k in ("closed", "partial", "answer", "gone"))
    assert set(best) == {closed, partial, answer, gone}
    p = {entry: score / sum(best.values()) for entry, score in best.items()}

    # a(d, ca): Maria wrote the certified revision (and the draft after it), Priya certified it.
    closed_total = finder.AUTHOR_WEIGHT + finder.CERTIFIER_WEIGHT
    content_scores = {
        "maria": p[closed] * finder.AUTHOR_WEIGHT / closed_total + p[partial],
        "priya": p[closed] * finder.CERTIFIER_WEIGHT / closed_total,
        "sam": p[answer],
    }
    # Topic: "refunds" is the only topic of the query that anyone has expertise in. Maria has the
    # best score, Priya is designated (full expertise), Sam has half of Maria's score.
    topic_scores = {"maria": 1.0, "priya": 1.0, "sam": 0.5}
    best_content = max(content_scores.values())
    expected = {who: (1 - finder.TOPIC_WEIGHT) * content_scores[who] / best_content
                + finder.TOPIC_WEIGHT * topic_scores[who] for who in content_scores}

    assert [e.user.id for e in experts] == [refunds[who].id for who in sorted(expected, key=lambda w: -expected[w])]
    for expert in experts:
        who = next(k for k in expected if refunds[k].id == expert.user.id)
        assert expert.score == pytest.approx(expected[who])
    assert refunds["ian"].id not in {e.user.id for e in experts}  # inactive: never suggested
    assert experts[0].user.id == refunds["maria"].id and experts[0].score == pytest.approx(1.0)


def test_evidence_shows_only_what_the_viewer_may_see(db, backend, refunds):
    by_agent = {e.user.id: e for e in finder.find_experts(session=db, backend=backend, viewer=refunds["agent"],
                                                          query="refunds")}
    maria = by_agent[refunds["maria"].id]
    # The certified article under its certified title. Her draft article takes no part at all
    # (issue 12: the finder must not know more than the viewer).
    assert [(ev.entry.id, ev.title, ev.wrote) for ev in maria.evidence] == [
        (refunds["closed"].id, "Refund to a closed card", True)]
    assert maria.matching == 1 and maria.why.startswith("1 matching entry")
    assert not any("Secret" in ev.title for e in by_agent.values() for ev in e.evidence)
    sam = by_agent[refunds["sam"].id]
    assert [ev.entry.id for ev in sam.evidence] == [refunds["answer"].id]  # forum answers are for everyone
    priya = by_agent[refunds["priya"].id]
    assert [(ev.entry.id, ev.wrote) for ev in priya.evidence] == [(refunds["closed"].id, False)]
    assert "expert of refunds" in priya.why

    # Maria sees her own draft, and her latest title.
    mine = next(e for e in finder.find_experts(session=db, backend=backend, viewer=refunds["maria"], query="refunds")
                if e.user.id == refunds["maria"].id)
    assert {(ev.entry.id, ev.title) for ev in mine.evidence} == {
        (refunds["closed"].id, "Secret refund plan"), (refunds["partial"].id, "Partial refunds and goodwill")}

    # A reviewer (expert) who may not see Maria's drafts is not told about them either.
    by_reviewer = {e.user.id: e for e in finder.find_experts(session=db, backend=backend, viewer=refunds["priya"],
                                                             query="refunds")}
    reviewer = by_reviewer[refunds["maria"].id]
    assert reviewer.matching == 1 and reviewer.more == 0
    assert not any("Secret" in ev.title for ev in reviewer.evidence)
    assert [ev.entry.id for ev in by_reviewer[refunds["sam"].id].evidence] == [refunds["answer"].id]


def test_the_question_can_be_asked_as_a_question(db, backend, refunds):
    plain = finder.find_experts(session=db, backend=backend, viewer=refunds["agent"], query="refunds")
    asked = finder.find_experts(session=db, backend=backend, viewer=refunds["agent"], query="Who knows about refunds?")
    assert [(e.user.id, e.score) for e in asked] == [(e.user.id, e.score) for e in plain]
    for empty in ("", "   ", "who knows about?"):
        with pytest.raises(ValidationFailed, match="Say what the expert should know about"):
            finder.find_experts(session=db, backend=backend, viewer=refunds["agent"], query=empty)


def test_directory_lists_designated_experts_first_then_top_scorers(db, refunds):
    rows = {t.topic: t for t in finder.directory(session=db, viewer=refunds["agent"])}
    assert [(x.user.display_name, x.designated) for x in rows["refunds"].experts] == [
        ("Priya Nair", True), ("Maria Lopez", False), ("Sam Okafor", False)]
    assert "shipping" not in rows  # nobody is designated or scored in it


def test_the_directory_names_a_topic_only_drafts_carry_only_to_those_who_may_open_them(db, refunds):
    """Regression (issue 12, defect 16): the directory listed every topic anyone had expertise in,
    so a draft's tag showed through its reviewers' or declarers' scores."""
    article(db, refunds["maria"], "Pricing", "Next year.", tags=("secret-pricing",))
    db.add(TopicExpert(tag_id=tag_id(db, "secret-pricing"), user_id=refunds["priya"].id))
    db.commit()
    for viewer in ("agent", "sam", "priya"):
        assert "secret-pricing" not in {t.topic for t in finder.directory(session=db, viewer=refunds[viewer])}
    for viewer in ("maria", "admin"):
        assert "secret-pricing" in {t.topic for t in finder.directory(session=db, viewer=refunds[viewer])}


# --- the demo data ---------------------------------------------------------------------------------


def test_on_the_demo_data_the_seeded_expert_of_each_topic_comes_first(db, engine, backend):
    from tests.helpers import load_demo_with_ratings, loaded_once
    from workflow.demo_states import ALL_TOPICS, TOPIC_EXPERTS

    # Votes, case links, endorsements, scores: all of `kb demo`.
    demo = loaded_once(db, "demo with ratings", lambda: load_demo_with_ratings(db))
    assert demo.votes and demo.reuses and demo.scores
    reindex(engine=engine, backend=backend)
    agent = accounts.find_user_by_email(session=db, email="agent@example.com")
    seeded = {topic: email for email, topics in TOPIC_EXPERTS.items() for topic in topics}
    # expert@example.com is designated for every topic; the demo gives devices no other expert.
    seeded["devices"] = "expert@example.com"
    assert set(seeded) == set(ALL_TOPICS)

    for topic, email in seeded.items():
        expected = accounts.find_user_by_email(session=db, email=email)
        experts = finder.find_experts(session=db, backend=backend, viewer=agent, query=topic.replace("-", " "))
        top = experts[0]
        assert top.user.id == expected.id, (topic, [(e.user.display_name, round(e.score, 3)) for e in experts[:3]])
        assert f"expert of {topic}" in top.why
        # The evidence lists their entries (what an agent may see), the ones they wrote first.
        assert top.evidence, topic
        wrote = set(db.exec(select(Revision.entry_id).where(Revision.author_id == expected.id)))
        assert top.evidence[0].entry.id in wrote and top.evidence[0].wrote
        assert all(ev.wrote == (ev.entry.id in wrote) for ev in top.evidence)
        assert all(content.visible_revision(session=db, actor=agent, entry=ev.entry) for ev in top.evidence)


# --- no oracle for drafts (issue 12, defect 8) -------------------------------------------------


def test_a_word_only_drafts_contain_names_nobody_who_may_not_open_them(db, engine, backend, refunds):
    """Regression: an agent asking about a word that exists only in a private, in-review or
    rejected revision got its author named."""
    maria, priya, sam = refunds["maria"], refunds["priya"], refunds["sam"]
    other_expert = person(db, "expert", name="Olga Other")
    article(db, maria, "Pricing", "Next year: Quokkaplan pricing.", tags=("pricing",))
    in_review = article(db, maria, "Loyalty", "Loyalty points: Wombatier levels.", tags=("loyalty",))
    workflow.transition(session=db, actor=maria, revision_id=in_review.latest_revision_id, action=Action.submit)
    rejected = article(db, sam, "Fees", "Fees: Platypusfee.", tags=("surcharges",))
    workflow.transition(session=db, actor=sam, revision_id=rejected.latest_revision_id, action=Action.submit)
    workflow.transition(session=db, actor=priya, revision_id=rejected.latest_revision_id, action=Action.reject,
                        comment="Not our policy.")
    db.commit()
    reindex(engine=engine, backend=backend)

    def named(viewer, word):
        return {e.user.id for e in finder.find_experts(session=db, backend=backend, viewer=viewer, query=word)}

    for viewer in (refunds["agent"], refunds["ian"], other_expert):
        assert named(viewer, "Quokkaplan") == set()
        assert named(viewer, "Platypusfee") == set()
    assert named(refunds["agent"], "Wombatier") == set()
    # Topics named by the query count only when the viewer may see them in use.
    for topic in ("pricing", "loyalty", "surcharges"):
        assert named(refunds["agent"], topic) == set(), topic
    # Who may open the revision still finds its author.
    assert named(maria, "Quokkaplan") == {maria.id}
    assert named(other_expert, "Wombatier") == {maria.id}  # in review: experts may read it
    # Rejected work shows no knowledge; the expert who reviewed it knows its topic.
    assert named(sam, "Platypusfee") == {priya.id} == named(refunds["admin"], "Platypusfee")

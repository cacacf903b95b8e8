""""Who knows about X?": document-centric expert finding (Balog, Azzopardi, de Rijke 2006, Model 2),
combined with topic expertise; and the experts directory by topic.

Model 2 ranks a candidate by the relevance of the documents associated with them::

    content(ca, q) = Σ_d p(q|d) · a(d, ca)

* The documents are the top ``DOCUMENTS`` articles and answers the search finds for the query,
  over the content the viewer may open (``kb.content.access``: for agents certified articles and
  forum answers; authors, experts and admins also the drafts and revisions in review they may see,
  since knowledge shows in work not yet certified). An entry found twice (its certified and its
  newer revision) counts once, at its best score. ``p(q|d)`` is the search score normalised over
  these documents.
* ``a(d, ca)`` is the candidate's share of the document, summing to 1 per document (the
  document-centric normalisation: the candidate-centric ``p(d|ca)`` of the paper favours people
  who wrote little). Shares are in proportion to ``AUTHOR_WEIGHT`` for the author of the
  certified revision (or of the latest the viewer may see when none is certified), ``EDITOR_WEIGHT``
  for every other author of a revision the viewer may see that was not rejected, and
  ``CERTIFIER_WEIGHT`` for the expert who certified it (vouching for content takes knowing it, but
  less than writing it). An answer belongs to its author the same way. Questions are not
  documents here: asking shows a need, not knowledge.

Topic expertise: the query's topics are the tags it names (by stem, "refund" names "refunds"; only
tags the viewer may see in use) and the tags of the matching documents, weighted by their
relevance; a candidate's topic score is the weighted sum of their expertise in each topic: the
``ExpertiseScore`` scaled by the topic's best, or 1 for a designated expert. Both parts are scaled
to [0, 1] and combined as ``(1 - TOPIC_WEIGHT) · content + TOPIC_WEIGHT · topic``.

Evidence is the candidate's documents, best first, with the title of the revision the viewer may
see. Scores and evidence come only from what the viewer may open (``kb.content.access``): asking
about a word that only a private, in-review or rejected draft contains names nobody, so the finder
is no oracle for drafts.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from sqlalchemy import func
from sqlmodel import Session, select

from kb.accounts.models import User
from kb.content import access
from kb.content import service as content
from kb.content.models import Entry, EntryKind, Revision, RevisionState, Tag
from kb.errors import ValidationFailed
from expertise.models import ExpertiseScore
from expertise.routing import TopicCandidate, candidate_order
from search.backend import SearchBackend, SearchQuery, Viewer
from search.service import backend_answers
from search import synonyms
from search.analysis import analyze
from workflow.models import Certification, TopicExpert

DOCUMENTS = 100  # top documents of the search that take part
TOPIC_WEIGHT = 0.3  # share of topic expertise in the final score (the rest: matching documents)
AUTHOR_WEIGHT = 2.0
EDITOR_WEIGHT = 1.0
CERTIFIER_WEIGHT = 0.25
NAMED_TOPIC_WEIGHT = 1.0  # a tag the query names weighs as much as all matching documents' tags together
DESIGNATED_EXPERTISE = 1.0
MAX_EXPERTS = 10
MAX_EVIDENCE = 10
MIN_SCORE = 0.01  # below this, a faint trace of a topic rather than knowledge worth a colleague's time
WHY_TOPICS = 3  # topics named in an expert's "why" when the query names none
MAX_QUERY_LENGTH = 200
DOCUMENT_KINDS = (EntryKind.article.value, EntryKind.answer.value)
# The index is asked for every document (twice as many as take part, for the ones the viewer may
# not open); each hit is then checked against the viewer's own visibility.
EVERYTHING = Viewer(user_id=0, is_admin=True, is_reviewer=True, include_drafts=True)
_PHRASING = re.compile(r"^who\s+(?:knows|can\s+help)(?:\s+(?:about|with))?\b", re.IGNORECASE)


@dataclass(frozen=True)
class Evidence:
    entry: Entry
    title: str  # of the revision the viewer may see
    weight: float  # p(q|d) · a(d, ca): what this entry adds to the candidate's content score
    wrote: bool = True  # False: they certified it (someone else wrote it)


@dataclass
class Expert:
    user: User
    score: float
    content_score: float = 0.0
    topic_score: float = 0.0
    evidence: list[Evidence] = field(default_factory=list)  # best first
    matching: int = 0  # every matching entry behind the score (all of them visible to the viewer)
    designated_in: list[str] = field(default_factory=list)  # query topics they are designated for
    knows: list[str] = field(default_factory=list)  # other query topics they have expertise in

    @property
    def more(self) -> int:
        """Matching entries beyond the ``MAX_EVIDENCE`` listed."""
        return self.matching - len(self.evidence)

    @property
    def why(self) -> str:
        parts = []
        if self.matching:
            parts.append(f"{self.matching} matching entr{'y' if self.matching == 1 else 'ies'}")
        if self.designated_in:
            parts.append(f"expert of {', '.join(self.designated_in)}")
        if self.knows:
            parts.append(f"knows {', '.join(self.knows)}")
        return ", ".join(parts)


def clean_query(text: str) -> str:
    """The subject of the question: "Who knows about refunds?" asks about "refunds"."""
    return _PHRASING.sub("", (text or "").strip().rstrip("?").strip()).strip()


# --- the model ---------------------------------------------------------------------------------


def model2(relevance: Mapping[int, float], shares: Mapping[int, Mapping[int, float]]) -> dict[int, dict[int, float]]:
    """Per candidate, what each document adds (p(q|d) · a(d, ca)); their sum is the candidate's score."""
    result: dict[int, dict[int, float]] = defaultdict(dict)
    for entry_id, p in relevance.items():
        for user_id, share in shares.get(entry_id, {}).items():
            if p * share > 0:
                result[user_id][entry_id] = p * share
    return dict(result)


def document_relevance(*, session: Session, backend: SearchBackend, text: str,
                       viewer: User) -> tuple[dict[int, float], dict[int, list[str]]]:
    """p(q|d) for the top documents of a search over what ``viewer`` may open, and their tags."""
    results = backend.search(SearchQuery(text=text, viewer=EVERYTHING, kinds=DOCUMENT_KINDS, limit=2 * DOCUMENTS))
    # A hit is taken only when the viewer may open its revision (``kb.content.access``, the rule of
    # the entry pages), so the finder never knows more than the viewer: agents count certified
    # articles and forum answers, never a draft.
    seen = _visible_revision_ids(session, viewer, [hit.revision_id for hit in results.hits])
    best: dict[int, float] = {}
    tags: dict[int, list[str]] = {}
    for hit in results.hits:
        if hit.revision_id not in seen:
            continue
        if hit.entry_id not in best or hit.score > best[hit.entry_id]:
            best[hit.entry_id], tags[hit.entry_id] = max(hit.score, 0.0), list(hit.tags)
    total = sum(best.values())
    if total <= 0:  # a backend without scores: every document found counts the same
        return {e: 1 / len(best) for e in best}, tags
    return {e: s / total for e, s in best.items()}, tags


def _visible_revision_ids(session: Session, viewer: User, revision_ids: list[int]) -> set[int]:
    if not revision_ids:
        return set()
    return set(session.exec(select(Revision.id).join(Entry, Entry.id == Revision.entry_id)
                            .where(Revision.id.in_(revision_ids), access.revision_visible(viewer))))


def contribution_shares(*, session: Session, entry_ids: list[int], viewer: User) -> dict[int, dict[int, float]]:
    """a(d, ca): each entry's contributors and their shares (summing to 1 per entry), from the
    revisions ``viewer`` may see."""
    return _contributions(session, entry_ids, viewer)[0]


def _contributions(session: Session, entry_ids: list[int],
                   viewer: User) -> tuple[dict[int, dict[int, float]], set[tuple[int, int]]]:
    """The shares, and the (entry, user) pairs of certifiers who wrote nothing in the entry."""
    if not entry_ids:
        return {}, set()
    entries = {e.id: e for e in session.exec(select(Entry).where(Entry.id.in_(entry_ids)))}
    authors: dict[int, dict[int, int]] = defaultdict(dict)  # entry -> revision id -> author
    newest: dict[int, int] = {}  # entry -> the newest revision the viewer may see (rejected or not)
    for entry_id, revision_id, author_id, state in session.exec(
            select(Revision.entry_id, Revision.id, Revision.author_id, Revision.state)
            .join(Entry, Entry.id == Revision.entry_id)
            .where(Revision.entry_id.in_(entry_ids), access.revision_visible(viewer))
            .order_by(Revision.number)):
        newest[entry_id] = revision_id
        if state != RevisionState.rejected.value:
            authors[entry_id][revision_id] = author_id
    certifiers = dict(session.exec(select(Certification.entry_id, Certification.certified_by)
                                   .where(Certification.entry_id.in_(entry_ids))).all())
    shares: dict[int, dict[int, float]] = {}
    certified_only: set[tuple[int, int]] = set()
    for entry_id, entry in entries.items():
        weights: dict[int, float] = {a: EDITOR_WEIGHT for a in authors[entry_id].values()}
        main_revision = entry.certified_revision_id or newest.get(entry_id)
        if main_revision not in authors[entry_id]:
            continue  # its latest revision was rejected: rejected work shows no knowledge
        weights[authors[entry_id][main_revision]] = AUTHOR_WEIGHT
        certifier = certifiers.get(entry_id) if entry.certified_revision_id else None
        if certifier is not None and certifier not in weights:
            weights[certifier] = CERTIFIER_WEIGHT
            certified_only.add((entry_id, certifier))
        total = sum(weights.values())
        shares[entry_id] = {user_id: w / total for user_id, w in weights.items()}
    return shares, certified_only


@lru_cache(maxsize=4096)
def _stems(tag: str) -> frozenset[str]:
    return frozenset(analyze(tag.replace("-", " ")))


def named_topics(*, session: Session, text: str, viewer: User) -> dict[int, str]:
    """The tags the query names (every word of the tag, by stem) that ``viewer`` may see in use,
    id -> name."""
    stems = set(analyze(text))
    named = {tag_id: name for name, tag_id in session.exec(select(Tag.name, Tag.id)).all()
             if _stems(name) and _stems(name) <= stems}
    shown = content.visible_tag_names(session=session, actor=viewer, names=named.values())
    return {tag_id: name for tag_id, name in named.items() if name in shown}


def query_topics(*, session: Session, named: Mapping[int, str], relevance: Mapping[int, float],
                 tags: Mapping[int, list[str]]) -> dict[int, float]:
    """Weights of the query's topics (tag id -> weight, summing to 1): the tags of the matching
    documents by their relevance, plus ``NAMED_TOPIC_WEIGHT`` for each tag the query names."""
    by_name: dict[str, float] = defaultdict(float)
    for entry_id, p in relevance.items():
        for name in tags.get(entry_id, []):
            by_name[name] += p / len(tags[entry_id])
    ids = dict(session.exec(select(Tag.name, Tag.id).where(Tag.name.in_(list(by_name) or [""]))).all())
    weights: dict[int, float] = defaultdict(float)
    for name, w in by_name.items():
        if name in ids:
            weights[ids[name]] += w
    for tag_id in named:
        weights[tag_id] += NAMED_TOPIC_WEIGHT
    total = sum(weights.values())
    return {t: w / total for t, w in weights.items() if w > 0} if total else {}


def topic_expertise(*, session: Session, topics: Mapping[int, float]) -> dict[int, dict[int, float]]:
    """Per candidate, their expertise in each query topic, in [0, 1]."""
    if not topics:
        return {}
    tag_ids = list(topics)
    best = dict(session.exec(select(ExpertiseScore.tag_id, func.max(ExpertiseScore.score))
                             .where(ExpertiseScore.tag_id.in_(tag_ids)).group_by(ExpertiseScore.tag_id)).all())
    result: dict[int, dict[int, float]] = defaultdict(dict)
    for user_id, tag_id, score in session.exec(select(ExpertiseScore.user_id, ExpertiseScore.tag_id,
                                                      ExpertiseScore.score)
                                               .where(ExpertiseScore.tag_id.in_(tag_ids), ExpertiseScore.score > 0)):
        result[user_id][tag_id] = score / best[tag_id] if best.get(tag_id) else 0.0
    for user_id, tag_id in session.exec(select(TopicExpert.user_id, TopicExpert.tag_id)
                                        .where(TopicExpert.tag_id.in_(tag_ids))):
        result[user_id][tag_id] = max(result[user_id].get(tag_id, 0.0), DESIGNATED_EXPERTISE)
    return dict(result)


# --- the finder --------------------------------------------------------------------------------


def find_experts(*, session: Session, backend: SearchBackend, viewer: User, query: str,
                 limit: int = MAX_EXPERTS) -> list[Expert]:
    """The people who know most about ``query``, best first, with the evidence ``viewer`` may see;
    ``SearchUnavailable`` when the search backend does not answer."""
    text = clean_query(query)
    if not text:
        raise ValidationFailed("Say what the expert should know about, for example “refunds”.", field="q")
    if len(text) > MAX_QUERY_LENGTH:
        raise ValidationFailed(f"Keep the question under {MAX_QUERY_LENGTH} characters.", field="q")
    with backend_answers("expert finder"):  # SearchUnavailable: say so rather than pretend nobody knows
        synonyms.sync(session=session, backend=backend)  # the admins' rules, as a search would use them
        relevance, tags = document_relevance(session=session, backend=backend, text=text, viewer=viewer)
    shares, certified_only = _contributions(session, list(relevance), viewer)
    contributions = model2(relevance, shares)
    named = named_topics(session=session, text=text, viewer=viewer)
    topics = query_topics(session=session, named=named, relevance=relevance, tags=tags)
    expertise = topic_expertise(session=session, topics=topics)

    content_scores = {u: sum(docs.values()) for u, docs in contributions.items()}
    topic_scores = {u: sum(topics[t] * e for t, e in per_topic.items()) for u, per_topic in expertise.items()}
    best_content = max(content_scores.values(), default=0.0) or 1.0
    best_topic = max(topic_scores.values(), default=0.0) or 1.0
    candidates = set(content_scores) | set(topic_scores)
    users = {u.id: u for u in session.exec(select(User).where(User.id.in_(candidates or [-1]),
                                                              User.is_active.is_(True)))}
    experts = []
    for user_id, user in users.items():
        c = content_scores.get(user_id, 0.0) / best_content
        t = topic_scores.get(user_id, 0.0) / best_topic
        experts.append(Expert(user=user, score=(1 - TOPIC_WEIGHT) * c + TOPIC_WEIGHT * t, content_score=c,
                              topic_score=t, matching=len(contributions.get(user_id, {}))))
    experts = [e for e in experts if e.score >= MIN_SCORE]
    experts.sort(key=lambda e: (-e.score, e.user.display_name.lower(), e.user.id))
    experts = experts[:limit]
    # The "why" names the topics the query names, else its main topics by weight.
    why_topics = list(named) or sorted(topics, key=lambda t: -topics[t])[:WHY_TOPICS]
    _explain(session, viewer, experts, contributions, certified_only, why_topics, expertise)
    return experts


def _explain(session: Session, viewer: User, experts: list[Expert], contributions: dict[int, dict[int, float]],
             certified_only: set[tuple[int, int]], why_topics: list[int],
             expertise: dict[int, dict[int, float]]) -> None:
    """Fill in each expert's visible evidence and the topics behind their topic score."""
    seen: dict[int, Evidence | None] = {}

    def visible(entry_id: int, user_id: int, weight: float) -> Evidence | None:
        if entry_id not in seen:
            entry = session.get(Entry, entry_id)
            revision = content.visible_revision(session=session, actor=viewer, entry=entry) if entry else None
            seen[entry_id] = Evidence(entry, revision.title or "Answer", 0.0) if revision else None
        found = seen[entry_id]
        return Evidence(found.entry, found.title, weight, (entry_id, user_id) not in certified_only) if found else None

    tag_names = dict(session.exec(select(Tag.id, Tag.name).where(Tag.id.in_(why_topics or [-1]))).all())
    designations = set(session.exec(select(TopicExpert.user_id, TopicExpert.tag_id)
                                    .where(TopicExpert.tag_id.in_(why_topics or [-1]))).all())
    for expert in experts:
        ranked = sorted(contributions.get(expert.user.id, {}).items(), key=lambda item: (-item[1], item[0]))
        for entry_id, weight in ranked:
            evidence = visible(entry_id, expert.user.id, weight)
            if evidence is None:  # cannot happen: every document is one the viewer may open
                expert.matching -= 1
            elif len(expert.evidence) < MAX_EVIDENCE:
                expert.evidence.append(evidence)
        mine = expertise.get(expert.user.id, {})
        expert.designated_in = [tag_names[t] for t in why_topics if (expert.user.id, t) in designations]
        expert.knows = [tag_names[t] for t in why_topics if mine.get(t) and (expert.user.id, t) not in designations]


# --- the directory -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DirectoryExpert:
    user: User
    designated: bool
    score: float


@dataclass(frozen=True)
class TopicExperts:
    topic: str
    experts: list[DirectoryExpert]


def directory(*, session: Session, viewer: User, top_scorers: int = 5) -> list[TopicExperts]:
    """Every topic with experts that ``viewer`` may see in use (a topic only a draft carries is as
    private as the draft): its designated experts first, then its ``top_scorers`` best scorers who
    are not designated, by topic name (the order of ``routing.ranked_topic_experts``, for all
    topics in five queries)."""
    designated: dict[int, set[int]] = defaultdict(set)
    for tag_id, user_id in session.exec(select(TopicExpert.tag_id, TopicExpert.user_id)):
        designated[tag_id].add(user_id)
    scores: dict[int, dict[int, float]] = defaultdict(dict)
    for tag_id, user_id, score in session.exec(select(ExpertiseScore.tag_id, ExpertiseScore.user_id,
                                                      ExpertiseScore.score).where(ExpertiseScore.score > 0)):
        scores[tag_id][user_id] = float(score)
    ids = {u for people in designated.values() for u in people} | {u for s in scores.values() for u in s}
    users = {u.id: u for u in session.exec(select(User).where(User.id.in_(ids or [-1]), User.is_active.is_(True)))}
    names = dict(session.exec(select(Tag.id, Tag.name).where(Tag.id.in_(set(designated) | set(scores) or [-1]))).all())
    shown = content.visible_tag_names(session=session, actor=viewer, names=names.values())
    names = {tag_id: name for tag_id, name in names.items() if name in shown}
    result = []
    for tag_id, name in sorted(names.items(), key=lambda item: item[1]):
        ranked = sorted((TopicCandidate(users[u], u in designated[tag_id], scores[tag_id].get(u, 0.0))
                         for u in designated[tag_id] | set(scores[tag_id]) if u in users), key=candidate_order)
        chosen = [c for c in ranked if c.designated] + [c for c in ranked if not c.designated][:top_scorers]
        if chosen:
            result.append(TopicExperts(name, [DirectoryExpert(c.user, c.designated, c.score) for c in chosen]))
    return result

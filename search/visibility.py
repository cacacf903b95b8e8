"""Who may find a search document: one rule, written for each place that applies it (the tantivy
query, the Meilisearch filter, the vector store's scan), so lexical and semantic hits obey the same.

Public documents (certified articles and answers, forum questions) are visible to every viewer.
Restricted documents (a revision that is not the public one) follow ``kb.content.access.
can_view_revision``, and only with ``include_drafts``:

* admins see them all;
* the revision's author and the entry's author see them;
* reviewers (experts) see revisions submitted for review (``access.REVIEW_STATES``) and forum
  posts, not another author's unsubmitted, withdrawn or rejected draft (which would answer 404).

Audiences come on top, for every document and viewer but admins: a document of an entry limited
to groups (``SearchDocument.groups``) is found only by members of one of its groups and by the
entry's author (``kb.content.access.audience_allows``; a co-author finds it on its page, not in
search, which shows less, never more). The vector store's mask applies them too (and every
semantic neighbour then goes through the lexical filter as well, ``EmbeddedBackend._hybrid``).

(Forum revisions are readable by everyone on their page; search offers other people's unfinished
forum drafts to reviewers only, which shows less, never more.)
"""

from __future__ import annotations

import numpy as np
from tantivy import Occur, Query, Schema

from kb.content.access import REVIEW_STATES
from search.backend import EVERYONE, Viewer, group_token

FORUM_KINDS = ("question", "answer")
REVIEW_STATE_LIST = sorted(REVIEW_STATES)


def tantivy_query(schema: Schema, viewer: Viewer) -> Query:
    rule = _tantivy_rule(schema, viewer)
    if viewer.is_admin:
        return rule
    groups = [(Occur.Should, Query.term_set_query(schema, "groups", _tokens(viewer))),
              (Occur.Should, Query.term_query(schema, "entry_author_id", viewer.user_id))]
    return Query.boolean_query([(Occur.Must, rule), (Occur.Must, Query.boolean_query(groups))])


def _tokens(viewer: Viewer) -> list[str]:
    return [EVERYONE] + [group_token(g) for g in viewer.group_ids]


def _tantivy_rule(schema: Schema, viewer: Viewer) -> Query:
    public = Query.term_query(schema, "audience", "public")
    if not viewer.include_drafts:
        return public
    restricted = Query.term_query(schema, "audience", "restricted")
    if viewer.is_admin:
        return Query.boolean_query([(Occur.Should, public), (Occur.Should, restricted)])
    mine = [(Occur.Should, Query.term_query(schema, "author_id", viewer.user_id)),
            (Occur.Should, Query.term_query(schema, "entry_author_id", viewer.user_id))]
    if viewer.is_reviewer:
        mine.append((Occur.Should, Query.term_set_query(schema, "state", REVIEW_STATE_LIST)))
        mine.append((Occur.Should, Query.term_set_query(schema, "kind", list(FORUM_KINDS))))
    allowed = Query.boolean_query([(Occur.Must, restricted), (Occur.Must, Query.boolean_query(mine))])
    return Query.boolean_query([(Occur.Should, public), (Occur.Should, allowed)])


def meili_filter(viewer: Viewer) -> str:
    rule = _meili_rule(viewer)
    if viewer.is_admin:
        return rule
    tokens = ", ".join(f'"{t}"' for t in _tokens(viewer))
    return f"({rule} AND (groups IN [{tokens}] OR entry_author_id = {int(viewer.user_id)}))"


def _meili_rule(viewer: Viewer) -> str:
    if not viewer.include_drafts:
        return 'audience = "public"'
    if viewer.is_admin:
        return '(audience = "public" OR audience = "restricted")'
    user = int(viewer.user_id)
    mine = [f"author_id = {user}", f"entry_author_id = {user}"]
    if viewer.is_reviewer:
        mine.append("state IN [" + ", ".join(f'"{s}"' for s in REVIEW_STATE_LIST) + "]")
        mine.append("kind IN [" + ", ".join(f'"{k}"' for k in FORUM_KINDS) + "]")
    return f'(audience = "public" OR (audience = "restricted" AND ({" OR ".join(mine)})))'


def vector_mask(viewer: Viewer):
    """For ``VectorStore.nearest``: the rows ``viewer`` may see, as a boolean mask."""

    def rule(store) -> np.ndarray:
        public = store._public
        if not viewer.include_drafts:
            return public.copy()
        if viewer.is_admin:
            return np.ones_like(public)
        allowed = (store._author == viewer.user_id) | (store._entry_author == viewer.user_id)
        if viewer.is_reviewer:
            allowed |= np.isin(store._state, REVIEW_STATE_LIST) | np.isin(store._kind, FORUM_KINDS)
        return public | allowed

    def mask(store) -> np.ndarray:
        visible = rule(store)
        if viewer.is_admin:
            return visible
        audience = store._everyone | (store._entry_author == viewer.user_id)
        mine = set(_tokens(viewer))
        for slot, groups in store._limited.items():  # only the rows of entries limited to groups
            if not groups.isdisjoint(mine):
                audience[slot] = True
        return visible & audience

    return mask

"""How a text query is put to Meilisearch (``search.meili``).

Meilisearch's matching strategies make one word required (with "last", the first: words are
dropped from the end). That suits what agents type, but not a customer's sentence pasted whole,
which starts with whatever the customer said first; the embedded backend's "any word may be
missing, more matching words rank higher" is approximated here by choosing the words and their
order (see ``query_text``).
"""

from __future__ import annotations

import meilisearch

from search.analysis import ParsedQuery, QueryTerm

#: Queries of this many words (or synonym phrases) or more are reordered by importance.
LONG_QUERY_TERMS = 3
#: How many of a long query's most important words are tried as its required first word.
MAX_ROTATIONS = 6
#: A word found in this many visible documents or fewer is tried last in a long query.
RARE_MATCHES = 2


def query_text(client: meilisearch.Client, index_uid: str, parsed: ParsedQuery, filter_expr: str) -> str:
    """The stemmed query as Meilisearch should see it (sent with matchingStrategy "last"):

    * words no visible document matches (even with a typo or as a prefix) are left out: a
      customer's word that is nowhere in the knowledge base would otherwise empty the results;
    * a longer query (``LONG_QUERY_TERMS`` words or synonym phrases or more) is reordered by
      importance, so that "last" drops the least useful words first: synonym phrases (the
      admins' knowledge of customers' words), then words from the rarest to the most common,
      and words found in ``RARE_MATCHES`` documents or fewer at the end (such a word is as
      often incidental, a number or a name, as decisive);
    * and the required first word is the one whose best document matches the query best:
      each of the ``MAX_ROTATIONS`` most important words is tried first (one multi-search).

    Such a query is taken as a sentence: its words are whole words (no prefix search).
    """
    terms = parsed.terms
    if len(terms) < 2:
        return parsed.stemmed()
    synonym_positions = {i for syn in parsed.synonyms for i in syn.positions}
    units = query_units(parsed)
    sentence = len(units) >= LONG_QUERY_TERMS
    singles = [unit[0] for unit in units if unit[0] not in synonym_positions]
    matches = _count_matches(client, index_uid, [terms[i] for i in singles], filter_expr, whole_words=sentence)
    counts = dict(zip(singles, matches, strict=True))
    units = [unit for unit in units if counts.get(unit[0], 1) > 0]
    if not sentence or len(units) < 2:
        return parsed.stemmed([terms[i] for unit in units for i in unit]) if units else parsed.stemmed()

    def importance(unit: list[int]) -> tuple[int, int, int]:
        if unit[0] not in counts:  # a synonym phrase
            return (0, 0, unit[0])
        return (1 + (counts[unit[0]] <= RARE_MATCHES), counts[unit[0]], unit[0])

    units.sort(key=importance)
    orders = [[first] + [u for u in units if u is not first] for first in units[:MAX_ROTATIONS]]
    texts = [" ".join(terms[i].stem for unit in order for i in unit) + " " for order in orders]
    if len(texts) == 1:
        return texts[0]
    tries = client.multi_search(
        [
            {"indexUid": index_uid, "q": text, "filter": filter_expr, "limit": 1,
             "matchingStrategy": "last", "showRankingScore": True, "attributesToRetrieve": ["id"]}
            for text in texts
        ]
    )["results"]
    # The first word with which the best document matches best (the more important on a tie).
    best = [max((h.get("_rankingScore") or 0.0 for h in r.get("hits", [])), default=0.0) for r in tries]
    return texts[best.index(max(best))]


def _count_matches(client: meilisearch.Client, index_uid: str, terms: list[QueryTerm], filter_expr: str, *,
                   whole_words: bool) -> list[int]:
    """How many visible documents match each term alone (with typos; the last as a prefix
    unless ``whole_words``)."""
    if not terms:
        return []
    results = client.multi_search(
        [
            {"indexUid": index_uid, "q": term.stem if term.prefix and not whole_words else term.stem + " ",
             "filter": filter_expr, "limit": 0, "matchingStrategy": "all"}
            for term in terms
        ]
    )["results"]
    return [int(r.get("estimatedTotalHits") or r.get("totalHits") or 0) for r in results]


def query_units(parsed: ParsedQuery) -> list[list[int]]:
    """The query's term positions in order, grouped: a synonym phrase stays one unit (merged
    with the phrases it overlaps), since Meilisearch only recognises it as adjacent words."""
    ends: dict[int, int] = {}
    for syn in parsed.synonyms:
        ends[syn.start] = max(ends.get(syn.start, 0), syn.start + syn.weight)
    units: list[list[int]] = []
    position = 0
    while position < len(parsed.terms):
        end, i = ends.get(position, position + 1), position
        while i < end:  # a phrase starting inside this unit extends it
            end = max(end, ends.get(i, 0))
            i += 1
        units.append(list(range(position, end)))
        position = end
    return units

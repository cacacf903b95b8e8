"""Text analysis shared by both search backends: stop words, stemming, query parsing, synonyms.

The embedded backend indexes title, tags and body with ``build_analyzer``; the Meilisearch
backend indexes stemmed shadow fields built by the same analyzer and receives stemmed queries, so
both see the same words: split on non-alphanumeric characters, drop tokens longer than 40
characters, lowercase, fold accents to ASCII, drop English stop words, Snowball English stemming.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import tantivy
from tantivy import Filter, TextAnalyzerBuilder, Tokenizer

#: English stop words: ignored in queries (both backends) and not indexed (embedded). Negations
#: are included (they match nearly everything); particles that change meaning in support
#: questions ("sign out", "log in" keeps "log", "money back", "turn off") are deliberately not.
STOP_WORDS: frozenset[str] = frozenset(
    """
    a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing during each either else ever
    every few for from further had has have having he her here hers herself him himself his how
    i if in into is it its itself just let me more most much my myself no nor not now of on once
    only or other our ours ourselves own same shall she should so some such than that the their
    theirs them themselves then there these they this those through to too under until very was
    we were what when where which while who whom whose why will with would yet you your yours
    yourself yourselves s t d ll m re ve
    hi hello hey please thanks thank want wants wanted
    """.split()
    # What is left of a negative contraction ("didn't" -> "didn" + "t"), as in NLTK's list.
    + """
    ain aren couldn didn doesn don hadn hasn haven isn mightn mustn needn shan shouldn wasn weren
    won wouldn
    """.split()
    # Filler of customers' messages pasted into the search: says nothing about the topic.
    + """
    get gets getting got gotten go goes going went gone keep keeps kept still even though although
    ago since anymore already really know tell told say says said try tried trying need needs
    """.split()
)

ANALYZER_NAME = "kb_en"
MAX_TOKEN_LEN = 40

# Typo tolerance (Meilisearch is configured with the same thresholds).
ONE_TYPO_MIN_LEN = 5
TWO_TYPOS_MIN_LEN = 8
MIN_PREFIX_LEN = 2
MAX_QUERY_TERMS = 24  # longer pastes keep their first words

WORD_RE = re.compile(r"[^\W_]+")


def build_analyzer() -> tantivy.TextAnalyzer:
    """The analyzer of the title, tags and body fields (and of query words)."""
    return (
        TextAnalyzerBuilder(Tokenizer.simple())
        .filter(Filter.remove_long(MAX_TOKEN_LEN))
        .filter(Filter.lowercase())
        .filter(Filter.ascii_fold())
        .filter(Filter.custom_stopword(sorted(STOP_WORDS)))
        .filter(Filter.stemmer("english"))
        .build()
    )


_analyzer_lock = threading.Lock()
_stem_analyzer = build_analyzer()
_fold_analyzer = (
    TextAnalyzerBuilder(Tokenizer.simple())
    .filter(Filter.remove_long(MAX_TOKEN_LEN))
    .filter(Filter.lowercase())
    .filter(Filter.ascii_fold())
    .build()
)


def analyze(text: str) -> list[str]:
    """Stems of ``text`` as indexed (stop words dropped)."""
    with _analyzer_lock:
        return _stem_analyzer.analyze(text)


@lru_cache(maxsize=65536)
def word_forms(word: str) -> tuple[str, str | None]:
    """(folded lowercase form, stem or None for a stop word / over-long token) of one word."""
    with _analyzer_lock:
        folded = _fold_analyzer.analyze(word)
        stems = _stem_analyzer.analyze(word)
    return ("".join(folded) if folded else word.lower()), (stems[0] if stems else None)


def highlight_words(text: str) -> str:
    """The words of a query worth marking on the page a result opens: lowercase, stop words left out ("can" must not mark "Cancelling", nor "for" every sentence)."""
    words: list[str] = []
    for word in WORD_RE.findall(text or "")[: MAX_QUERY_TERMS * 2]:
        stem = word_forms(word)[1]
        if stem is not None and len(word) >= 3 and word.lower() not in words:
            words.append(word.lower())
    return " ".join(words)


def stemmed_text(text: str) -> str:
    """The text as the stemmed words the index sees (Meilisearch's shadow fields)."""
    return " ".join(analyze(text))


def typo_distance(word: str) -> int:
    if len(word) >= TWO_TYPOS_MIN_LEN:
        return 2
    if len(word) >= ONE_TYPO_MIN_LEN:
        return 1
    return 0


@dataclass(frozen=True)
class QueryTerm:
    stem: str
    folded: str  # lowercased, accent-folded surface form
    prefix: bool  # the last word, possibly still being typed


@dataclass(frozen=True)
class SynonymMatch:
    weight: int  # how many query words the synonym stands for
    alternatives: tuple[tuple[str, ...], ...]  # stemmed words of each alternative
    start: int = 0  # index of the first query term it replaces

    @property
    def positions(self) -> range:
        return range(self.start, self.start + self.weight)


@dataclass(frozen=True)
class ParsedQuery:
    terms: tuple[QueryTerm, ...]
    synonyms: tuple[SynonymMatch, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not self.terms

    def stemmed(self, terms: Sequence[QueryTerm] | None = None) -> str:
        """The query (or some of its terms) as stemmed words; a trailing space means the last
        word is complete (no prefix search)."""
        terms = self.terms if terms is None else terms
        if not terms:
            return ""
        text = " ".join(t.stem for t in terms)
        return text if terms[-1].prefix else text + " "


Synonyms = dict[tuple[str, ...], list[tuple[str, ...]]]


def normalize_synonyms(synonyms: Mapping[str, Sequence[str]] | None) -> Synonyms:
    """{"money back": ["refund"]} -> {("money", "back"): [("refund",)]}, in stemmed words.

    One-way, like Meilisearch's: searching the key also finds the alternatives."""
    result: Synonyms = {}
    for key, values in (synonyms or {}).items():
        key_stems = tuple(analyze(key))
        if not key_stems:
            continue
        alts = [tuple(analyze(v)) for v in values]
        alts = [a for a in alts if a and a != key_stems]
        if alts:
            merged = result.setdefault(key_stems, [])
            merged.extend(a for a in alts if a not in merged)
    return result


def parse_query(text: str, synonyms: Synonyms | None = None) -> ParsedQuery:
    words = WORD_RE.findall(text or "")
    last_open = bool(words) and bool(text) and not text[-1].isspace() and WORD_RE.match(text[-1]) is not None
    terms: list[QueryTerm] = []
    if len(words) > MAX_QUERY_TERMS * 2:
        words = words[: MAX_QUERY_TERMS * 2]
        last_open = False
    for i, word in enumerate(words):
        folded, stem = word_forms(word)
        if stem is None:
            continue
        terms.append(QueryTerm(stem=stem, folded=folded, prefix=last_open and i == len(words) - 1))
    terms = terms[:MAX_QUERY_TERMS]
    matches: list[SynonymMatch] = []
    if synonyms:
        stems = [t.stem for t in terms]
        for key, alts in synonyms.items():
            n = len(key)
            start = next((i for i in range(len(stems) - n + 1) if tuple(stems[i : i + n]) == key), None)
            if start is not None:
                matches.append(SynonymMatch(weight=n, alternatives=tuple(alts), start=start))
    return ParsedQuery(terms=tuple(terms), synonyms=tuple(matches))


"""Highlighting shared by both search backends: the words of a title or body that the search
matched, wrapped in <mark>, everything else HTML-escaped."""

from __future__ import annotations

import html
import re
from functools import reduce
from itertools import accumulate, islice
from operator import or_

from rapidfuzz.distance import OSA

from search.analysis import MIN_PREFIX_LEN, WORD_RE, ParsedQuery, typo_distance, word_forms

SNIPPET_WORDS = 30


def _within_distance(a: str, b: str, limit: int) -> bool:
    """Damerau (optimal string alignment) distance of a and b is <= limit: a transposed pair of
    letters is one typo, as for the search backends. rapidfuzz computes it in C++ and stops at the
    limit (this runs for every word of every shown result against every query word)."""
    return abs(len(a) - len(b)) <= limit and OSA.distance(a, b, score_cutoff=limit) <= limit



class Highlighter:
    """Wraps the words of a text that match the query in <mark>, HTML-escaping everything else.

    Matches what the search matched: same stems, typo distances, prefix of the last word and
    synonym alternatives."""

    def __init__(self, query: ParsedQuery):
        # Per query word: its stem, the words of the synonyms standing for it, the prefixes it may
        # be typed as (the last word) and its typo distance.
        self._rules = []
        for position, term in enumerate(query.terms):
            synonyms = {w for syn in query.synonyms if position in syn.positions for alt in syn.alternatives for w in alt}
            prefixes = tuple({p for p in (term.folded, term.stem) if len(p) >= MIN_PREFIX_LEN} if term.prefix else ())
            self._rules.append((term.stem, synonyms, prefixes, typo_distance(term.stem)))
        # A synonym's word is marked even where the synonym stands for no word of the query.
        self._any_synonym = {w for syn in query.synonyms for alt in syn.alternatives for w in alt}
        self._other = 1 << len(self._rules)
        self._masks: dict[str, int] = {}
        self._last_text: str | None = None
        self._last_words: list[str] = []
        self._cache: dict[str, bool] = {}

    def _mask(self, word: str) -> int:
        """Bit i set when the word matches query word i (as the search matches it: same stem, a
        synonym's word, the start of the last word, or a typo away); computed once per word."""
        mask = self._masks.get(word)
        if mask is None:
            mask = 0
            folded, stem = word_forms(word)
            if stem is not None:
                for i, (own, synonyms, prefixes, distance) in enumerate(self._rules):
                    if (stem == own or stem in synonyms
                            or any(folded.startswith(p) or stem.startswith(p) for p in prefixes)
                            or (distance and _within_distance(stem, own, distance))):
                        mask |= 1 << i
                if stem in self._any_synonym:
                    mask |= self._other
            self._masks[word] = mask
        return mask

    def _matches(self, word: str) -> bool:
        hit = self._cache.get(word)
        if hit is None:
            hit = self._cache[word] = self._mask(word) != 0
        return hit

    def coverage(self, *texts: str, words_per_text: int) -> float:
        """Share of the query's words found in the texts (the first ``words_per_text`` words of each)."""
        if not self._rules:
            return 1.0
        words: set[str] = set()
        for text in texts:
            words.update(self._words(text)[:words_per_text])
        masks = self._masks
        for word in words.difference(masks):
            self._mask(word)
        found = reduce(or_, map(masks.__getitem__, words), 0)
        return (found & (self._other - 1)).bit_count() / len(self._rules)

    def _words(self, text: str | None) -> list[str]:
        """The words of a text; the last text's are kept (a result's body is read for its
        confidence, then for its snippet)."""
        if text is not self._last_text:
            self._last_text, self._last_words = text, WORD_RE.findall(text or "")
        return self._last_words

    def _render(self, text: str, spans: list[tuple[int, int, bool]], start: int, end: int) -> str:
        out: list[str] = []
        pos = start
        for s, e, hit in spans:
            if not hit or s < start or e > end:
                continue
            out.append(html.escape(text[pos:s]))
            out.append("<mark>" + html.escape(text[s:e]) + "</mark>")
            pos = e
        out.append(html.escape(text[pos:end]))
        return "".join(out)

    def _flags(self, words: list[str]) -> list[bool]:
        """Whether each word matches; each distinct word is looked at once per query."""
        cache = self._cache
        for word in set(words).difference(cache):
            self._matches(word)
        return list(map(cache.__getitem__, words))

    def highlight(self, text: str) -> str:
        """The whole text, escaped, with matches marked (titles)."""
        text = text or ""
        found = list(WORD_RE.finditer(text))
        flags = self._flags([m.group() for m in found])
        spans = [(m.start(), m.end(), hit) for m, hit in zip(found, flags, strict=True)]
        return self._render(text, spans, 0, len(text))

    def snippet(self, text: str, words: int = SNIPPET_WORDS) -> str:
        """About ``words`` words around the best cluster of matches, escaped, marked; "…" where
        cropped. The beginning of the text when nothing matches.

        Runs for every shown result of every search: the words are found and judged once each
        (C-level regex and dict lookups), and their positions are taken only up to the window."""
        text = text or ""
        flags = self._flags(self._words(text))
        count = len(flags)
        if count <= words:
            best_start = 0
        else:
            prefix = [0, *accumulate(flags)]  # prefix[i]: matches among the first i words
            best_start = max(range(count - words + 1), key=lambda i: prefix[i + words] - prefix[i])
            best = prefix[best_start + words] - prefix[best_start]
            if best:
                # Start a few words before the first match, when that keeps as many matches.
                first = flags.index(True, best_start)
                candidate = max(0, min(first - 4, count - words))
                if prefix[candidate + words] - prefix[candidate] >= best:
                    best_start = candidate
        last = min(best_start + words, count) - 1
        found = list(islice(WORD_RE.finditer(text), last + 1))
        spans = [(m.start(), m.end(), flags[i]) for i, m in enumerate(found[best_start:], best_start)]
        start = 0 if best_start == 0 else spans[0][0]
        end = len(text) if last == count - 1 else spans[-1][1]
        body = self._render(text, spans, start, end)
        return ("… " if start > 0 else "") + _one_line(body) + (" …" if end < len(text) else "")


_BULLET_BREAK = re.compile(r"\s*\n\s*(?=• )")
_LINE_BREAK = re.compile(r"\s*\n\s*")


def _one_line(snippet: str) -> str:
    """A snippet is shown on one line: list items keep their bullet, other lines (paragraphs,
    table rows) are separated by " · " so rows do not run together."""
    return _LINE_BREAK.sub(" · ", _BULLET_BREAK.sub(" ", snippet)).strip(" ·")

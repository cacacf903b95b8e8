"""Highlighting shared by both search backends: the words of a title or body that the search
matched, wrapped in <mark>, everything else HTML-escaped."""

from __future__ import annotations

import html
import re

from search.analysis import MIN_PREFIX_LEN, WORD_RE, ParsedQuery, typo_distance, word_forms

SNIPPET_WORDS = 30


def _within_distance(a: str, b: str, limit: int) -> bool:
    """Damerau (optimal string alignment) distance of a and b is <= limit."""
    if abs(len(a) - len(b)) > limit:
        return False
    prev2: list[int] | None = None
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if prev2 is not None and i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return False
        prev2, prev = prev, cur
    return prev[len(b)] <= limit


within_distance = _within_distance  # also used by search.fusion's word coverage


class Highlighter:
    """Wraps the words of a text that match the query in <mark>, HTML-escaping everything else.

    Matches what the search matched: same stems, typo distances, prefix of the last word and
    synonym alternatives."""

    def __init__(self, query: ParsedQuery):
        self.exact = {t.stem for t in query.terms}
        for syn in query.synonyms:
            for alt in syn.alternatives:
                self.exact.update(alt)
        self.prefixes = {p for t in query.terms if t.prefix for p in (t.folded, t.stem) if len(p) >= MIN_PREFIX_LEN}
        self.fuzzy = [(t.stem, typo_distance(t.stem)) for t in query.terms if typo_distance(t.stem)]
        self._cache: dict[str, bool] = {}

    def _matches(self, word: str) -> bool:
        hit = self._cache.get(word)
        if hit is None:
            folded, stem = word_forms(word)
            hit = stem is not None and (
                stem in self.exact
                or any(folded.startswith(p) or stem.startswith(p) for p in self.prefixes)
                or any(_within_distance(stem, q, d) for q, d in self.fuzzy)
            )
            self._cache[word] = hit
        return hit

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

    def highlight(self, text: str) -> str:
        """The whole text, escaped, with matches marked (titles)."""
        text = text or ""
        spans = [(m.start(), m.end(), self._matches(m.group())) for m in WORD_RE.finditer(text)]
        return self._render(text, spans, 0, len(text))

    def snippet(self, text: str, words: int = SNIPPET_WORDS) -> str:
        """About ``words`` words around the best cluster of matches, escaped, marked; "…" where
        cropped. The beginning of the text when nothing matches."""
        text = text or ""
        spans = [(m.start(), m.end(), self._matches(m.group())) for m in WORD_RE.finditer(text)]
        if len(spans) <= words:
            return _one_line(self._render(text, spans, 0, len(text)))
        flags = [1 if s[2] else 0 for s in spans]
        window = sum(flags[:words])
        best, best_start = window, 0
        for i in range(1, len(spans) - words + 1):
            window += flags[i + words - 1] - flags[i - 1]
            if window > best:
                best, best_start = window, i
        if best:
            # Start a few words before the first match, when that keeps as many matches.
            first = next(i for i in range(best_start, best_start + words) if flags[i])
            candidate = max(0, min(first - 4, len(spans) - words))
            if sum(flags[candidate : candidate + words]) >= best:
                best_start = candidate
        last = best_start + words - 1
        start = 0 if best_start == 0 else spans[best_start][0]
        end = len(text) if last == len(spans) - 1 else spans[last][1]
        body = self._render(text, spans, start, end)
        return ("… " if start > 0 else "") + _one_line(body) + (" …" if end < len(text) else "")



_BULLET_BREAK = re.compile(r"\s*\n\s*(?=• )")
_LINE_BREAK = re.compile(r"\s*\n\s*")


def _one_line(snippet: str) -> str:
    """A snippet is shown on one line: list items keep their bullet, other lines (paragraphs,
    table rows) are separated by " · " so rows do not run together."""
    return _LINE_BREAK.sub(" · ", _BULLET_BREAK.sub(" ", snippet)).strip(" ·")

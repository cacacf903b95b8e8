"""Page links of a long list (search results, forum questions): a window around the current page
with the first and the last, never one link per page. A search that matches 40,000 entries has
2,000 pages; linking each of them made every results page render 2,000 links (and most pointed
past the last page the server serves)."""

from __future__ import annotations

#: Pages linked on each side of the current one.
AROUND = 2


def page_numbers(page: int, pages: int, *, last_served: int | None = None) -> list[int | None]:
    """The page numbers to link, in order, ``None`` where pages are left out ("…"). ``pages`` is
    how many pages the list has; ``last_served`` the last page the route accepts (its ``le=``):
    no link beyond it."""
    last = min(pages, last_served) if last_served else pages
    if last <= 1:
        return []
    page = max(1, min(page, last))
    shown = {1, last, *range(max(1, page - AROUND), min(last, page + AROUND) + 1)}
    out: list[int | None] = []
    previous = 0
    for number in sorted(shown):
        if number - previous == 2:
            out.append(number - 1)  # a gap of one page: the page itself, not "…"
        elif number - previous > 2:
            out.append(None)
        out.append(number)
        previous = number
    return out

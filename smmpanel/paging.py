"""The customer's lists, page by page: keyset on the row id, newest first (orders, refills, the ledger).

A page is asked for as ?before=<id> (older) or ?after=<id> (newer): every page
is one index range read, however deep, and nothing counts the rows (an account
may hold 100,000 orders or ledger rows), so page 2,000 costs what page 1 does.
"""

from dataclasses import dataclass

from django.db.models import QuerySet

# 25 rows: rendering is most of a list page's cost (bench/web.py: 50 rows ~30 % more CPU per page,
# p99 72 ms against 46 ms under load on 2 cores).
PAGE_SIZE = 25


@dataclass
class Page:
    """One page of a list, newest first: `older` / `newer` are the ids to page on from (None: no such page)."""

    rows: list
    older: int | None = None
    newer: int | None = None


def keyset_page(rows: QuerySet, *, before: int | None = None, after: int | None = None, size: int = PAGE_SIZE) -> Page:
    """The page of `rows` (one account's, filtered) just older than `before`, or just newer than `after`."""
    if after is not None:
        found = list(rows.filter(id__gt=after).order_by("id")[: size + 1])
        more_newer = len(found) > size
        found = found[:size][::-1]
        page = Page(found, newer=found[0].pk if more_newer else None)
        if found and rows.filter(id__lt=found[-1].pk).exists():
            page.older = found[-1].pk
        return page
    older_rows = rows if before is None else rows.filter(id__lt=before)
    found = list(older_rows.order_by("-id")[: size + 1])
    page = Page(found[:size], older=found[size - 1].pk if len(found) > size else None)
    if before is not None and page.rows and rows.filter(id__gt=page.rows[0].pk).exists():
        page.newer = page.rows[0].pk
    return page

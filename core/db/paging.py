"""Query results that Django's Paginator can page without loading them all."""

from __future__ import annotations

from typing import Callable, Generic, TypeVar

T = TypeVar("T")


class LazyResults(Generic[T]):
    """The results of one query, for ``django.core.paginator.Paginator``: ``count()`` asks for the
    total once, and a slice fetches just that page (``fetch(offset=..., limit=...)``)."""

    def __init__(self, *, count: Callable[[], int], fetch: Callable[..., list[T]]):
        self._count = count
        self._fetch = fetch
        self._total: int | None = None

    def count(self) -> int:
        if self._total is None:
            self._total = self._count()
        return self._total

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, index):
        if isinstance(index, slice):
            if index.step not in (None, 1):
                raise ValueError("LazyResults slices have no step")
            start = index.start or 0
            stop = self.count() if index.stop is None else index.stop
            if start < 0 or stop < 0:
                raise ValueError("LazyResults slices take no negative index")
            return self._fetch(offset=start, limit=stop - start) if stop > start else []
        if not isinstance(index, int) or index < 0:
            raise TypeError("LazyResults takes a non-negative int or a slice")
        page = self._fetch(offset=index, limit=1)
        if not page:
            raise IndexError(index)
        return page[0]

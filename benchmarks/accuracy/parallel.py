"""At most `jobs` worker processes (fork: they inherit the parent's loaded state)."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable, Iterator


def parallel_map(func: Callable, items: Iterable, jobs: int) -> Iterator:
    """func(item) for every item, in completion order; serial when jobs <= 1."""
    items = list(items)
    if jobs <= 1 or len(items) <= 1:
        yield from map(func, items)
        return
    with multiprocessing.get_context("fork").Pool(min(jobs, len(items))) as pool:
        yield from pool.imap_unordered(func, items, chunksize=1)

"""Concurrent slice prefetch on the sync's shared pool.

Slices of one stream are independent (parents, time windows, function types), so up to `num_workers` of
them are read ahead. The CDK still consumes and checkpoints slices strictly in order, so state stays
exact; every request still goes through the client's one call budget.
"""

from __future__ import annotations

import itertools
from collections import deque
from concurrent.futures import Executor, Future, wait
from typing import Any, Callable, Iterable, List, Mapping

ReadSlice = Callable[[Mapping[str, Any]], List[Any]]


class Prefetcher:
    """Submits slices ahead of the reader and hands out each slice's records from its future.

    `may_submit(submitted)` lets the stream hold back (a child stream sends no more than the parents that
    decide whether it is gated); `stopped()` ends submission once the stream is skipped.
    """

    def __init__(self, executor: Executor, workers: int, read: ReadSlice,
                 may_submit: Callable[[int], bool], stopped: Callable[[], bool]):
        self._executor = executor
        self._workers = workers
        self._read = read
        self._may_submit = may_submit
        self._stopped = stopped
        self._futures: dict[int, Future] = {}
        self._ids = itertools.count()

    def ahead(self, slices: Iterable[Mapping[str, Any]]) -> Iterable[Mapping[str, Any]]:
        window: deque = deque()
        submitted = 0
        for stream_slice in slices:
            while window and not self._may_submit(submitted):
                yield window.popleft()  # hand out what is in flight before asking for more
            if self._stopped():
                break
            submitted += 1
            stream_slice = dict(stream_slice, prefetch_id=next(self._ids))
            self._futures[stream_slice["prefetch_id"]] = self._executor.submit(self._read, stream_slice)
            window.append(stream_slice)
            if len(window) >= self._workers:
                yield window.popleft()
        yield from window

    def take(self, stream_slice: Mapping[str, Any]) -> "Future | None":
        """The slice's future, if it was prefetched; the caller reads it (re-raising its error) or drops it."""
        return self._futures.pop(stream_slice.get("prefetch_id", -1), None)

    def drain(self) -> None:
        """Once the stream has failed: wait for every slice already handed to the pool, so no request of this
        stream is still in flight after the failure is reported. Waiting rather than cancelling keeps what was
        requested independent of thread timing (at most `num_workers` slices are outstanding)."""
        futures, self._futures = list(self._futures.values()), {}
        wait(futures)

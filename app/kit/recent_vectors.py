"""What a model computed for the texts it saw last, per text.

The gates read one prompt several times: the safety and copyright gates embed the same views, and
the safety gate reads a prompt again with its idioms taken out (most of its views unchanged), or
in full where it first read it lazily. A row computed once is a lookup the second time.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from typing import Callable

import numpy as np

RECENT_TEXTS = 4096  # rows remembered per model (a 384-d vector is 1.5 kB: 6 MB at most)
RECENT_BATCH = 64    # calls with more texts than this (exemplars, catalogues) bypass the memory

_ALL: "weakref.WeakSet[RecentVectors]" = weakref.WeakSet()


class RecentVectors:
    """A bounded, thread-safe memory of one row per text, the least recently used dropped first."""

    def __init__(self, capacity: int = RECENT_TEXTS, batch_limit: int = RECENT_BATCH):
        self.capacity, self.batch_limit = capacity, batch_limit
        self._rows: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        _ALL.add(self)

    def rows(self, texts: list[str], compute: Callable[[list[str]], np.ndarray]) -> np.ndarray:
        """One row per text: remembered ones looked up, the rest computed by `compute(missing)` in one
        call (each distinct text once) and remembered."""
        if len(texts) > self.batch_limit:  # bulk work would only churn the memory
            return compute(list(texts))
        with self._lock:
            known = {t: self._rows[t] for t in texts if t in self._rows}
            for t in known:
                self._rows.move_to_end(t)
        missing = list(dict.fromkeys(t for t in texts if t not in known))
        if missing:
            fresh = compute(missing)
            with self._lock:
                for text, row in zip(missing, fresh):
                    known[text] = self._rows[text] = row
                while len(self._rows) > self.capacity:
                    self._rows.popitem(last=False)
        return np.stack([known[t] for t in texts])

    def clear(self) -> None:
        with self._lock:
            self._rows.clear()

    def __len__(self) -> int:
        return len(self._rows)


def forget_all_recent() -> None:
    """Every model's memory emptied: a bench of distinct prompts must not find one request's views
    already computed by another that shares most of its words."""
    for memory in list(_ALL):
        memory.clear()

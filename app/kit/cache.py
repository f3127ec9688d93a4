"""A value built from database rows, rebuilt in this process only when the rows change.

The stamp is a cheap query (a count and the newest created_at, say): API processes and workers
see each other's writes without talking to each other, and the build runs once per change.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")
_UNSET = object()


class RebuiltOnChange(Generic[T]):
    def __init__(self, stamp: Callable[..., Hashable], build: Callable[..., T]):
        self._stamp, self._build = stamp, build
        self._value: T | None = None
        self._seen: object = _UNSET
        self._lock = threading.Lock()

    def get(self, *args) -> T:
        """`args` (a session first) go to both the stamp and the build."""
        stamp = self._stamp(*args)
        with self._lock:
            if stamp != self._seen:
                self._value, self._seen = self._build(*args), stamp
            return self._value  # type: ignore[return-value]

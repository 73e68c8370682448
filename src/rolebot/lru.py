"""A small thread-safe least-recently-used map: FAQ traffic repeats itself, so the answer to an
opening question and the vector of a query are each kept for the next asker."""

from __future__ import annotations

import threading
from collections import OrderedDict

_MISSING = object()


class LRU:
    """At most ``size`` items; reading or writing one makes it the most recent."""

    def __init__(self, size: int):
        self.size = size
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key, default=None):
        with self._lock:
            value = self._items.get(key, _MISSING)
            if value is _MISSING:
                return default
            self._items.move_to_end(key)
            return value

    def put(self, key, value) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)

"""Encode concurrent queries together: one encoder call for everyone waiting at that moment."""

from __future__ import annotations

import threading
import time
from typing import Callable

import numpy as np

MAX_WAIT = 0.0015  # seconds a batch may wait for stragglers, only while traffic is concurrent
MAX_BATCH = 64
RECENT = 0.05  # a batch of several this recently means callers are arriving together


class _Job:
    __slots__ = ("texts", "vectors", "error", "done")

    def __init__(self, texts: list[str]):
        self.texts, self.vectors, self.error, self.done = texts, None, None, False


class MicroBatcher:
    """Calls ``encode`` with the texts of every caller waiting, then hands each its rows.

    The first caller to find the encoder idle leads: it encodes its own texts with whatever
    queued behind the previous call. A lone caller runs at once; the leader waits up to
    MAX_WAIT for more only while several callers are active (a batch of several just ran,
    or others are already queued)."""

    def __init__(self, encode: Callable[[list[str]], np.ndarray], max_wait: float = MAX_WAIT, max_batch: int = MAX_BATCH):
        self._encode = encode
        self.max_wait, self.max_batch = max_wait, max_batch
        self._cond = threading.Condition()
        self._queue: list[_Job] = []
        self._busy = False
        self._last_size, self._last_end = 0, 0.0
        self.calls = 0  # encoder calls made, for tests and measurements

    def __call__(self, texts: list[str]) -> np.ndarray:
        job = _Job(list(texts))
        batch = None
        with self._cond:
            self._queue.append(job)
            self._cond.notify_all()  # a collecting leader counts arrivals
            while self._busy and not job.done:
                self._cond.wait()
            if not job.done:  # the encoder is idle and nobody took this job: lead
                self._busy = True
                batch = self._collect(job)
        if batch is not None:
            self._run(batch)
        if job.error is not None:
            raise job.error
        return job.vectors

    def _collect(self, leader: _Job) -> list[_Job]:
        """With the lock held: the leader's batch, after a short wait if traffic is concurrent."""
        concurrent = len(self._queue) > 1 or (self._last_size > 1 and time.monotonic() - self._last_end < RECENT)
        if concurrent and self.max_wait > 0:
            want = min(self.max_batch, max(self._last_size, 2))
            deadline = time.monotonic() + self.max_wait
            while len(self._queue) < want and (left := deadline - time.monotonic()) > 0:
                self._cond.wait(left)
        others = [j for j in self._queue if j is not leader][: self.max_batch - 1]
        batch = [leader] + others
        taken = set(map(id, batch))
        self._queue = [j for j in self._queue if id(j) not in taken]
        return batch

    def _run(self, batch: list[_Job]) -> None:
        try:
            vectors = self._encode([t for j in batch for t in j.texts])
            start = 0
            for j in batch:
                j.vectors = vectors[start : start + len(j.texts)]
                start += len(j.texts)
        except BaseException as exc:  # every caller in the batch sees the failure
            for j in batch:
                j.error = exc
        with self._cond:
            self.calls += 1
            self._last_size, self._last_end = len(batch), time.monotonic()
            for j in batch:
                j.done = True
            self._busy = False
            self._cond.notify_all()

"""What every feedback store shares: the event rows, their one SQL upsert, retention.

A backend supplies `_write(row) -> bool` (never raising: a failure is logged and reported as
False, so nothing claims to be saved when it was not), `rows(since)` and `close()`.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections import Counter

from ..errors import RolebotError

log = logging.getLogger("rolebot")

SURROGATES = re.compile("[\ud800-\udfff]")
DEFAULT_RETENTION_DAYS = 365
PRUNE_EVERY = 3600.0  # seconds between sweeps of expired rows
FLUSH_EVERY = 5.0  # seconds: answer counts are added up in memory, then written in one go
COLUMNS = ("at", "kind", "question", "answer", "citations", "confidence", "vote", "message")


def insert_sql(param) -> str:
    """The one insert both backends run, in the driver's placeholder style (`param(name)`).
    A vote carries its message id: a later vote on the same message replaces it."""
    return (
        f"INSERT INTO events ({', '.join(COLUMNS)}) VALUES ({', '.join(param(c) for c in COLUMNS)}) "
        "ON CONFLICT (message) WHERE message IS NOT NULL DO UPDATE SET vote = excluded.vote, at = excluded.at"
    )


def _text(value) -> str:
    # Both databases store UTF-8: a lone surrogate (possible in JSON input) would fail the insert.
    return SURROGATES.sub("\ufffd", value if isinstance(value, str) else str(value))


def retention_days(value=None) -> float | None:
    """Days events are kept: the argument, else ROLEBOT_FEEDBACK_DAYS, else a year; 0/off keeps all."""
    if value is None:
        value = os.environ.get("ROLEBOT_FEEDBACK_DAYS") or DEFAULT_RETENTION_DAYS
    if str(value).strip().lower() in ("0", "off", "forever"):
        return None
    try:
        days = float(value)
        if not days > 0:
            raise ValueError
        return days
    except (TypeError, ValueError):
        raise RolebotError(f"ROLEBOT_FEEDBACK_DAYS must be a number of days above 0 (or 'off'), not {value!r}") from None


class FeedbackStore:
    """The interface app.py, server.py and report.py use, whatever the backend."""

    where = "?"  # where the events go, for messages (never with a password)

    def __init__(self, keep_days: float | str | None = None):
        self.keep_days = retention_days(keep_days)
        self._pruned_at = 0.0
        self._counts: Counter = Counter()  # (day, kind) -> answers not yet written
        self._counts_lock = threading.Lock()
        self._flushed_at = time.time()

    def _prune_before(self, at: float) -> float | None:
        """The cut-off time when a sweep of expired rows is due with this write, else None."""
        if self.keep_days is None or at - self._pruned_at <= PRUNE_EVERY:
            return None
        self._pruned_at = at
        return at - self.keep_days * 86400

    def _write(self, row: dict) -> bool:
        raise NotImplementedError

    def _failed(self, exc: Exception) -> bool:
        log.warning("feedback not saved to %s (%s: %s)", self.where, type(exc).__name__, exc)
        return False

    def record_vote(self, question: str, answer: str, citations: list[str], confidence: float, liked: bool,
                    message: str | None = None) -> bool:
        """One vote; with ``message`` (session + turn) a later vote on the same message replaces it."""
        return self._write(
            {
                "message": message,
                "at": time.time(),
                "kind": "vote",
                "question": _text(question),
                "answer": _text(answer),
                "citations": json.dumps([_text(c) for c in citations]),
                "confidence": confidence,
                "vote": 1 if liked else -1,
            }
        )

    def record_not_found(self, question: str, confidence: float) -> bool:
        return self._write(
            {
                "message": None,
                "at": time.time(),
                "kind": "not_found",
                "question": _text(question),
                "answer": "",
                "citations": "[]",
                "confidence": confidence,
                "vote": None,
            }
        )

    def count_answer(self, kind: str) -> None:
        """Count one answer of this kind ('answer', 'not_found', 'smalltalk') for today, by UTC
        day and without its text; written every few seconds, never per answer."""
        now = time.time()
        with self._counts_lock:
            self._counts[(time.strftime("%Y-%m-%d", time.gmtime(now)), kind)] += 1
            due = now - self._flushed_at >= FLUSH_EVERY
        if due:
            self.flush_counts()

    def flush_counts(self) -> bool:
        with self._counts_lock:
            pending, self._counts = self._counts, Counter()
            self._flushed_at = time.time()
        if not pending:
            return True
        try:
            self._add_counts([(day, kind, n) for (day, kind), n in pending.items()])
            return True
        except Exception as exc:  # noqa: BLE001 - counting must never break an answer
            log.warning("answer counts not saved to %s (%s: %s)", self.where, type(exc).__name__, exc)
            return False

    def daily_counts(self, since_day: str = "") -> list[tuple[str, str, int]]:
        """(day, kind, answers) rows from since_day (YYYY-MM-DD) on, oldest first."""
        self.flush_counts()
        return [tuple(r) for r in self._daily(since_day)]

    def _add_counts(self, rows: list[tuple[str, str, int]]) -> None:
        raise NotImplementedError

    def _daily(self, since_day: str) -> list:
        raise NotImplementedError

    def rows(self, since: float = 0.0) -> list[dict]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

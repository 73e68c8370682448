"""Votes and unanswered questions in SQLite, so authors learn which FAQs to add.

Writes never block or break an answer: every failure (a locked, read-only or vanished
database, a folder that cannot be created, …) is logged as a warning and reported as False,
so nothing claims to be saved when it was not. A missing folder is created. Each thread has
its own connection; the database is in WAL mode, so many threads can write at once.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
import threading
import time
from collections import Counter
from pathlib import Path

from .errors import RolebotError

log = logging.getLogger("rolebot")

SURROGATES = re.compile("[\ud800-\udfff]")
SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,                 -- unix time
    kind TEXT NOT NULL,               -- 'vote' or 'not_found'
    question TEXT NOT NULL,
    answer TEXT NOT NULL DEFAULT '',
    citations TEXT NOT NULL DEFAULT '[]',  -- JSON list of passage ids
    confidence REAL,
    vote INTEGER                      -- 1 up, -1 down, NULL for not_found
);
CREATE INDEX IF NOT EXISTS events_kind_at ON events(kind, at);
-- Every answer counted by UTC day and kind ('answer', 'not_found', 'smalltalk'): no text.
CREATE TABLE IF NOT EXISTS daily (
    day TEXT NOT NULL,                -- YYYY-MM-DD
    kind TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (day, kind)
);
"""
FLUSH_EVERY = 5.0  # seconds: answer counts are added up in memory, then written in one go
# Added later: which chat message a vote is about (session + turn), so a learner has one vote
# per message and a changed vote replaces the old one. Older databases gain the column on open.
MIGRATIONS = [
    ("message", "ALTER TABLE events ADD COLUMN message TEXT"),
]
MESSAGE_INDEX = "CREATE UNIQUE INDEX IF NOT EXISTS events_message ON events(message) WHERE message IS NOT NULL"


def _text(value) -> str:
    # SQLite stores UTF-8: a lone surrogate (possible in JSON input) would make the insert fail.
    return SURROGATES.sub("\ufffd", value if isinstance(value, str) else str(value))


DEFAULT_RETENTION_DAYS = 365
PRUNE_EVERY = 3600.0  # seconds between sweeps of expired rows


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


def _migrate(conn: sqlite3.Connection) -> None:
    columns = {row[1] for row in conn.execute("PRAGMA table_info(events)")}
    for column, statement in MIGRATIONS:
        if column not in columns:
            try:
                conn.execute(statement)
            except sqlite3.OperationalError as exc:  # another connection added it a moment ago
                if "duplicate column" not in str(exc):
                    raise
    conn.execute(MESSAGE_INDEX)


class FeedbackStore:
    def __init__(self, path: str | Path, timeout: float = 2.0, keep_days: float | str | None = None):
        self.path = Path(path)
        self.timeout = timeout  # how long a write waits for another writer's lock
        self.keep_days = retention_days(keep_days)
        self._local = threading.local()
        self._pruned_at = 0.0
        self._counts: Counter = Counter()  # (day, kind) -> answers not yet written
        self._counts_lock = threading.Lock()
        self._flushed_at = time.time()

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.identity != self._identity():
            # The file was deleted or replaced under us: writing on would go to a file no one reads.
            log.warning("feedback database %s was removed or replaced; reopening it", self.path)
            self._drop()
            conn = None
        if conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=self.timeout)
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.executescript(SCHEMA)
                _migrate(conn)
            except BaseException:
                conn.close()
                raise
            self._local.conn = conn
            self._local.identity = self._identity()
        return conn

    def _identity(self):
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_dev, st.st_ino

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            try:
                conn.close()
            except sqlite3.Error:
                pass

    def _write(self, row: dict) -> bool:
        try:
            conn = self._conn()
            with conn:
                conn.execute(
                    "INSERT INTO events (at, kind, question, answer, citations, confidence, vote, message) "
                    "VALUES (:at, :kind, :question, :answer, :citations, :confidence, :vote, :message) "
                    "ON CONFLICT(message) WHERE message IS NOT NULL DO UPDATE SET vote = excluded.vote, at = excluded.at",
                    {"message": None} | row,
                )
                if self.keep_days is not None and row["at"] - self._pruned_at > PRUNE_EVERY:
                    self._pruned_at = row["at"]
                    conn.execute("DELETE FROM events WHERE at < ?", (row["at"] - self.keep_days * 86400,))
            return True
        except Exception as exc:  # noqa: BLE001 - a vote must never break the chat
            log.warning("feedback not saved to %s (%s: %s)", self.path, type(exc).__name__, exc)
            self._drop()
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
        """Count one answer of this kind for today; written every few seconds, never per answer."""
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
            conn = self._conn()
            with conn:
                conn.executemany(
                    "INSERT INTO daily (day, kind, n) VALUES (?, ?, ?) "
                    "ON CONFLICT(day, kind) DO UPDATE SET n = n + excluded.n",
                    [(day, kind, n) for (day, kind), n in pending.items()],
                )
            return True
        except Exception as exc:  # noqa: BLE001 - counting must never break an answer
            log.warning("answer counts not saved to %s (%s: %s)", self.path, type(exc).__name__, exc)
            self._drop()
            return False

    def daily_counts(self, since_day: str = "") -> list[tuple[str, str, int]]:
        """(day, kind, answers) rows from since_day (YYYY-MM-DD) on, oldest first."""
        self.flush_counts()
        return [tuple(r) for r in self._conn().execute(
            "SELECT day, kind, n FROM daily WHERE day >= ? ORDER BY day, kind", (since_day,))]

    def rows(self, since: float = 0.0) -> list[dict]:
        conn = self._conn()
        conn.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in conn.execute("SELECT * FROM events WHERE at >= ? ORDER BY at", (since,))]
        finally:
            conn.row_factory = None

    def close(self) -> None:
        """Close this thread's connection (others close when their thread ends)."""
        self._drop()

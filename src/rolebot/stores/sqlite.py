"""Votes and unanswered questions in a SQLite file: the embedded default for one machine.

Writes never block or break an answer: every failure (a locked, read-only or vanished
database, a folder that cannot be created, …) is logged as a warning and reported as False.
A missing folder is created. Each thread has its own connection; the database is in WAL mode,
so many threads can write at once.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

from .base import FeedbackStore, insert_sql, log

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
# Added later: which chat message a vote is about (session + turn), so a learner has one vote
# per message and a changed vote replaces the old one. Older databases gain the column on open.
MIGRATIONS = [
    ("message", "ALTER TABLE events ADD COLUMN message TEXT"),
]
MESSAGE_INDEX = "CREATE UNIQUE INDEX IF NOT EXISTS events_message ON events(message) WHERE message IS NOT NULL"
INSERT = insert_sql(lambda name: f":{name}")


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


class SQLiteStore(FeedbackStore):
    def __init__(self, path: str | Path, timeout: float = 2.0, keep_days: float | str | None = None):
        super().__init__(keep_days)
        self.path = Path(path)
        self.where = str(self.path)
        self.timeout = timeout  # how long a write waits for another writer's lock
        self._local = threading.local()

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
                self._wal(conn)
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.executescript(SCHEMA)
                _migrate(conn)
            except BaseException:
                conn.close()
                raise
            self._local.conn = conn
            self._local.identity = self._identity()
        return conn

    def _wal(self, conn: sqlite3.Connection) -> None:
        """Put the file in WAL mode (it stays so). Switching needs the file to itself, and SQLite
        answers "database is locked" at once rather than waiting its busy timeout when other
        connections open it in the same moment, so the switch is retried up to that timeout."""
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                if conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
                    return
                conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.005)

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
                conn.execute(INSERT, row)
                if (cutoff := self._prune_before(row["at"])) is not None:
                    conn.execute("DELETE FROM events WHERE at < ?", (cutoff,))
            return True
        except Exception as exc:  # noqa: BLE001 - a vote must never break the chat
            self._drop()
            return self._failed(exc)

    def _add_counts(self, rows: list[tuple[str, str, int]]) -> None:
        try:
            conn = self._conn()
            with conn:
                conn.executemany(
                    "INSERT INTO daily (day, kind, n) VALUES (?, ?, ?) "
                    "ON CONFLICT(day, kind) DO UPDATE SET n = n + excluded.n", rows)
        except Exception:
            self._drop()
            raise

    def _daily(self, since_day: str) -> list:
        return self._conn().execute("SELECT day, kind, n FROM daily WHERE day >= ? ORDER BY day, kind",
                                    (since_day,)).fetchall()

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

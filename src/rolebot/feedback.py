"""Votes and unanswered questions in SQLite, so authors learn which FAQs to add.

Writes never block or break an answer: every failure is logged and reported as False.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from pathlib import Path

log = logging.getLogger("rolebot")

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
"""


class FeedbackStore:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._local = threading.local()

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=2.0)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(SCHEMA)
            self._local.conn = conn
        return conn

    def _write(self, row: dict) -> bool:
        try:
            conn = self._conn()
            with conn:
                conn.execute(
                    "INSERT INTO events (at, kind, question, answer, citations, confidence, vote) "
                    "VALUES (:at, :kind, :question, :answer, :citations, :confidence, :vote)",
                    row,
                )
            return True
        except (sqlite3.Error, OSError) as exc:
            log.warning("feedback not saved (%s: %s)", type(exc).__name__, exc)
            self._local.conn = None
            return False

    def record_vote(self, question: str, answer: str, citations: list[str], confidence: float, liked: bool) -> bool:
        return self._write(
            {
                "at": time.time(),
                "kind": "vote",
                "question": question,
                "answer": answer,
                "citations": json.dumps(citations),
                "confidence": confidence,
                "vote": 1 if liked else -1,
            }
        )

    def record_not_found(self, question: str, confidence: float) -> bool:
        return self._write(
            {
                "at": time.time(),
                "kind": "not_found",
                "question": question,
                "answer": "",
                "citations": "[]",
                "confidence": confidence,
                "vote": None,
            }
        )

    def rows(self, since: float = 0.0) -> list[dict]:
        conn = self._conn()
        conn.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in conn.execute("SELECT * FROM events WHERE at >= ? ORDER BY at", (since,))]
        finally:
            conn.row_factory = None

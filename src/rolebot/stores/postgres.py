"""Votes and unanswered questions in PostgreSQL, shared by every replica.

A small connection pool (psycopg 3 + psycopg_pool) opened at start, where the schema is created
or migrated under an advisory lock (replicas starting together do it once). A database that
cannot be reached at start is an error that names the URL; one that goes away later only costs
the writes made while it is gone: they are logged and reported as False, the first after waiting
at most `timeout`, the rest at once, and writes resume within a second of its return.
"""

from __future__ import annotations

import functools
import time

from ..config import redacted
from ..errors import RolebotError
from .base import FeedbackStore, insert_sql, log

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS events (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at DOUBLE PRECISION NOT NULL,     -- unix time, as in SQLite
        kind TEXT NOT NULL,               -- 'vote' or 'not_found'
        question TEXT NOT NULL,
        answer TEXT NOT NULL DEFAULT '',
        citations TEXT NOT NULL DEFAULT '[]',  -- JSON list of passage ids
        confidence DOUBLE PRECISION,
        vote INTEGER                      -- 1 up, -1 down, NULL for not_found
    )""",
    "CREATE INDEX IF NOT EXISTS events_kind_at ON events(kind, at)",
    # The same migrations as the SQLite store, in PostgreSQL's idempotent form.
    "ALTER TABLE events ADD COLUMN IF NOT EXISTS message TEXT",
    "CREATE UNIQUE INDEX IF NOT EXISTS events_message ON events(message) WHERE message IS NOT NULL",
    # Every answer counted by UTC day and kind: no text (the console's chart).
    "CREATE TABLE IF NOT EXISTS daily (day TEXT NOT NULL, kind TEXT NOT NULL, n BIGINT NOT NULL, PRIMARY KEY (day, kind))",
]
SCHEMA_LOCK = 0x726F6C65  # pg_advisory_xact_lock key ("role"): one replica migrates at a time
INSERT = insert_sql(lambda name: f"%({name})s")
POOL_MIN, POOL_MAX = 1, 4  # writes are tiny; four covers the answer threads of one replica
START_TIMEOUT = 10  # seconds to connect at start
RETRY_EVERY = 1.0  # while the database is away, one write a second tries to connect


class PostgresStore(FeedbackStore):
    def __init__(self, url: str, timeout: float = 2.0, keep_days: float | str | None = None):
        try:
            import psycopg
            from psycopg_pool import ConnectionPool
        except ImportError as exc:
            raise RolebotError(f"a postgresql:// feedback database needs psycopg and psycopg_pool ({exc}): "
                               "pip install 'psycopg[binary]' psycopg-pool") from None
        super().__init__(keep_days)
        self.where = redacted(url)
        self.timeout = timeout  # how long a write waits for a connection before it is reported not saved
        try:
            psycopg.conninfo.conninfo_to_dict(url)
        except psycopg.Error as exc:
            raise RolebotError(f"ROLEBOT_DB / --db {self.where!r} is not a valid PostgreSQL URL ({exc}); "
                               "expected postgresql://user:password@host:port/database") from None
        try:
            # One plain connection first: its error says what is wrong (refused, no such
            # database, bad password), where a pool would only report that it timed out.
            with psycopg.connect(url, autocommit=True, connect_timeout=START_TIMEOUT) as conn, conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
                for statement in SCHEMA:
                    conn.execute(statement)
        except psycopg.Error as exc:
            detail = " ".join(str(exc).split()) or type(exc).__name__
            raise RolebotError(f"cannot use the feedback database {self.where} ({detail}): "
                               "check that PostgreSQL is running and the URL in ROLEBOT_DB / --db is right") from None
        self._pool = ConnectionPool(
            url, min_size=POOL_MIN, max_size=POOL_MAX, open=False, timeout=timeout,
            kwargs={"autocommit": True, "connect_timeout": max(1, round(timeout))},
            # A connection broken by a database restart is found at checkout and replaced,
            # rather than failing the write it was handed to.
            check=ConnectionPool.check_connection, name="rolebot-feedback",
        )
        self._pool.open(wait=False)
        self._connect = functools.partial(psycopg.connect, url, autocommit=True, connect_timeout=max(1, round(timeout)))
        self._down_since: float | None = None  # set when a pooled write fails, cleared once the pool has connections again
        self._failed_at = 0.0

    def _write(self, row: dict) -> bool:
        now = time.monotonic()
        if self._down_since is not None and self._pool.get_stats().get("pool_available"):
            log.warning("feedback database %s: pooled writes resumed after %.0f s", self.where, now - self._down_since)
            self._down_since = None
        if self._down_since is None:
            try:
                with self._pool.connection() as conn:
                    self._insert(conn, row)
                return True
            except Exception as exc:  # noqa: BLE001 - a vote must never break the chat
                self._down_since = self._failed_at = now
                return self._failed(exc)
        # The pool lost its connections and reconnects with a growing back-off; meanwhile each
        # write tries a connection of its own, so writes resume as soon as the database is back.
        # While that fails, other writes fail at once instead of holding an answer thread.
        if now - self._failed_at < RETRY_EVERY:
            return self._failed(ConnectionError(f"unreachable for {now - self._down_since:.0f} s; retrying"))
        try:
            with self._connect() as conn:
                self._insert(conn, row)
        except Exception as exc:  # noqa: BLE001
            self._failed_at = now
            return self._failed(exc)
        self._pool.check()  # lets the pool grow again if its own reconnection gave up
        return True

    def _insert(self, conn, row: dict) -> None:
        with conn.transaction():
            conn.execute(INSERT, row)
            if (cutoff := self._prune_before(row["at"])) is not None:
                conn.execute("DELETE FROM events WHERE at < %s", (cutoff,))

    def _add_counts(self, rows: list[tuple[str, str, int]]) -> None:
        with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            cur.executemany("INSERT INTO daily (day, kind, n) VALUES (%s, %s, %s) "
                            "ON CONFLICT (day, kind) DO UPDATE SET n = daily.n + excluded.n", rows)

    def _daily(self, since_day: str) -> list:
        with self._pool.connection() as conn:
            return conn.execute("SELECT day, kind, n FROM daily WHERE day >= %s ORDER BY day, kind",
                                (since_day,)).fetchall()

    def rows(self, since: float = 0.0) -> list[dict]:
        from psycopg.rows import dict_row

        with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            return cur.execute("SELECT * FROM events WHERE at >= %s ORDER BY at, id", (since,)).fetchall()

    def close(self) -> None:
        self._pool.close()
        log.debug("feedback pool for %s closed", self.where)

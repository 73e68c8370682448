"""The feedback store by path or URL: votes and unanswered questions, so authors learn which
FAQs to add. A file path (or nothing) is SQLite, the embedded default for one machine; a
``postgresql://`` URL is PostgreSQL, shared by several replicas. Both keep the same table and
answer the same calls (`record_vote`, `record_not_found`, `rows`, `close`); the backends live in
`rolebot.stores`."""

from __future__ import annotations

from pathlib import Path

from .errors import RolebotError
from .stores.base import FeedbackStore as Store, retention_days
from .stores.sqlite import SQLiteStore

FeedbackStore = SQLiteStore  # the name earlier callers (and tests) construct with a path
POSTGRES_SCHEMES = ("postgresql://", "postgres://")

__all__ = ["FeedbackStore", "Store", "is_url", "open_store", "retention_days"]


def is_url(target: str | Path) -> bool:
    return isinstance(target, str) and "://" in target


def open_store(target: str | Path, keep_days: float | str | None = None) -> Store:
    """A store for ``target``: a SQLite file path, or a postgresql:// URL (connected and migrated
    now, so a wrong URL is an error at start rather than a lost vote later)."""
    if is_url(target):
        if str(target).startswith(POSTGRES_SCHEMES):
            from .stores.postgres import PostgresStore

            return PostgresStore(str(target), keep_days=keep_days)
        scheme = str(target).split("://", 1)[0]
        raise RolebotError(f"ROLEBOT_DB / --db takes a SQLite file path or a postgresql:// URL, not a {scheme}:// URL")
    return SQLiteStore(target, keep_days=keep_days)

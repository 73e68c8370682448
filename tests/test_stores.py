"""The feedback store on both backends: one set of tests run against SQLite and a throwaway
PostgreSQL (a real server on 127.0.0.1), plus what only PostgreSQL can do (go away and come back)
and the one-line errors for a wrong URL."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time

import pytest

from rolebot.errors import RolebotError
from rolebot.feedback import open_store
from rolebot.report import build_report
from rolebot.config import redacted
from rolebot.stores.postgres import PostgresStore
from rolebot.stores.sqlite import SQLiteStore
from servers import Postgres

ROLEBOT = os.path.join(os.path.dirname(sys.executable), "rolebot")


@pytest.fixture(scope="module")
def postgres():
    pg = Postgres()
    try:
        pg.start()
        yield pg
    finally:
        pg.destroy()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    if request.param == "sqlite":
        s = open_store(tmp_path / "fb.sqlite3")
    else:
        pg = request.getfixturevalue("postgres")
        pg.query("DROP TABLE IF EXISTS events")
        s = open_store(pg.url)
    yield s
    s.close()


def test_open_store_picks_the_backend_by_path_or_url(store):
    assert isinstance(store, SQLiteStore if store.where.endswith(".sqlite3") else PostgresStore)


def test_votes_and_unanswered_questions_round_trip(store):
    assert store.record_vote("What tools?", "Docker [1]", ["doc/tools/1"], 0.9, True, "s1:2")
    assert store.record_not_found("best pizza \ud800?", 0.12)  # a lone surrogate is stored as U+FFFD
    rows = store.rows()
    assert [(r["kind"], r["question"], r["vote"], r["message"]) for r in rows] == [
        ("vote", "What tools?", 1, "s1:2"), ("not_found", "best pizza \ufffd?", None, None)]
    assert rows[0]["citations"] == '["doc/tools/1"]' and rows[0]["confidence"] == pytest.approx(0.9)
    assert store.rows(since=time.time() + 60) == []


def test_a_changed_vote_replaces_the_earlier_one(store):
    for liked in (True, False, False, True, False):
        assert store.record_vote("q", "a", [], 0.5, liked, "bob:2")
    assert store.record_vote("q", "a", [], 0.5, True, "alice:2")
    assert store.record_vote("q", "a", [], 0.5, True)  # no message: every vote counts
    assert store.record_vote("q", "a", [], 0.5, True)
    votes = [(r["message"], r["vote"]) for r in store.rows()]
    assert sorted(votes, key=str) == sorted([("bob:2", -1), ("alice:2", 1), (None, 1), (None, 1)], key=str)


def test_concurrent_writers_all_land(store):
    results = []

    def writer(n):
        results.extend(store.record_vote(f"q{n}-{i}", "a", [], 0.5, True, f"s{n}:{i}") for i in range(20))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 160 and all(results) and len(store.rows()) == 160


def test_many_connections_opening_a_new_sqlite_file_at_once_all_write(tmp_path):
    # Switching a new file to WAL needs it to itself, and SQLite says "locked" at once rather than
    # waiting: eight threads opening the same new file in the same moment used to lose a vote.
    lost = 0
    for trial in range(150):
        store = SQLiteStore(tmp_path / f"fb{trial}.sqlite3")
        results = []

        def first_vote(n):
            results.append(store.record_vote(f"q{n}", "a", [], 0.5, True, f"s{n}:0"))

        threads = [threading.Thread(target=first_vote, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        lost += results.count(False) + 8 - len(store.rows())
    assert lost == 0


def test_answer_counts_by_day_add_up_on_either_backend(store):
    import time

    for kind in ["answer", "answer", "not_found", "smalltalk"]:
        store.count_answer(kind)
    assert store.flush_counts()
    store.count_answer("answer")  # not yet written: daily_counts writes what is pending first
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert {(d, k): n for d, k, n in store.daily_counts(today)} == {
        (today, "answer"): 3, (today, "not_found"): 1, (today, "smalltalk"): 1}


def test_retention_sweeps_old_rows(store, monkeypatch):
    store.keep_days = 30
    now = time.time()
    for days, question in ((40, "an old question"), (10, "a recent question"), (0, "today's question")):
        monkeypatch.setattr(time, "time", lambda d=days: now - d * 86400)
        assert store.record_not_found(question, 0.1)
    assert [r["question"] for r in store.rows()] == ["a recent question", "today's question"]


def test_report_reads_either_backend(store, fake_embedder):
    store.record_not_found("how much do they earn?", 0.1)
    store.record_not_found("how much do they earn", 0.1)
    store.record_vote("tools?", "Docker [1]", ["a/b/1"], 0.9, False, "s:2")
    report = build_report(store.rows(), fake_embedder)
    assert report.totals == {"events": 3, "unanswered": 2, "unanswered_groups": 1, "votes_up": 0, "votes_down": 1}


# -- PostgreSQL only --------------------------------------------------------------------------
def test_an_older_postgres_table_is_migrated_on_open(postgres):
    postgres.query("DROP TABLE IF EXISTS events")
    postgres.query("CREATE TABLE events (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at DOUBLE PRECISION NOT NULL, "
                   "kind TEXT NOT NULL, question TEXT NOT NULL, answer TEXT NOT NULL DEFAULT '', "
                   "citations TEXT NOT NULL DEFAULT '[]', confidence DOUBLE PRECISION, vote INTEGER)")
    postgres.query("INSERT INTO events (at, kind, question) VALUES (%s, 'not_found', 'from before')", time.time() - 60)
    opened = []
    threads = [threading.Thread(target=lambda: opened.append(open_store(postgres.url))) for _ in range(4)]
    for t in threads:  # replicas starting together migrate once, without tripping over each other
        t.start()
    for t in threads:
        t.join()
    assert len(opened) == 4
    store = opened[0]
    assert store.record_vote("q", "a", [], 0.5, True, "s:2") and store.record_vote("q", "a", [], 0.5, False, "s:2")
    assert [(r["question"], r["message"], r["vote"]) for r in store.rows()] == [("from before", None, None), ("q", "s:2", -1)]
    for s in opened:
        s.close()


def test_a_database_that_goes_away_fails_writes_fast_and_they_resume(postgres, caplog):
    postgres.query("DROP TABLE IF EXISTS events")
    store = PostgresStore(postgres.url, timeout=1.0)
    try:
        assert store.record_not_found("before", 0.1)
        postgres.stop()
        with caplog.at_level(logging.WARNING, logger="rolebot"):
            started = time.perf_counter()
            first = store.record_not_found("while away 1", 0.1)
            first_took = time.perf_counter() - started
            started = time.perf_counter()
            rest = [store.record_not_found(f"while away {i}", 0.1) for i in range(2, 12)]
            rest_took = time.perf_counter() - started
        assert first is False and first_took < 2.5  # waits at most `timeout` for a connection
        assert rest == [False] * 10 and rest_took < 0.5  # then fails at once: no answer thread is held
        assert sum("feedback not saved" in r.getMessage() for r in caplog.records) == 11
        postgres.start()
        deadline = time.monotonic() + 5
        while not store.record_not_found("after", 0.1):
            assert time.monotonic() < deadline, "writes did not resume within 5 s of the database's return"
            time.sleep(0.1)
        assert [r["question"] for r in store.rows()] == ["before", "after"]
    finally:
        if postgres.pid() is None:
            postgres.start()
        store.close()


def test_password_never_shown():
    assert redacted("postgresql://rolebot:s3cret@db.internal:5432/rolebot") == "postgresql://rolebot:***@db.internal:5432/rolebot"
    assert redacted("postgresql://db.internal/rolebot") == "postgresql://db.internal/rolebot"
    assert redacted("redis://:hunter2@127.0.0.1:6379/0") == "redis://:***@127.0.0.1:6379/0"


@pytest.mark.parametrize("url, says", [
    ("postgresql://rolebot:s3cret@127.0.0.1:1/rolebot", "Connection refused"),
    ("postgresql://127.0.0.1:5432/x?sslmode=sometimes", "sslmode"),
    ("postgresql://[::1/x", "not a valid PostgreSQL URL"),
    ("mysql://127.0.0.1/x", "SQLite file path or a postgresql:// URL"),
])
def test_a_wrong_database_url_is_a_clear_error(url, says):
    with pytest.raises(RolebotError, match="ROLEBOT_DB|feedback database") as caught:
        open_store(url)
    assert says in str(caught.value) and "s3cret" not in str(caught.value)


@pytest.mark.parametrize("command", [["serve", "--port", "9"], ["report"]])
def test_the_cli_says_it_in_one_line(command, tmp_path):
    done = subprocess.run([ROLEBOT, *command, "--db", "postgresql://rolebot:s3cret@127.0.0.1:1/rolebot"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("rolebot: error:")]
    assert len(errors) == 1 and "127.0.0.1:1" in errors[0] and "Traceback" not in done.stderr, done.stderr
    assert "s3cret" not in done.stderr

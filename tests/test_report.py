"""The author's report: unanswered questions grouped by similarity, downvoted answers."""

import numpy as np
import pytest

from rolebot.cli import main
from rolebot.feedback import FeedbackStore
from rolebot.report import build_report, cluster, format_report


def test_greedy_clustering_groups_near_duplicates():
    vecs = np.array([[1, 0], [0.99, 0.14], [0, 1], [0.1, 0.995], [0.98, 0.2]], dtype="float32")
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    qs = ["salary?", "pay?", "remote?", "work from home?", "how much pay"]
    out = cluster(qs, [1, 2, 3, 4, 5], vecs, threshold=0.9)
    assert [(c.count, set(c.variants)) for c in out] == [
        (3, {"salary?", "pay?", "how much pay"}),
        (2, {"remote?", "work from home?"}),
    ]


def test_report_from_a_real_database(tmp_path, fake_embedder):
    store = FeedbackStore(tmp_path / "fb.sqlite3")
    for q in ["how much do data scientists earn", "how much do data scientists earn", "best laptop?"]:
        assert store.record_not_found(q, 0.1)
    assert store.record_vote("mle tools?", "Docker [1]", ["a/b/1"], 0.9, liked=False)
    assert store.record_vote("mle tools?", "Docker [1]", ["a/b/1"], 0.9, liked=False)
    assert store.record_vote("ds tools?", "Jupyter [1]", ["a/c/1"], 0.9, liked=True)
    report = build_report(store.rows(), fake_embedder)
    assert report.totals == {"events": 6, "unanswered": 3, "unanswered_groups": 2, "votes_up": 1, "votes_down": 2}
    assert report.unanswered[0].question == "how much do data scientists earn" and report.unanswered[0].count == 2
    assert [(d.question, d.down, d.up) for d in report.downvoted] == [("mle tools?", 2, 0)]
    text = format_report(report)
    assert "1. [2x] how much do data scientists earn" in text and "[-2 +0] Q: mle tools?" in text


@pytest.mark.slow
def test_report_command(tmp_path, capsys):
    db = tmp_path / "fb.sqlite3"
    store = FeedbackStore(db)
    store.record_not_found("what is the salary of an ml engineer", 0.2)
    store.record_not_found("ml engineer salary?", 0.2)
    store.record_not_found("how do I bake bread", 0.01)
    csv_path = tmp_path / "r.csv"
    assert main(["report", "--db", str(db), "--csv", str(csv_path)]) == 0
    out = capsys.readouterr().out
    assert "3 unanswered questions in 2 groups" in out and "[2x]" in out
    assert csv_path.read_text().startswith("type,count_or_down")
    assert main(["report", "--db", str(db), "--since", "yesterday"]) == 2
    assert main(["report", "--db", str(tmp_path / "none.sqlite3")]) == 1


def test_csv_cells_that_look_like_formulas_stay_text(tmp_path, fake_embedder):
    import csv

    from rolebot.report import write_csv

    store = FeedbackStore(tmp_path / "f.sqlite3")
    for question in ['=HYPERLINK("http://203.0.113.9","x")', "+1 what", "-rm", "@SUM(A1)", "\tx", "plain question"]:
        store.record_not_found(question, 0.1)
    path = tmp_path / "r.csv"
    write_csv(build_report(store.rows(), fake_embedder), path)
    questions = [row[3] for row in csv.reader(path.open(encoding="utf-8"))][1:]
    assert questions and all(not q.startswith(("=", "+", "-", "@", "\t")) for q in questions)
    assert "plain question" in questions and "'=HYPERLINK(\"http://203.0.113.9\",\"x\")" in questions


def test_clustering_100k_questions_takes_seconds():
    import time

    rng = np.random.default_rng(0)
    topics = rng.normal(size=(50, 32)).astype("float32")
    picks = rng.integers(0, 50, size=100_000)
    vectors = topics[picks] + 0.05 * rng.normal(size=(100_000, 32)).astype("float32")
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    started = time.perf_counter()
    clusters = cluster([f"q{i}" for i in range(100_000)], [float(i) for i in range(100_000)], vectors)
    assert time.perf_counter() - started < 30  # was quadratic: 10,000 took 25 s
    assert 40 <= len(clusters) <= 60 and sum(c.count for c in clusters) == 100_000

"""Answer-quality regression guard: the eval figures must stay at the levels reached.

Floors sit a little under the measured figures (README) so that float noise between
machines cannot flip them, while a real regression still does.
"""

import pytest

from rolebot.evaluation import evaluate, fixed_chunks, is_hit, load_set, rank_metrics

from conftest import ROOT

pytestmark = pytest.mark.slow

FLOORS = {
    "hit@1": 0.77,
    "hit@3": 0.89,
    "mrr@10": 0.83,
    "answer_acc": 0.87,
    "answered": 0.97,
    "abstain_precision": 0.95,
    "abstain_recall": 0.82,
    "smalltalk": 1.0,
    "multiturn": 0.75,
}


@pytest.fixture(scope="module")
def report(assistant):
    return evaluate(assistant, load_set(ROOT / "eval" / "questions.jsonl"))


@pytest.mark.parametrize("metric", sorted(FLOORS))
def test_rolebot_stays_at_its_level(report, metric):
    assert report.rows["rolebot"][metric] >= FLOORS[metric]


def test_rolebot_beats_both_baselines_by_a_wide_margin(report):
    ours = report.rows["rolebot"]
    for name in ("bm25-500char", "dense-500char"):
        assert ours["hit@1"] >= report.rows[name]["hit@1"] + 0.25
        assert ours["hit@3"] >= report.rows[name]["hit@3"] + 0.15


def test_eval_set_shape():
    items = load_set(ROOT / "eval" / "questions.jsonl")
    cats = [i["category"] for i in items]
    in_scope = [i for i in items if "gold" in i and i["category"] != "multiturn"]
    assert len(in_scope) >= 100
    assert cats.count("multiturn") >= 15 and cats.count("smalltalk") >= 5
    assert cats.count("out_of_scope") + cats.count("near_domain") >= 20


def test_metric_helpers():
    item = {"gold": ["a/b/1"], "gold_phrases": ["Docker and Kubernetes"]}
    assert is_hit("uses docker and  kubernetes daily", None, item)
    assert is_hit("", "a/b/1", item) and not is_hit("nothing", "a/b/2", item)
    assert rank_metrics([False, True, False]) == {"hit@1": 0.0, "hit@3": 1.0, "mrr@10": 0.5}
    chunks = fixed_chunks(["x" * 1000], size=500, overlap=50)
    assert [len(c) for c in chunks] == [500, 500, 100]

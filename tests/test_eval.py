"""Answer-quality regression guard: the eval figures must stay at the levels reached.

Floors sit a little under the measured figures (README) so that float noise between
machines cannot flip them, while a real regression still does.
"""

import pytest

from rolebot.evaluation import evaluate, fixed_chunks, is_hit, load_set, rank_metrics

from conftest import ROOT

pytestmark = pytest.mark.slow

FLOORS = {  # eval/questions.jsonl: a dev set (the confidence weights and threshold were fitted on it)
    "hit@1": 0.84,  # 0.877 today
    "hit@3": 0.89,
    "mrr@10": 0.82,
    "answer_acc": 0.86,
    "lead": 0.82,  # 0.855 today
    "answered": 0.97,
    "abstain_precision": 0.92,
    "abstain_recall": 0.90,  # 0.947 today, 0.895 before the thirteenth session's answer-type checks
    "smalltalk": 1.0,
    "multiturn": 0.71,
}
# eval/test.jsonl: written blind, read only as totals. Floors a little under today's figures
# (README), far under the targets of the quality issue, which are not met yet.
TEST_FLOORS = {
    "hit@1": 0.69,  # 0.715 today, 0.708 before per-role template questions (nineteenth session), 0.685 before the fifteenth
    "hit@3": 0.87,  # 0.892 today, 0.885 before the nineteenth session, 0.892 before the fifteenth
    "answer_acc": 0.82,  # 0.845 today, 0.831 before "which is easier?" named the pair (eighteenth session), 0.817 before the eleventh
    "lead": 0.75,  # 0.782 today, 0.775 before the nineteenth session, 0.761 before the eighteenth, 0.718 before the eleventh
    "answered": 0.95,  # 0.972 today, 0.958 before the eighteenth session, 0.951 before the thirteenth, 0.915 before the tenth
    "abstain_recall": 0.95,  # 0.968 today, 0.935 before a role the article never names counted as out of scope
    "facts": 0.95,  # 12 of 12 today, 11 before the thirteenth session's page-fact phrasings
    "abstain_precision": 0.8,  # 0.857 today, 0.811 before the eighteenth session, 0.769 before the thirteenth
    "smalltalk": 0.9,  # 16 of 17 today, 15 before the thirteenth session, 14 before the small-talk work
    # 22 of 34 today (21 before the seventeenth session's own-words blend), 20 before the twelfth
    "conversations": 0.6,
    # 0.755 today: 0.776 before the nineteenth session's role-swap mirror lost one turn (docs/answer-quality.md); 0.714 before the eleventh
    "follow_ups": 0.74,
}
# eval/dev-blind.jsonl: written blind like the test set, but a dev set (its failures were read).
BLIND_DEV_FLOORS = {"hit@1": 0.63, "hit@3": 0.87, "answer_acc": 0.82, "lead": 0.71, "answered": 0.93,
                    "abstain_recall": 0.93, "facts": 0.85, "smalltalk": 1.0}  # abstain recall 0.969 today


@pytest.fixture(scope="module")
def report(assistant):
    return evaluate(assistant, load_set(ROOT / "eval" / "questions.jsonl"))


@pytest.fixture(scope="module")
def test_report(assistant):
    return evaluate(assistant, load_set(ROOT / "eval" / "test.jsonl"), baselines=False)


@pytest.mark.parametrize("metric", sorted(FLOORS))
def test_rolebot_stays_at_its_level(report, metric):
    assert report.rows["rolebot"][metric] >= FLOORS[metric]


@pytest.mark.parametrize("metric", sorted(TEST_FLOORS))
def test_held_out_set_stays_at_its_level(test_report, metric):
    assert test_report.rows["rolebot"][metric] >= TEST_FLOORS[metric]


def test_blind_dev_set_stays_at_its_level(assistant):
    rows = evaluate(assistant, load_set(ROOT / "eval" / "dev-blind.jsonl"), baselines=False).rows["rolebot"]
    assert {k: v for k, v in rows.items() if k in BLIND_DEV_FLOORS and v < BLIND_DEV_FLOORS[k]} == {}


def test_second_blind_dev_set_stays_at_its_level(assistant):
    """eval/dev-blind-2.jsonl: 160 single questions written blind in the eleventh session; dev
    (failures read). Today hit@1 0.736, answer_acc 0.800, lead 0.742, answered 0.958, abstain
    recall 0.733 (0.633 on the code before that session), facts and small talk 1.0."""
    rows = evaluate(assistant, load_set(ROOT / "eval" / "dev-blind-2.jsonl"), baselines=False).rows["rolebot"]
    floors = {"hit@1": 0.70, "answer_acc": 0.77, "lead": 0.71, "answered": 0.93, "abstain_recall": 0.76,  # 0.800 today
              "facts": 0.9, "smalltalk": 0.9}
    assert {k: v for k, v in rows.items() if k in floors and v < floors[k]} == {}


def test_dev_conversations_follow_the_topic(assistant):
    rows = evaluate(assistant, load_set(ROOT / "eval" / "dev-conversations.jsonl"), baselines=False).rows["rolebot"]
    # 0.6 today (0.8 before the template questions: one turn's gold is another passage than the
    # one a "do all day" template now picks, one follow-up is pulled to a skills template).
    assert rows["conversations"] >= 0.5 and rows["follow_ups"] >= 0.6
    # Written blind like the held-out set, but a dev set: its failures were read.
    rows = evaluate(assistant, load_set(ROOT / "eval" / "dev-conversations-2.jsonl"), baselines=False).rows["rolebot"]
    assert rows["conversations"] >= 0.6 and rows["follow_ups"] >= 0.78  # 0.675 / 0.844 today
    # 46 conversations of follow-ups in many phrasings, written blind; a dev set (failures read).
    # 0.391 / 0.581 today (0.326 / 0.500 before the eleventh session): the weakest set, see docs/answer-quality.md
    # "Where it falls short".
    rows = evaluate(assistant, load_set(ROOT / "eval" / "dev-followups.jsonl"), baselines=False).rows["rolebot"]
    assert rows["conversations"] >= 0.34 and rows["follow_ups"] >= 0.52
    # 40 more, written blind in the eleventh session; dev (failures read). 0.550 / 0.764 today,
    # 0.450 / 0.691 on the code before that session; out-of-scope turns 0.875 (0.688 before).
    # 0.500 / 0.709 since BM25 weighs words by their commonness (0.575 / 0.745 before: near
    # ties between two passages that both answer; the blind single-question sets rose).
    rows = evaluate(assistant, load_set(ROOT / "eval" / "dev-conversations-3.jsonl"), baselines=False)
    assert rows.rows["rolebot"]["conversations"] >= 0.47 and rows.rows["rolebot"]["follow_ups"] >= 0.68
    assert rows.categories["turns: out of scope"]["ok"] >= 0.8
    # 40 more, written blind later that session (totals first, then failures read for its last
    # changes): 0.425 / 0.617 today, 0.325 / 0.596 on the code before the session; out-of-scope
    # turns 0.875 (0.708 before).
    rows = evaluate(assistant, load_set(ROOT / "eval" / "dev-conversations-4.jsonl"), baselines=False)
    assert rows.rows["rolebot"]["conversations"] >= 0.37 and rows.rows["rolebot"]["follow_ups"] >= 0.57
    assert rows.categories["turns: out of scope"]["ok"] >= 0.8
    # 40 more, written blind in the twelfth session (totals first: 0.500 / 0.716 on the code of
    # its start, 0.525 / 0.731 after its first six changes; then failures read). 0.575 / 0.761 today.
    rows = evaluate(assistant, load_set(ROOT / "eval" / "dev-conversations-5.jsonl"), baselines=False)
    assert rows.rows["rolebot"]["conversations"] >= 0.58 and rows.rows["rolebot"]["follow_ups"] >= 0.72  # 0.650 / 0.776 today
    assert rows.categories["turns: out of scope"]["ok"] >= 0.85  # 1.0 today, 0.778 before the thirteenth session
    # 50 more, written blind late in the twelfth session (totals first, then failures read):
    # 0.540 / 0.687 today and on the code of that session's start.
    rows = evaluate(assistant, load_set(ROOT / "eval" / "dev-conversations-6.jsonl"), baselines=False)
    assert rows.rows["rolebot"]["conversations"] >= 0.48 and rows.rows["rolebot"]["follow_ups"] >= 0.65  # 0.520 / 0.687 today
    assert rows.categories["turns: out of scope"]["ok"] >= 0.85  # 0.909 today, 0.727 before the thirteenth session
    # 40 more, written blind in the thirteenth session (totals first: 0.325 / 0.532 on the code of
    # its start; then failures read): 0.425 / 0.597 today, out-of-scope turns 0.750 (0.667 before).
    rows = evaluate(assistant, load_set(ROOT / "eval" / "dev-conversations-7.jsonl"), baselines=False)
    assert rows.rows["rolebot"]["conversations"] >= 0.37 and rows.rows["rolebot"]["follow_ups"] >= 0.55
    assert rows.categories["turns: out of scope"]["ok"] >= 0.7


def test_follow_up_moves_in_many_phrasings(assistant):
    """eval/dev-moves.jsonl: 60 two-turn conversations whose second turn asks for an example, more,
    why, the next step, the step before or a one-line summary, written blind in the thirteenth
    session; a dev set (failures read). 45 of 60 right before that session's move phrasings, 49 after."""
    rows = evaluate(assistant, load_set(ROOT / "eval" / "dev-moves.jsonl"), baselines=False).rows["rolebot"]
    assert rows["conversations"] >= 0.76 and rows["follow_ups"] >= 0.76


def test_near_domain_questions_and_their_look_alikes(assistant):
    """eval/dev-scope.jsonl: 50 near-domain questions and 30 answerable look-alikes, written blind in
    the thirteenth session; a dev set (failures read after its totals: abstain recall 0.860,
    look-alikes answered 0.967). Today 0.900 and 1.0."""
    report = evaluate(assistant, load_set(ROOT / "eval" / "dev-scope.jsonl"), baselines=False)
    assert report.categories["near_domain"]["abstain_recall"] >= 0.86
    assert report.categories["lookalike"]["answered"] >= 0.95


def test_fresh_conversations_stay_at_their_level(assistant):
    """eval/fresh-conversations.jsonl: 50 conversations written blind at the end of the twelfth
    session and read only as totals, like the held-out set: 0.500 / 0.682 today and at the
    twentieth and nineteenth sessions' start (0.500 / 0.712 at the eighteenth's, 0.460 / 0.697 at the thirteenth's, 0.420 / 0.682 at the twelfth's)."""
    rows = evaluate(assistant, load_set(ROOT / "eval" / "fresh-conversations.jsonl"), baselines=False).rows["rolebot"]
    assert rows["conversations"] >= 0.44 and rows["follow_ups"] >= 0.67


def test_second_fresh_conversations_stay_at_their_level(assistant):
    """eval/fresh-conversations-2.jsonl: 40 conversations written blind late in the fourteenth
    session and read only as totals: 0.575 / 0.825 today (after the twenty-second session's chat
    contractions; 0.525 / 0.794 at its start), 0.550 / 0.810 at the twentieth session's
    and the nineteenth's start (0.525 / 0.794 at the eighteenth's, 0.500 / 0.778 at the fourteenth's)."""
    rows = evaluate(assistant, load_set(ROOT / "eval" / "fresh-conversations-2.jsonl"), baselines=False).rows["rolebot"]
    assert rows["conversations"] >= 0.47 and rows["follow_ups"] >= 0.75


def test_third_fresh_conversations_stay_at_their_level(assistant):
    """eval/fresh-conversations-3.jsonl: 40 conversations (133 turns) written blind late in the
    eighteenth session, after its changes, and read only as totals: 0.550 / 0.734 on its final code,
    0.500 / 0.722 on its start code; 0.550 / 0.759 at the nineteenth session's end, 0.550 / 0.772 at
    the twentieth's, 0.575 / 0.772 at the twenty-first's."""
    rows = evaluate(assistant, load_set(ROOT / "eval" / "fresh-conversations-3.jsonl"), baselines=False).rows["rolebot"]
    assert rows["conversations"] >= 0.5 and rows["follow_ups"] >= 0.7


def test_fourth_fresh_conversations_stay_at_their_level(assistant):
    """eval/fresh-conversations-4.jsonl: 40 conversations (138 turns: 76 answerable, 31 out of
    scope, 22 small talk, 9 about the page) written blind late in the twenty-first session, after
    its changes, and read only as totals: 0.350 / 0.745 on its final code, 0.300 / 0.745 on its
    start code. Its out-of-scope turns (0.645 both) are the weakest kind of turn it shows."""
    report = evaluate(assistant, load_set(ROOT / "eval" / "fresh-conversations-4.jsonl"), baselines=False)
    assert report.rows["rolebot"]["conversations"] >= 0.3 and report.rows["rolebot"]["follow_ups"] >= 0.7
    assert report.categories["turns: small talk"]["smalltalk"] >= 0.9


def test_fresh_blind_questions_stay_at_their_level(assistant):
    """eval/fresh-blind.jsonl: 130 items (105 answerable single questions, 20 out of scope or
    near-domain, 5 small talk) written blind at the end of the fifteenth session and read only
    as totals. Today hit@1 0.771, answer_acc 0.810, lead 0.762, answered 0.981, abstain recall
    1.0 (hit@1 0.781 at the twenty-second session's start, before its chat contractions; 0.781,
    0.800, 0.752, 0.981, 1.0 at the twenty-first session's start; 0.771, 0.790, 0.743, 0.971, 1.0
    at the twentieth's; 0.762, 0.781, 0.733, 0.971, 0.950 at the nineteenth's); without the fifteenth
    session's BM25 weighting 0.705, 0.810, 0.695."""
    rows = evaluate(assistant, load_set(ROOT / "eval" / "fresh-blind.jsonl"), baselines=False).rows["rolebot"]
    floors = {"hit@1": 0.73, "hit@3": 0.86, "answer_acc": 0.76, "lead": 0.70, "answered": 0.94,
              "abstain_recall": 0.9, "smalltalk": 0.8}
    assert {k: v for k, v in rows.items() if k in floors and v < floors[k]} == {}


def test_second_fresh_blind_questions_stay_at_their_level(assistant):
    """eval/fresh-blind-2.jsonl: 150 items (121 answerable single questions, 18 out of scope or
    near-domain, 5 small talk, 6 about the page) written blind at the start of the twenty-second
    session and read only as totals: hit@1 0.719, hit@3 0.934, answer_acc 0.882, lead 0.764,
    answered 0.984, abstain recall 0.889 (16 of 18), page facts and small talk all right."""
    rows = evaluate(assistant, load_set(ROOT / "eval" / "fresh-blind-2.jsonl"), baselines=False).rows["rolebot"]
    floors = {"hit@1": 0.68, "hit@3": 0.90, "answer_acc": 0.84, "lead": 0.72, "answered": 0.95,
              "abstain_recall": 0.83, "facts": 0.83, "smalltalk": 0.8}
    assert {k: v for k, v in rows.items() if k in floors and v < floors[k]} == {}


def test_third_blind_dev_set_stays_at_its_level(assistant):
    """eval/dev-blind-3.jsonl: 150 single questions written blind in the twelfth session; dev
    (failures read after its totals were taken). Today hit@1 0.752, hit@3 0.952, answer_acc 0.843,
    lead 0.765, answered 0.965, abstain recall 1.0, facts and small talk 1.0."""
    rows = evaluate(assistant, load_set(ROOT / "eval" / "dev-blind-3.jsonl"), baselines=False).rows["rolebot"]
    floors = {"hit@1": 0.72, "hit@3": 0.92, "answer_acc": 0.81, "lead": 0.73, "answered": 0.94,
              "abstain_recall": 0.95, "facts": 0.9, "smalltalk": 0.9}
    assert {k: v for k, v in rows.items() if k in floors and v < floors[k]} == {}


def test_rolebot_beats_both_baselines_by_a_wide_margin(report):
    ours = report.rows["rolebot"]
    for name in ("bm25-500char", "dense-500char"):
        assert ours["hit@1"] >= report.rows[name]["hit@1"] + 0.25
        assert ours["hit@3"] >= report.rows[name]["hit@3"] + 0.15


def test_held_out_set_shape():
    items = load_set(ROOT / "eval" / "test.jsonl")
    cats = [i["category"] for i in items]
    assert len(items) >= 150 and cats.count("conversation") >= 30
    assert all(2 <= len(i["turns"]) <= 4 for i in items if i["category"] == "conversation")


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


def test_small_talk_written_blind_later(assistant):
    """eval/dev-smalltalk-2.jsonl: 70 small-talk messages and 20 questions wrapped in small talk,
    written blind in the thirteenth session; a dev set (failures read). Before that session's
    small-talk work: 54 of 70 recognised (0.771); 70 of 70 after."""
    rows = evaluate(assistant, load_set(ROOT / "eval" / "dev-smalltalk-2.jsonl"), baselines=False).rows["rolebot"]
    assert rows["smalltalk"] >= 0.97 and rows["answered"] >= 0.95


def test_small_talk_written_blind_in_the_fourteenth_session(assistant):
    """eval/dev-smalltalk-3.jsonl: 80 small-talk messages, 16 wrapped questions and 4 wrapped
    near-domain ones (written "answer"; the article covers none of pay, demand, degrees or
    work-life balance: relabelled not_found), written blind by a helper who read nothing of the
    project; a dev set (failures read). First read: 72 of 80 (0.900); 80 of 80 after."""
    rows = evaluate(assistant, load_set(ROOT / "eval" / "dev-smalltalk-3.jsonl"), baselines=False).rows["rolebot"]
    assert rows["smalltalk"] >= 0.97 and rows["answered"] >= 0.9 and rows["abstain_recall"] >= 0.75


def test_reactions_written_blind_in_the_seventeenth_session(assistant):
    """eval/dev-smalltalk-4.jsonl: 120 small-talk messages (44 of them reactions to an answer or
    feelings about learning: "my head is spinning", "yeah that tracks"), 30 wrapped questions and 20
    out-of-scope messages, written blind by a helper who read only the article's headings; a dev set
    (failures read). First read: small talk 66 of 120 (0.550), answered 0.967, abstain recall 0.900;
    after remarks were told from questions and the date of something else from the page's: small
    talk 0.933, abstain recall 0.950."""
    rows = evaluate(assistant, load_set(ROOT / "eval" / "dev-smalltalk-4.jsonl"), baselines=False).rows["rolebot"]
    assert rows["smalltalk"] >= 0.88 and rows["answered"] >= 0.93 and rows["abstain_recall"] >= 0.9


def test_conversations_with_reactions_written_blind_in_the_seventeenth_session(assistant):
    """eval/dev-conversations-8.jsonl: 40 conversations (162 turns) each with a reaction mid-way
    ("hmm ok", "my brain hurts lol") and a follow-up after it that needs what came before, written
    blind by a helper who read only the article; a dev set (failures read). First read, on the
    session's start code: conversations 5 of 40, follow-ups 0.509, small-talk turns 0.442; after
    remarks, the topic kept across them, no plug as a next step and a follow-up's own words counted
    beside its rewrite: 10 of 40, 0.527, 0.846."""
    rows = evaluate(assistant, load_set(ROOT / "eval" / "dev-conversations-8.jsonl"), baselines=False)
    assert rows.rows["rolebot"]["conversations"] >= 0.2 and rows.rows["rolebot"]["follow_ups"] >= 0.48
    assert rows.categories["turns: small talk"]["smalltalk"] >= 0.75


def test_conversations_written_blind_in_the_eighteenth_session(assistant):
    """eval/dev-conversations-9.jsonl: 40 conversations (134 turns, 75 follow-ups: pronouns, role
    swaps, "why that one?", the step after or before one named), written blind by a helper who read
    only the article; a dev set (failures read). First read, on the session's start code:
    conversations 19 of 40, follow-ups 0.667, opening turns 0.763; on its final code 20 of 40, 0.720."""
    rows = evaluate(assistant, load_set(ROOT / "eval" / "dev-conversations-9.jsonl"), baselines=False).rows["rolebot"]
    assert rows["conversations"] >= 0.45 and rows["follow_ups"] >= 0.68


def test_conversations_written_blind_in_the_nineteenth_session(assistant):
    """eval/dev-conversations-10.jsonl: 40 conversations (137 turns, 60 follow-ups, 23 out of scope,
    7 page facts), written blind by a helper who read only the article, weighted to the workflow,
    output, differences, skills and tools. The writer left the page-fact turns without keywords; each
    got the front-matter value its question asks for. First read as totals on the session's start
    code: conversations 18 of 40, follow-ups 0.750, out-of-scope turns 0.739; then its failures were
    read: a dev set. 19 of 40, 0.767 after the role-swap mirror (docs/answer-quality.md)."""
    rows = evaluate(assistant, load_set(ROOT / "eval" / "dev-conversations-10.jsonl"), baselines=False)
    assert rows.rows["rolebot"]["conversations"] >= 0.42 and rows.rows["rolebot"]["follow_ups"] >= 0.72
    assert rows.categories["turns: article fact"]["facts"] == 1.0


def test_page_facts_written_blind_later(assistant):
    """eval/dev-facts.jsonl: 60 questions about the page and 15 about its content that name the page,
    written blind in the thirteenth session; a dev set (failures read). Before that session's
    work on it: 37 of 60 page facts (0.617); 60 of 60 after."""
    report = evaluate(assistant, load_set(ROOT / "eval" / "dev-facts.jsonl"), baselines=False)
    assert report.categories["article_fact"]["facts"] >= 0.95
    assert report.categories["content_about_page"]["answered"] >= 0.9  # not taken for page facts


def test_small_talk_and_page_facts_in_many_phrasings(assistant):
    """eval/dev-smalltalk.jsonl: 90 small-talk messages, 30 questions about the page, 26 real
    questions wrapped in small talk and 12 conversations with small talk mid-way, written blind
    (the helper read only the article); a dev set, its failures were read. Before this round's
    small-talk work: small talk 0.622, facts 0.600, conversations 0.667."""
    rows = evaluate(assistant, load_set(ROOT / "eval" / "dev-smalltalk.jsonl"), baselines=False).rows["rolebot"]
    assert rows["smalltalk"] >= 0.95 and rows["facts"] >= 0.93 and rows["conversations"] >= 0.9
    assert rows["answered"] >= 0.9  # the wrapped questions are answered, not taken for small talk


def test_fourth_blind_dev_set_stays_at_its_level(assistant):
    """eval/dev-blind-4.jsonl: 150 single questions written blind in the thirteenth session; dev
    (failures read after its totals were taken: hit@1 0.762, answer_acc 0.819, answered 0.929,
    abstain precision 0.654 on the code of that session's start). Today hit@1 0.762, hit@3 0.926,
    answer_acc 0.827, lead 0.717, answered 0.937, abstain recall 0.895, facts and small talk 1.0."""
    rows = evaluate(assistant, load_set(ROOT / "eval" / "dev-blind-4.jsonl"), baselines=False).rows["rolebot"]
    floors = {"hit@1": 0.73, "hit@3": 0.9, "answer_acc": 0.79, "lead": 0.69, "answered": 0.91,
              "abstain_recall": 0.85, "facts": 0.9, "smalltalk": 0.9}
    assert {k: v for k, v in rows.items() if k in floors and v < floors[k]} == {}


def test_fifth_blind_dev_set_stays_at_its_level(assistant):
    """eval/dev-blind-5.jsonl: 150 items written blind in the fourteenth session; dev (failures
    read after its totals were taken: hit@1 0.800, answer_acc 0.878 on the code of that session's
    start). Today hit@1 0.819, hit@3 0.924, answer_acc 0.896, lead 0.783, answered 0.991,
    abstain recall 0.880, facts and small talk 1.0."""
    rows = evaluate(assistant, load_set(ROOT / "eval" / "dev-blind-5.jsonl"), baselines=False).rows["rolebot"]
    floors = {"hit@1": 0.78, "hit@3": 0.89, "answer_acc": 0.85, "lead": 0.74, "answered": 0.96,
              "abstain_recall": 0.84, "facts": 0.9, "smalltalk": 0.9}
    assert {k: v for k, v in rows.items() if k in floors and v < floors[k]} == {}


def test_sixth_blind_dev_set_stays_at_its_level(assistant):
    """eval/dev-blind-6.jsonl: 150 items (115 answerable, at least 12 each about the workflow, the
    output, differences, similarities, skills and tools; 25 out of scope, 5 page facts, 5 small
    talk), written blind in the nineteenth session by a helper who read only the article; its
    page-fact items got their front-matter value as keywords. First read as totals on the session's
    start code: hit@1 0.791, hit@3 0.913, answer_acc 0.858, lead 0.775, answered 0.958, abstain
    recall 0.880, facts 0.800; then its failures were read: a dev set."""
    rows = evaluate(assistant, load_set(ROOT / "eval" / "dev-blind-6.jsonl"), baselines=False).rows["rolebot"]
    floors = {"hit@1": 0.75, "hit@3": 0.88, "answer_acc": 0.82, "lead": 0.74, "answered": 0.93,
              "abstain_recall": 0.84, "facts": 0.8, "smalltalk": 0.9}
    assert {k: v for k, v in rows.items() if k in floors and v < floors[k]} == {}


def test_seventh_blind_dev_set_stays_at_its_level(assistant):
    """eval/dev-blind-7.jsonl: 150 items (128 answerable, 16 about differences and 14 about the
    workflow among them; 16 out of scope or near-domain, 3 page facts, 3 small talk), written blind
    at the start of the twentieth session by a helper who read only the article. First read as
    totals on that session's start code: hit@1 0.703, hit@3 0.898, answer_acc 0.794, lead 0.725,
    answered 0.962, abstain recall 0.938; then its failures were read: a dev set. Today hit@1 0.703,
    answer_acc 0.802, lead 0.740, answered 0.969."""
    rows = evaluate(assistant, load_set(ROOT / "eval" / "dev-blind-7.jsonl"), baselines=False).rows["rolebot"]
    floors = {"hit@1": 0.66, "hit@3": 0.86, "answer_acc": 0.76, "lead": 0.70, "answered": 0.93,
              "abstain_recall": 0.87, "facts": 0.6, "smalltalk": 0.6}
    assert {k: v for k, v in rows.items() if k in floors and v < floors[k]} == {}


def test_conversations_written_blind_in_the_twentieth_session(assistant):
    """eval/dev-conversations-11.jsonl: 40 conversations (172 turns: 114 answerable, 32 out of scope,
    19 small talk, 7 page facts), written blind at the start of the twentieth session by a helper who
    read only the article. First read as totals on that session's start code: conversations 18 of 40,
    follow-ups 0.705; then its failures were read: a dev set. 21 of 40 and 0.756 after its fixes
    ("and then?", "whats the last step", "is it the same for …?", a refused turn's antecedent)."""
    rows = evaluate(assistant, load_set(ROOT / "eval" / "dev-conversations-11.jsonl"), baselines=False)
    assert rows.rows["rolebot"]["conversations"] >= 0.45 and rows.rows["rolebot"]["follow_ups"] >= 0.71
    assert rows.categories["turns: article fact"]["facts"] >= 0.85


def test_eighth_blind_dev_set_stays_at_its_level(assistant):
    """eval/dev-blind-8.jsonl: 150 items (115 answerable, 10-11 each about the workflow,
    differences, similarities and output among them; 25 out of scope or near-domain, 5 page facts,
    5 small talk), written blind at the start of the twenty-first session by a helper who read only
    the article. First read as totals on that session's start code: hit@1 0.765, hit@3 0.939,
    answer_acc 0.892, lead 0.792, answered 0.992, abstain recall 1.0; then its failures were read:
    a dev set. Today answer_acc 0.908, lead 0.808."""
    rows = evaluate(assistant, load_set(ROOT / "eval" / "dev-blind-8.jsonl"), baselines=False).rows["rolebot"]
    floors = {"hit@1": 0.72, "hit@3": 0.90, "answer_acc": 0.86, "lead": 0.76, "answered": 0.95,
              "abstain_recall": 0.92, "facts": 0.8, "smalltalk": 0.8}
    assert {k: v for k, v in rows.items() if k in floors and v < floors[k]} == {}


def test_conversations_written_blind_in_the_twenty_first_session(assistant):
    """eval/dev-conversations-12.jsonl: 40 conversations (165 turns: 114 answerable, 31 out of scope,
    13 small talk, 7 page facts), written blind at the start of the twenty-first session by a helper
    who read only the article. First read as totals on that session's start code: conversations 18
    of 40, follow-ups 0.720; then its failures were read: a dev set. 23 of 40 and 0.756 after its
    fixes ("which cloud exactly?", "simpler pls", "give me the conclusion", "haha nice analogy",
    "how do i detect it")."""
    rows = evaluate(assistant, load_set(ROOT / "eval" / "dev-conversations-12.jsonl"), baselines=False)
    assert rows.rows["rolebot"]["conversations"] >= 0.47 and rows.rows["rolebot"]["follow_ups"] >= 0.73
    assert rows.categories["turns: article fact"]["facts"] >= 0.85

"""Alternate phrasings and new FAQ entries written into the Markdown (tiny document, fake
embedder): parsed and indexed like FAQ questions, round-tripped byte for byte apart from the
edit, refused on a conflicting or malformed edit; and the live reloader's swaps and failures."""

import numpy as np
import pytest

from conftest import DATA
from rolebot import authoring, index
from rolebot.assistant import Assistant
from rolebot.errors import EditConflictError, KnowledgeError
from rolebot.knowledge import read_document
from rolebot.reload import LiveAssistant, Reloader, build_id
from rolebot.retriever import Retriever

FRONT = """---
# kept: an author's comment
title: 'Tea Guide'
url: https://example.org/tea
not_covered: coffee; cocoa   # trailing comment
---
"""
BODY = (DATA / "tiny.md").read_text().split("---\n", 2)[2]


@pytest.fixture
def kb(tmp_path):
    knowledge = tmp_path / "knowledge"
    knowledge.mkdir()
    (knowledge / "tea-guide.md").write_text(FRONT + BODY)
    return knowledge, knowledge / "tea-guide.md"


def test_hand_written_alternates_are_parsed_and_indexed_like_faq_questions(tmp_path, fake_embedder):
    path = tmp_path / "tea-guide.md"
    path.write_text(FRONT.replace("---\n# kept", "---\nalternates:\n  can-i-add-milk-to-green-tea:\n"
                                  "    - is dairy okay in sencha\n  black-tea: pairing breakfast beverage\n# kept") + BODY)
    doc = read_document(path)
    by_id = {p.id: p for p in doc.passages}
    assert by_id["tea-guide/can-i-add-milk-to-green-tea/1"].alternates == ("is dairy okay in sencha",)
    assert by_id["tea-guide/black-tea/1"].alternates == ("pairing breakfast beverage",)
    assert doc.meta["title"] == "Tea Guide" and doc.not_covered == ["coffee", "cocoa"]
    index.build(tmp_path, tmp_path / "index", fake_embedder)
    data = index.load(tmp_path / "index")
    questions = [int(data.view_passage[r]) for r in np.flatnonzero(data.view_kind == index.QUESTION_VIEW)]
    alternates = [int(data.view_passage[r]) for r in np.flatnonzero(data.view_kind == index.ALTERNATE_VIEW)]
    faqs = [i for i, p in enumerate(data.passages) if p.kind == "faq"]
    black = next(i for i, p in enumerate(data.passages) if p.id == "tea-guide/black-tea/1")
    assert sorted(questions) == faqs  # one view per FAQ question
    assert sorted(alternates) == sorted([faqs[0], black])  # and one per alternate, of its own kind
    assert data.passages[black].alternates == ("pairing breakfast beverage",)
    hits = Retriever(data, fake_embedder).search("is dairy okay in sencha", k=1)
    assert hits[0].id == "tea-guide/can-i-add-milk-to-green-tea/1"


def test_an_faq_question_is_handicapped_in_the_ranking_but_not_in_the_evidence(tmp_path, fake_embedder, monkeypatch):
    """Asked word for word, an FAQ's question still wins; its cosine is reported unchanged (the
    confidence reads it), and only the ranking score gives up the handicap."""
    from rolebot import retriever as retriever_mod

    path = tmp_path / "tea-guide.md"
    path.write_text(FRONT + BODY)
    index.build(tmp_path, tmp_path / "index", fake_embedder)
    data = index.load(tmp_path / "index")
    ret = Retriever(data, fake_embedder)
    faq = next(p for p in data.passages if p.kind == "faq")
    top = ret.score([ret.normalize(faq.question)])[0][0]
    assert data.passages[top.passage].id == faq.id
    assert top.dense == pytest.approx(1.0, abs=1e-4)  # the question matched itself
    vec = fake_embedder.encode_queries([ret.normalize(faq.question)])[0]
    within = ret.score_within(ret.normalize(faq.question), vec, [top.passage])[0]
    assert within.dense == pytest.approx(top.dense) and within.fused == pytest.approx(top.fused)
    taken = retriever_mod.QUESTION_VIEW_HANDICAP
    monkeypatch.setattr(retriever_mod, "QUESTION_VIEW_HANDICAP", 0.0)
    plain = next(s for s in ret.score([ret.normalize(faq.question)])[0] if s.passage == top.passage)
    handicap = min(1.0 - max(top.unit_scores, default=-1.0), taken)  # down to its best sentence at most
    assert plain.dense == pytest.approx(top.dense)
    assert plain.fused - top.fused == pytest.approx(handicap, abs=1e-5)


@pytest.mark.parametrize("key", ["no-such-section", "black-tea/2"])
def test_alternates_for_an_unknown_passage_are_an_error(tmp_path, key):
    path = tmp_path / "tea-guide.md"
    path.write_text(FRONT.replace("---\n# kept", f"---\nalternates:\n  {key}:\n    - x\n# kept") + BODY)
    with pytest.raises(KnowledgeError, match=f"names '{key}'"):
        read_document(path)


def test_adding_alternates_changes_nothing_else_in_the_file(kb):
    knowledge, path = kb
    version = authoring.file_version(path)
    authoring.add_alternate(knowledge, "tea-guide/can-i-add-milk-to-green-tea/1", "  is dairy okay   in sencha ", version)
    authoring.add_alternate(knowledge, "tea-guide/can-i-add-milk-to-green-tea/1", "Is dairy okay in sencha")  # a repeat
    authoring.add_alternate(knowledge, "tea-guide/green-tea/2", "what temperature: 80 or 100?")
    front = FRONT.rsplit("---\n", 1)[0]  # everything before the closing line, as written
    assert path.read_text() == (
        front + "alternates:\n  can-i-add-milk-to-green-tea:\n    - is dairy okay in sencha\n"
        "  green-tea/2:\n    - 'what temperature: 80 or 100?'\n---\n" + BODY
    )
    text = path.read_text()
    assert text.endswith(BODY) and text.startswith(FRONT.rsplit("---\n", 1)[0])
    assert "# kept: an author's comment" in text and "title: 'Tea Guide'" in text and "# trailing comment" in text
    doc = read_document(path)
    assert {p.id: p.alternates for p in doc.passages if p.alternates} == {
        "tea-guide/can-i-add-milk-to-green-tea/1": ("is dairy okay in sencha",),
        "tea-guide/green-tea/2": ("what temperature: 80 or 100?",),
    }
    assert sorted(p.name for p in knowledge.iterdir()) == ["tea-guide.md"]  # no temporary file left


def test_a_conflicting_or_malformed_edit_leaves_the_file_alone(kb):
    knowledge, path = kb
    version = authoring.file_version(path)
    path.write_text(path.read_text() + "\nA late hand edit by someone else, in its own paragraph here.\n")
    before = path.read_bytes()
    with pytest.raises(EditConflictError, match="changed since"):
        authoring.add_alternate(knowledge, "tea-guide/black-tea/1", "x y", version)
    with pytest.raises(EditConflictError):
        authoring.add_faq(knowledge, "tea-guide", "Is tea vegan?", "Yes.", version)
    with pytest.raises(KnowledgeError, match="headings"):
        authoring.add_faq(knowledge, "tea-guide", "Is tea vegan?", "Yes.\n## Injected section")
    with pytest.raises(KnowledgeError, match="already has the FAQ"):
        authoring.add_faq(knowledge, "tea-guide", "how long does tea keep", "A year.")
    with pytest.raises(KnowledgeError, match="no passage"):
        authoring.add_alternate(knowledge, "tea-guide/renamed-section/1", "x y")
    assert path.read_bytes() == before


def test_a_new_faq_goes_at_the_end_of_the_faq_section(kb, tmp_path):
    knowledge, path = kb
    path.write_text(path.read_text() + "\n## Glossary\n\nOolong is partly oxidised tea, between green and black in taste.\n")
    new_id = authoring.add_faq(knowledge, "tea-guide", "Is tea vegan", "Yes: tea is made from leaves alone.\nMilk is optional.")
    assert new_id == "tea-guide/is-tea-vegan/1"
    text = path.read_text()
    assert "Dried tea keeps for about a year in an airtight tin.\n\n### Is tea vegan?\n\nYes: tea is made from leaves alone.\n" \
           "Milk is optional.\n\n## Glossary\n" in text
    doc = read_document(path)
    faq = next(p for p in doc.passages if p.id == new_id)
    assert faq.kind == "faq" and faq.question == "Is tea vegan?"
    # A document without an FAQ section gets one at the end.
    other = knowledge / "coffee.md"
    other.write_text("# Coffee\n\nCoffee is brewed from roasted beans of the coffee plant, mostly arabica or robusta.\n")
    assert authoring.add_faq(knowledge, "coffee", "Is coffee bitter?", "Often, yes.") == "coffee/is-coffee-bitter/1"
    assert other.read_text().endswith("arabica or robusta.\n\n## Frequently Asked Questions\n\n### Is coffee bitter?\n\nOften, yes.\n")


def test_reloader_swaps_builds_and_keeps_serving_through_a_failed_one(kb, tmp_path, fake_embedder):
    knowledge, path = kb
    index_dir = tmp_path / "index"
    index.build(knowledge, index_dir, fake_embedder)
    live = LiveAssistant(Assistant(Retriever(index.load(index_dir), fake_embedder)))
    reloader = Reloader(live, knowledge, index_dir)
    first = build_id(live.current.retriever)
    assert reloader.check() is None and reloader.status()["state"] == "fresh"

    held = live.current  # a request in flight keeps its assistant through the swap
    authoring.add_alternate(knowledge, "tea-guide/black-tea/1", "pairing breakfast beverage")
    assert reloader.status()["state"] == "stale"
    second = reloader.check()
    assert second and second != first and build_id(live.current.retriever) == second
    assert build_id(held.retriever) == first and held is not live.current
    assert live.retriever.search("pairing breakfast beverage", k=1)[0].id == "tea-guide/black-tea/1"  # through the stand-in

    path.write_text(path.read_text().replace("title: 'Tea Guide'", "title: 'Tea: Guide"))  # broken YAML
    assert reloader.check() is None
    status = reloader.status()
    assert build_id(live.current.retriever) == second and status["state"] == "stale"
    assert status["last"]["ok"] is False and "YAML" in status["last"]["error"]
    assert reloader.check() is None  # a failed version is not rebuilt again on every tick

    path.write_text(path.read_text().replace("title: 'Tea: Guide", "title: 'Tea Guide'"))  # undone: nothing to build
    assert reloader.check() is None and reloader.status()["state"] == "fresh" and not reloader.status()["last"]
    path.write_text(path.read_text().replace("title: 'Tea Guide'", "title: 'Tea Guide, revised'"))
    third = reloader.check()
    assert third and third != second and reloader.status()["last"]["ok"] is True

    # A build made elsewhere (`rolebot build`, another replica) is picked up as it is.
    (knowledge / "extra.md").write_text("# Extra\n\nA separate document about herbal infusions such as mint and chamomile.\n")
    index.build(knowledge, index_dir, fake_embedder)
    fourth = reloader.check()
    assert fourth and fourth != third and live.current.retriever.manifest["passages"] > 0
    assert "extra" in [d["slug"] for d in live.current.retriever.manifest["documents"]]

"""aspects.py: the compared names taken out of passages and questions, and how the ranking
uses what is left. The hashing embedder is enough here: these tests are about which texts are
embedded and how their cosines are combined, not about what the texts mean."""

import json
import shutil

import numpy as np

from rolebot import aspects, index
from rolebot.aspects import ASPECT_SUBTRACT, ASPECT_WEIGHT
from rolebot.retriever import Retriever

from conftest import DATA

TITLE = "ML Engineer vs Data Scientist: What’s the Real Difference in Jobs?"

COMPARISON = """---
title: "Green Tea vs Black Tea: Which One Suits You?"
author: Test Author
updated: 2026-01-01
---

# Green Tea vs Black Tea: Which One Suits You?

## What Is Green Tea?

Green Tea is not oxidised. Green teas keep a grassy taste.

## Caffeine

Black Tea has more caffeine than a cup of green tea.
"""


def test_the_names_a_title_compares_are_taken_out_in_any_form():
    names = aspects.names_pattern([TITLE])
    text = "Do ML Engineers earn more than Data Science people? an ML engineer's day, a data scientist"
    assert aspects.without_names(text, names) == "Do earn more than people? an day, a"
    assert aspects.without_names("what tools do people use?", names) == "what tools do people use?"


def test_a_title_that_compares_nothing_gives_no_names():
    assert aspects.names_pattern(["Tea Guide"]) is None
    assert aspects.without_names("green tea", None) == "green tea"


def _two_documents(tmp_path):
    knowledge = tmp_path / "knowledge"
    knowledge.mkdir()
    shutil.copy(DATA / "tiny.md", knowledge / "tea-guide.md")
    (knowledge / "green-vs-black.md").write_text(COMPARISON, encoding="utf-8")
    return knowledge, tmp_path / "index"


def test_aspect_rows_are_built_only_for_comparison_documents_and_name_nothing(tmp_path, fake_embedder):
    knowledge, index_dir = _two_documents(tmp_path)
    manifest = index.build(knowledge, index_dir, fake_embedder)
    data = index.load(index_dir)
    texts, owner = aspects.texts(data.passages)
    assert manifest["aspects"]["count"] == len(texts) == len(data.aspect_vectors) > 0
    assert owner == sorted(owner)  # grouped by passage, as aspect_offsets assumes
    for i, p in enumerate(data.passages):
        rows = data.aspect_offsets[i + 1] - data.aspect_offsets[i]
        assert (rows > 0) == (p.doc == "green-vs-black"), p.id
    assert not any(name in t.lower() for t in texts for name in ("green tea", "black tea", "green teas"))
    # The stored rows are the embedded texts, passage by passage.
    assert np.allclose(data.aspect_vectors, fake_embedder.encode(texts), atol=1e-6)


def test_aspect_cosines_of_candidates_match_one_by_one(tmp_path, fake_embedder):
    knowledge, index_dir = _two_documents(tmp_path)
    index.build(knowledge, index_dir, fake_embedder)
    r = Retriever.load(knowledge_dir=knowledge, index_dir=index_dir, embedder=fake_embedder)
    vec = fake_embedder.encode_queries(["how much caffeine is in it?"])[0]
    every = list(range(len(r.passages)))
    for chosen in (every, every[::-1], every[1::2], []):
        got = r.pieces.aspects(chosen, vec)
        for p, value in zip(chosen, got):
            lo, hi = r.data.aspect_offsets[p], r.data.aspect_offsets[p + 1]
            if hi == lo:
                assert np.isnan(value)
            else:
                assert np.isclose(value, float((r.data.aspect_vectors[lo:hi] @ vec).max()), atol=1e-6)


def test_a_passage_without_aspects_counts_its_full_cosine_instead(tmp_path, fake_embedder):
    """Beside a comparison document, another document's passages must not lose rank only
    because they have no aspect rows."""
    knowledge, index_dir = _two_documents(tmp_path)
    index.build(knowledge, index_dir, fake_embedder)
    r = Retriever.load(knowledge_dir=knowledge, index_dir=index_dir, embedder=fake_embedder)
    query = "green tea taste"
    vec = fake_embedder.encode_queries([query])[0]
    avec = r.aspects.vectors([query], [vec])[0]
    passages = list(range(len(r.passages)))
    dense = np.linspace(0.1, 0.9, len(passages))
    extra = r.aspects.score(passages, avec, dense)
    for p, value, d in zip(passages, extra, dense):
        if r.passages[p].doc == "tea-guide":
            assert np.isclose(value, ASPECT_WEIGHT * d)
        else:
            assert np.isclose(value, ASPECT_WEIGHT * r.pieces.aspects([p], avec[0])[0])


def test_a_query_naming_a_compared_thing_has_that_name_taken_out_of_its_vector(tmp_path, fake_embedder):
    knowledge, index_dir = _two_documents(tmp_path)
    index.build(knowledge, index_dir, fake_embedder)
    r = Retriever.load(knowledge_dir=knowledge, index_dir=index_dir, embedder=fake_embedder)
    questions = ["does black tea keep you awake?", "which one is grassy?", "green teas or black tea?"]
    vectors = fake_embedder.encode_queries(questions)
    r.aspects.vectors(questions[:1], vectors[:1])  # the names' own vectors, made once
    before = fake_embedder.calls
    got = r.aspects.vectors(questions, vectors)
    assert fake_embedder.calls == before  # no encoder call per question
    green, black = fake_embedder.encode_queries(["Green Tea", "Black Tea"])

    def less(v, *names):
        v = v - ASPECT_SUBTRACT * sum(names)
        return v / np.linalg.norm(v)

    assert np.allclose(got[0][0], less(vectors[0], black), atol=1e-6)
    assert np.allclose(got[1][0], vectors[1]) and got[1][1] is None  # nothing named: its own aspect
    assert np.allclose(got[2][0], less(vectors[2], green, black), atol=1e-6)
    assert got[0][1] == got[2][1] == {"green-vs-black"}  # the document whose names it uses
    assert all(np.isclose(np.linalg.norm(v), 1.0) for v, _ in got)


def test_another_comparison_document_counts_its_full_cosine(tmp_path, fake_embedder):
    """A question naming one document's compared things must not find another comparison
    document's passages by what is left once the names are gone (their "Caffeine" sections
    read alike without the names)."""
    knowledge, index_dir = _two_documents(tmp_path)
    (knowledge / "coffee-vs-cocoa.md").write_text(
        COMPARISON.replace("Green Tea", "Coffee").replace("Black Tea", "Cocoa").replace("green tea", "coffee")
        .replace("Green teas", "Coffees"), encoding="utf-8")
    index.build(knowledge, index_dir, fake_embedder)
    r = Retriever.load(knowledge_dir=knowledge, index_dir=index_dir, embedder=fake_embedder)
    query = "how much caffeine does cocoa have?"
    aspect = r.aspects.vectors([query], fake_embedder.encode_queries([query]))[0]
    assert aspect[1] == {"coffee-vs-cocoa"}
    passages = list(range(len(r.passages)))
    dense = np.linspace(0.1, 0.9, len(passages))
    extra = r.aspects.score(passages, aspect, dense)
    own = [p for p in passages if r.passages[p].doc == "coffee-vs-cocoa"]
    assert own and len(own) < len(passages)
    for p, value, d in zip(passages, extra, dense):
        expected = r.pieces.aspects([p], aspect[0])[0] if p in own else d
        assert np.isclose(value, ASPECT_WEIGHT * expected), r.passages[p].id


def test_an_index_built_before_aspects_is_rebuilt(tmp_path, fake_embedder):
    knowledge, index_dir = _two_documents(tmp_path)
    index.build(knowledge, index_dir, fake_embedder)
    manifest_path = index.load(index_dir).path / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    del manifest["aspects"]
    manifest_path.write_text(json.dumps(manifest))
    assert "aspect" in index.check(index_dir, knowledge, fake_embedder.name)
    r = Retriever.load(knowledge_dir=knowledge, index_dir=index_dir, embedder=fake_embedder)
    assert r.notices and "aspect" in r.notices[0]
    assert len(r.data.aspect_vectors) == r.manifest["aspects"]["count"] > 0


def test_aspect_rows_that_disagree_with_the_manifest_are_refused(tmp_path, fake_embedder):
    import pytest

    from rolebot.errors import IndexLoadError

    knowledge, index_dir = _two_documents(tmp_path)
    index.build(knowledge, index_dir, fake_embedder)
    build = index.load(index_dir).path
    np.save(build / "aspects.npy", np.load(build / "aspects.npy")[:-1])  # one row lost
    with pytest.raises(IndexLoadError, match="inconsistent"):
        index.load(index_dir)

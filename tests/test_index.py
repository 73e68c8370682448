"""Index build, load and its failure modes, with a fake embedder (no semantics needed)."""

import json
import threading

import numpy as np
import pytest

from rolebot import index
from rolebot.errors import IndexLoadError
from rolebot.retriever import Retriever


def test_build_writes_manifest_and_loads(tiny_kb, fake_embedder):
    knowledge, index_dir = tiny_kb
    manifest = index.build(knowledge, index_dir, fake_embedder)
    assert manifest["passages"] == 7
    assert manifest["views"] == 16  # 7 passages with and without headings + the 2 FAQ questions
    assert manifest["model"] == "fake-hash-64" and manifest["dimension"] == 64
    assert manifest["index_type"] == "FlatIP"
    assert manifest["knowledge_hash"] == index.content_hash(knowledge)
    assert {"built_at", "rolebot_version", "build_seconds"} <= set(manifest)
    data = index.load(index_dir, "fake-hash-64", 64)
    assert [p.id for p in data.passages][:2] == ["tea-guide/intro/1", "tea-guide/green-tea/1"]
    assert data.faiss_index.ntotal == 16
    assert index.check(index_dir, knowledge, "fake-hash-64") is None


def test_search_returns_hits_best_first(tiny_kb, fake_embedder):
    knowledge, index_dir = tiny_kb
    r = Retriever.load(knowledge_dir=knowledge, index_dir=index_dir, embedder=fake_embedder)
    assert r.notices == [f"rebuilt the index from {knowledge} (missing)"]
    hits = r.search("how long does tea keep in a tin", k=3)
    assert hits[0].id == "tea-guide/how-long-does-tea-keep/1"
    assert hits[0].kind == "faq" and hits[0].document == "Tea Guide" and hits[0].url == "https://example.org/tea"
    assert hits[0].source == "tea-guide.md#how-long-does-tea-keep"
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert r.search("milk in green tea?", k=1)[0].id == "tea-guide/can-i-add-milk-to-green-tea/1"


def test_stale_index_is_rebuilt_and_only_changed_text_is_embedded(tiny_kb, fake_embedder):
    knowledge, index_dir = tiny_kb
    index.build(knowledge, index_dir, fake_embedder)
    path = knowledge / "tea-guide.md"
    path.write_text(path.read_text().replace("strong and malty", "strong, malty and bold"))
    assert index.check(index_dir, knowledge, fake_embedder.name).startswith("stale")
    with pytest.raises(IndexLoadError, match="stale"):
        Retriever.load(knowledge_dir=knowledge, index_dir=index_dir, embedder=fake_embedder, auto_build=False)
    fake_embedder.calls = 0
    r = Retriever.load(knowledge_dir=knowledge, index_dir=index_dir, embedder=fake_embedder)
    assert r.notices and "stale" in r.notices[0]
    # One sentence changed: its passage's two views and that sentence are embedded again.
    assert r.manifest["embedded"] == 3 and fake_embedder.calls == 3
    assert "bold" in r.passage("tea-guide/black-tea/1").text


def test_model_mismatch_is_a_clear_error(tiny_kb, fake_embedder):
    knowledge, index_dir = tiny_kb
    index.build(knowledge, index_dir, fake_embedder)

    class Other(type(fake_embedder)):
        name = "other-model"

    with pytest.raises(IndexLoadError, match="built with model 'fake-hash-64'.*rolebot --model other-model build"):
        Retriever.load(knowledge_dir=knowledge, index_dir=index_dir, embedder=Other())
    with pytest.raises(IndexLoadError, match="384-dimensional|64-dimensional"):
        index.load(index_dir, "fake-hash-64", 384)


def test_corrupt_faiss_file_is_detected_and_rebuilt(tiny_kb, fake_embedder):
    knowledge, index_dir = tiny_kb
    index.build(knowledge, index_dir, fake_embedder)
    live = index_dir / (index_dir / "CURRENT").read_text().strip()
    data = (live / "vectors.faiss").read_bytes()
    (live / "vectors.faiss").write_bytes(data[: len(data) // 2])
    with pytest.raises(IndexLoadError, match="corrupt.*rolebot build"):
        index.load(index_dir)
    r = Retriever.load(knowledge_dir=knowledge, index_dir=index_dir, embedder=fake_embedder)
    assert "corrupt" in r.notices[0]
    assert r.search("black tea", k=1)[0].id == "tea-guide/black-tea/1"


def test_missing_index_without_auto_build(tiny_kb, fake_embedder):
    knowledge, index_dir = tiny_kb
    with pytest.raises(IndexLoadError, match="missing: run `rolebot build`"):
        Retriever.load(knowledge_dir=knowledge, index_dir=index_dir, embedder=fake_embedder, auto_build=False)


def test_failed_build_leaves_previous_index_intact(tiny_kb, fake_embedder, monkeypatch):
    knowledge, index_dir = tiny_kb
    first = index.build(knowledge, index_dir, fake_embedder)
    (knowledge / "tea-guide.md").write_text((knowledge / "tea-guide.md").read_text() + "\n## More\n\nA new section about tea that is long enough.\n")

    def boom(*args):
        raise OSError("disk full")

    monkeypatch.setattr("faiss.write_index", boom)
    with pytest.raises(OSError):
        index.build(knowledge, index_dir, fake_embedder)
    monkeypatch.undo()
    data = index.load(index_dir)
    assert data.manifest["built_at"] == first["built_at"] and len(data.passages) == 7
    assert not list(index_dir.glob(".tmp-*"))


def test_concurrent_builds_do_not_corrupt_each_other(tiny_kb, fake_embedder):
    knowledge, index_dir = tiny_kb
    errors = []

    def run():
        try:
            index.build(knowledge, index_dir, type(fake_embedder)())
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    data = index.load(index_dir, "fake-hash-64", 64)
    assert len(data.passages) == 7
    assert len(list(index_dir.glob("build-*"))) <= 2


def test_an_inverted_file_is_chosen_for_large_indexes(monkeypatch, capfd, tmp_path):
    import faiss

    monkeypatch.setattr(index, "ANN_MIN_ROWS", 1000)
    rng = np.random.default_rng(0)
    # Clustered like real knowledge: many texts near a few hundred others.
    centres = rng.normal(size=(300, 32))
    vectors = (centres[rng.integers(0, 300, 6000)] + 0.3 * rng.normal(size=(6000, 32))).astype("float32")
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    approx, kind = index._make_faiss(vectors)
    exact, _ = index._make_faiss(vectors[:500])
    assert kind.startswith("IVF") and type(exact).__name__ == "IndexFlatIP"
    ivf = faiss.extract_index_ivf(approx)
    assert ivf.nprobe == index.IVF_MIN_PROBES < ivf.nlist
    assert np.allclose(approx.reconstruct(7), vectors[7])  # follow-ups read a passage's views back
    # recall@10 of the approximate index against exact search
    flat = faiss.IndexFlatIP(32)
    flat.add(vectors)
    queries = vectors[:50] + 0.1 * rng.normal(size=(50, 32)).astype("float32")
    _, truth = flat.search(queries, 10)
    _, found = approx.search(queries, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(truth, found)])
    assert recall >= 0.95
    assert capfd.readouterr() == ("", "")  # faiss's training warnings would go straight to stderr
    # Saved and loaded, it still searches with the same cells and exact scores.
    path = tmp_path / "v.faiss"
    faiss.write_index(approx, str(path))
    again = faiss.read_index(str(path))
    assert faiss.extract_index_ivf(again).nprobe == ivf.nprobe and again.k_factor == index.IVF_RESCORED
    sims, rows = again.search(vectors[:3], 1)
    assert rows[:, 0].tolist() == [0, 1, 2] and np.allclose(sims[:, 0], 1.0, atol=1e-5)


def test_manifest_is_json(tiny_kb, fake_embedder):
    knowledge, index_dir = tiny_kb
    index.build(knowledge, index_dir, fake_embedder)
    live = index_dir / (index_dir / "CURRENT").read_text().strip()
    assert json.loads((live / "manifest.json").read_text())["documents"][0]["slug"] == "tea-guide"


def test_bm25_is_saved_with_the_index_and_read_back_without_retokenising(tiny_kb, fake_embedder, monkeypatch):
    from rolebot import lexical

    knowledge, index_dir = tiny_kb
    manifest = index.build(knowledge, index_dir, fake_embedder)
    assert manifest["lexical"] == {"version": lexical.LEXICAL_VERSION, "folder": "bm25"}
    fresh = Retriever.load(knowledge_dir=knowledge, index_dir=index_dir, embedder=fake_embedder)
    expected = [h.id for h in fresh.search("how long does tea keep in a tin", k=5)]

    def no_indexing(*args):
        raise AssertionError("the passages were tokenised again")

    monkeypatch.setattr(lexical, "build", no_indexing)
    loaded = Retriever.load(knowledge_dir=knowledge, index_dir=index_dir, embedder=fake_embedder)
    assert [h.id for h in loaded.search("how long does tea keep in a tin", k=5)] == expected
    assert loaded.vocabulary == fresh.vocabulary


def test_the_saved_bm25_scores_like_bm25s_itself(tiny_kb, fake_embedder):
    """Serving reads the saved index with numpy (no bm25s, no scipy): same scores as bm25s."""
    import numpy as np

    from rolebot import lexical

    knowledge, index_dir = tiny_kb
    index.build(knowledge, index_dir, fake_embedder)
    folder = index_dir / (index_dir / "CURRENT").read_text().strip() / lexical.FOLDER
    stem = lexical.stemmer()
    saved = lexical.NumpyBM25.read(folder, stem)
    reference = lexical.bm25s_module().BM25.load(str(folder))
    in_memory = lexical.NumpyBM25.of(reference, stem)

    def theirs_of(q):
        tokens = lexical.tokenize([q], stem, return_ids=False)
        return reference.get_scores(tokens[0]) if tokens and tokens[0] else None

    queries = ["how long does tea keep in a tin", "milk in green tea?", "Green GREEN green teas", "the of and",
               "Ünïcode café naïve tea-pot's C++", "zzzz unknownword", "steeping steeped steeps temperature"]
    for q in queries:
        ours, theirs = saved.scores(q), theirs_of(q)
        assert (ours is None) == (in_memory.scores(q) is None), q
        if ours is not None:
            assert np.allclose(ours, in_memory.scores(q), atol=1e-6), q
        assert (ours is None) == (theirs is None), q
        if ours is not None:
            assert np.allclose(ours, theirs, atol=1e-6), q
    assert saved.scores("green tea").max() > 0


def test_bm25_weighs_a_query_word_by_how_common_it_is_in_english(tiny_kb, fake_embedder):
    """A common word's part of the score shrinks (the frame "need to know" must not outweigh
    the thing asked about); a rare one, or one the vocabulary lacks, counts in full."""
    import numpy as np

    from rolebot import lexical

    # A word-piece vocabulary in the BERT order: special pieces, single characters, then whole
    # words by frequency from "the".
    pieces = {"[PAD]": 0, "a": 1, "b": 2, "the": 3} | {f"w{i}": 3 + i for i in range(1, 20_000)}
    pieces |= {"green": 3 + 50, "tea": 3 + 1_000, "tin": 3 + 15_000}
    weigh = lexical.background_weight(pieces)
    assert weigh("green") == lexical.COMMON_FLOOR  # among the commonest hundred
    assert lexical.COMMON_FLOOR < weigh("tea") < 1.0
    assert weigh("tin") == 1.0 and weigh("oolong") == 1.0 and weigh("a") == 1.0
    assert lexical.background_weight({"[PAD]": 0, "hello": 1}) is None  # not a BERT-style list

    knowledge, index_dir = tiny_kb
    index.build(knowledge, index_dir, fake_embedder)
    folder = index_dir / (index_dir / "CURRENT").read_text().strip() / lexical.FOLDER
    plain = lexical.NumpyBM25.read(folder, lexical.stemmer())
    weighted = lexical.NumpyBM25.read(folder, lexical.stemmer(), weigh)
    assert plain.scores("green").max() > 0 and plain.scores("tin").max() > 0
    assert np.allclose(weighted.scores("green"), plain.scores("green") * lexical.COMMON_FLOOR, atol=1e-6)
    assert np.allclose(weighted.scores("tin"), plain.scores("tin"), atol=1e-6)
    both = weighted.scores("green tin")
    assert np.allclose(both, weighted.scores("green") + weighted.scores("tin"), atol=1e-6)


@pytest.mark.parametrize("damage", ["older build", "unreadable"])
def test_index_without_a_usable_bm25_still_loads_and_indexes_in_memory(tiny_kb, fake_embedder, damage):
    import shutil

    knowledge, index_dir = tiny_kb
    index.build(knowledge, index_dir, fake_embedder)
    expected = [h.id for h in Retriever.load(knowledge_dir=knowledge, index_dir=index_dir, embedder=fake_embedder)
                .search("milk in green tea?", k=5)]
    build = index_dir / (index_dir / "CURRENT").read_text().strip()
    if damage == "older build":  # as a rolebot before saved BM25 wrote it
        shutil.rmtree(build / "bm25")
        manifest = json.loads((build / "manifest.json").read_text())
        del manifest["lexical"]
        (build / "manifest.json").write_text(json.dumps(manifest))
    else:
        (build / "bm25" / "params.index.json").write_text("{not json")
    r = Retriever.load(knowledge_dir=knowledge, index_dir=index_dir, embedder=fake_embedder, auto_build=False)
    assert [h.id for h in r.search("milk in green tea?", k=5)] == expected


def test_unit_scores_of_many_passages_match_one_by_one(tiny_kb, fake_embedder):
    """Pieces.units (one product for all candidates) gives each passage's unit scores."""
    import numpy as np

    knowledge, index_dir = tiny_kb
    with open(knowledge / "tea-guide.md", "a") as f:  # a passage that names things
        f.write("\n### Which brands?\n\nMost shops sell Twinings and Lipton.\n")
    index.build(knowledge, index_dir, fake_embedder)
    r = Retriever.load(knowledge_dir=knowledge, index_dir=index_dir, embedder=fake_embedder)
    vec = fake_embedder.encode_queries(["milk in green tea?"])[0]
    d = r.data
    every = list(range(len(r.passages)))
    for chosen in (every, every[::-1], every[1::2], [every[-1]], []):
        got, best, ranked = r.pieces.units(chosen, vec)
        assert len(got) == len(chosen) == len(best) and np.array_equal(best, ranked)  # no names bonus asked
        for p, units, top in zip(chosen, got, best):
            assert top == max(units, default=-1.0)
            lo, hi = d.piece_offsets[p], d.piece_offsets[p + 1]
            sims, owner = d.piece_vectors[lo:hi] @ vec, d.piece_unit[lo:hi]
            expected = [float(sims[owner == u].max()) if (owner == u).any() else -1.0
                        for u in range(int(owner.max()) + 1 if hi > lo else 0)]
            assert np.allclose(units, expected, atol=1e-6) and len(units) == len(expected)
    # A names bonus lifts the pieces that name something in the ranking, never the plain cosine.
    _, best, ranked = r.pieces.units(every, vec, names=0.5)
    named = np.array([r.pieces.named(p).any() for p in every])
    assert named.sum() == 1
    assert np.array_equal(best, r.pieces.units(every, vec)[1])
    assert np.all(ranked[~named] == best[~named]) and np.all(ranked[named] > best[named])


def test_a_passage_naming_the_thing_a_question_names_is_marked_and_gains_in_the_ranking(retriever):
    """'do data scientists need to know sql?' names a thing (a word the article writes only
    capitalised): the passages that name it are marked, in any case, shared among several names."""
    r = retriever
    every = list(range(len(r.passages)))
    names = lambda text: {i for i, p in enumerate(r.passages) if text in p.text}  # noqa: E731
    sql = r.pieces.mentions(every, "do data scientists need to know sql?")
    assert {i for i in every if sql[i]} == names("SQL") and set(sql) <= {0.0, 1.0}
    both = r.pieces.mentions(every, "Tableau or SQL?")
    assert {i for i in every if both[i] == 1.0} == names("SQL") & names("Tableau")
    assert {i for i in every if both[i] == 0.5} == names("SQL") ^ names("Tableau")
    # Words capitalised only where a sentence or list item starts are no names, nor are the
    # roles the title compares, nor questions that name nothing.
    for question in ("who is collecting the data?", "what does an ML engineer do?", "what is a data scientist?"):
        assert not r.pieces.mentions(every, question).any(), question
    # In the ranking only: the confidence reads the plain cosine.
    query = r.normalize("do data scientists need to know sql?")
    vec = r.embedder.encode_queries([query])
    with_bonus = {s.passage: s for s in r.score([query], None, vec)[0]}
    from rolebot import retriever as retriever_mod

    saved, retriever_mod.MENTION_BONUS = retriever_mod.MENTION_BONUS, 0.0
    try:
        without = {s.passage: s for s in r.score([query], None, vec)[0]}
    finally:
        retriever_mod.MENTION_BONUS = saved
    for p, s in with_bonus.items():
        assert s.dense == without[p].dense
        assert s.fused == pytest.approx(without[p].fused + saved * sql[p])


def test_steps_score_only_list_items_another_item_follows(retriever):
    """Pieces.steps: where the X of "what comes after X?" can stand: a list item with a next one."""
    r = retriever
    every = list(range(len(r.passages)))
    vec = r.embedder.encode_queries([r.normalize("the data scientist builds the model")])[0]
    steps = r.pieces.steps(every, vec)
    for p in every:
        lo, hi = r.data.piece_offsets[p], r.data.piece_offsets[p + 1]
        units = r.data.piece_unit[lo:hi]
        followed = [i for i in range(hi - lo - 1) if units[i] == units[i + 1]]
        if not followed:
            assert steps[p] == -1.0
        else:
            assert steps[p] == pytest.approx(max(float(r.data.piece_vectors[lo + i] @ vec) for i in followed), abs=1e-6)
    assert (steps > -1).sum() >= 3  # the pipeline, the two roles' responsibilities, ...

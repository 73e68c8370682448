"""The encoder adapted to the knowledge at build time (embedding/adapt.py)."""

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from rolebot import Retriever, index
from rolebot.embedding import adapt, for_index


def test_the_article_build_serves_an_adapted_encoder_on_every_backend(article_index, embedder):
    knowledge, index_dir = article_index
    manifest = index.read_manifest(index_dir)
    record = manifest["adapted"]
    assert record["base"] == embedder.identity and record["pairs"] > len(list(knowledge.glob("*.md")))
    assert manifest["encoder_identity"] != embedder.identity  # the passages were embedded by the adapted copy
    build = index.load(index_dir).path
    torch_q = for_index(manifest["model"], "torch", build, manifest, reference=embedder)
    onnx_q = for_index(manifest["model"], "onnx", build, manifest)
    assert torch_q.identity == manifest["encoder_identity"]
    texts = ["what do the two roles have in common", "who deploys the model"]
    a, b, base = torch_q.encode(texts), onnx_q.encode(texts), embedder.encode(texts)
    assert np.all(np.sum(a * b, axis=1) > 0.9999)  # the ONNX files were exported from the adapted weights
    assert np.all(np.sum(a * base, axis=1) < 0.999)  # and those are not the shipped ones


def test_a_given_base_encoder_is_swapped_for_the_adapted_one(retriever, embedder):
    # Querying adapted passage vectors with the base encoder would mix two vector spaces.
    assert retriever.embedder.identity == retriever.manifest["encoder_identity"] != embedder.identity


def test_adaptation_is_reproducible_reused_and_silent(tiny_kb, embedder, capfd):
    knowledge, index_dir = tiny_kb
    first = index.build(knowledge, index_dir, embedder, adapt=True)
    old = index.load(index_dir).path
    again = index.build(knowledge, index_dir, embedder, adapt=True)  # same knowledge: linked, not retrained
    new = index.load(index_dir).path
    assert new != old and again["adapted"] == first["adapted"]
    weights = "adapted/model.safetensors"
    assert os.stat(old / weights).st_ino == os.stat(new / weights).st_ino
    assert capfd.readouterr() == ("", "")  # a library call prints nothing, training included

    other = index_dir.parent / "elsewhere"  # from scratch, elsewhere: the same weights (fixed seed)
    third = index.build(knowledge, other, embedder, adapt=True)
    assert third["adapted"]["key"] == first["adapted"]["key"]
    assert third["encoder_identity"] == first["encoder_identity"]

    (knowledge / "tea-guide.md").write_text((knowledge / "tea-guide.md").read_text() + "\n## Storage\n\nKeep tea in a dark tin.\n")
    kept = index.build(knowledge, index_dir, embedder, adapt=True, keep_adapted=True)  # a live rebuild
    assert kept["adapted"] == first["adapted"] and kept["encoder_identity"] == first["encoder_identity"]
    assert kept["reused"] > 0 and kept["knowledge_hash"] != first["knowledge_hash"]  # only the new text embedded
    changed = index.build(knowledge, index_dir, embedder, adapt=True)  # `rolebot build`: fine-tuned afresh
    assert changed["adapted"]["key"] != first["adapted"]["key"]


def test_the_training_pairs_come_from_the_knowledge_only(tiny_kb):
    from rolebot.knowledge import load_documents

    knowledge, _ = tiny_kb
    passages = [p for d in load_documents(knowledge) for p in d.passages]
    pairs, targets = adapt.training_pairs(passages)
    from rolebot.query import words

    known = set(words(" ".join(p.heading + " " + p.question + " " + p.text for p in passages)))
    assert pairs and all(set(words(anchor)) <= known for anchor, _ in pairs)  # list items carry their lead-in
    assert targets == [p.embed_text for p in passages]
    for batch in adapt._batches(pairs, 4):  # no passage twice in a batch: it would be its own negative
        assert len({i for _, i in batch}) == len(batch) > 1


def test_a_build_without_adaptation_still_loads_and_a_damaged_one_is_refused(tiny_kb, embedder, tmp_path):
    knowledge, index_dir = tiny_kb
    plain = index.build(knowledge, index_dir, embedder, adapt=False)
    assert "adapted" not in plain and plain["encoder_identity"] == embedder.identity
    r = Retriever.load(knowledge_dir=knowledge, index_dir=index_dir, embedder=embedder, auto_build=False)
    assert r.embedder is embedder

    index.build(knowledge, index_dir, embedder, adapt=True)
    build = index.load(index_dir).path
    adapted = for_index(embedder.name, "torch", build, index.load(index_dir).manifest, reference=embedder)
    again = index.build(knowledge, index_dir, embedder, adapt=False)  # ROLEBOT_ADAPT=0 after an adapted build
    back = for_index(embedder.name, "torch", index.load(index_dir).path, again, reference=adapted)
    assert back.identity == again["encoder_identity"] != adapted.identity  # a live reload picks the right one
    damaged = tmp_path / "damaged"
    shutil.copytree(build, damaged)
    (damaged / adapt.ADAPTED_DIR / adapt.RECORD_FILE).unlink()
    manifest = json.loads((damaged / "manifest.json").read_text())
    manifest["adapted"]["key"] = "not-loaded-before"
    from rolebot.errors import EncoderMismatchError

    with pytest.raises(EncoderMismatchError, match="rolebot build"):
        for_index(manifest["model"], "torch", Path(damaged), manifest)

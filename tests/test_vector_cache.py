"""The build's vector cache is keyed by encoder identity and text, never by text alone."""

import numpy as np

from conftest import FakeEmbedder
from rolebot import index


class ShiftedFake(FakeEmbedder):
    """Another 64-dimensional 'model': same words land in other dimensions."""

    name = "fake-shifted-64"

    def encode(self, texts, batch_size=64):
        return np.roll(super().encode(texts, batch_size), 7, axis=1)


class Reweighted(ShiftedFake):
    """Same name as FakeEmbedder but other weights: only its identity tells them apart."""

    name = FakeEmbedder.name
    identity = "fake-hash-64|test|other-weights"


def built_views(index_dir):
    data = index.load(index_dir)
    return np.load(data.path / "views.npy"), index._views(data.passages)[0]


def test_a_rebuild_with_another_model_of_the_same_dimension_reuses_nothing(tiny_kb):
    knowledge, index_dir = tiny_kb
    first = index.build(knowledge, index_dir, FakeEmbedder())
    other = ShiftedFake()
    second = index.build(knowledge, index_dir, other)
    assert second["reused"] == 0 and second["embedded"] == first["embedded"]
    vectors, texts = built_views(index_dir)
    np.testing.assert_allclose(vectors, other.encode(texts))


def test_same_model_name_with_other_weights_reuses_nothing(tiny_kb):
    knowledge, index_dir = tiny_kb
    index.build(knowledge, index_dir, FakeEmbedder())
    other = Reweighted()
    manifest = index.build(knowledge, index_dir, other)
    assert manifest["reused"] == 0 and manifest["encoder_identity"] == Reweighted.identity
    vectors, texts = built_views(index_dir)
    np.testing.assert_allclose(vectors, other.encode(texts))


def test_the_same_encoder_reuses_every_vector(tiny_kb):
    knowledge, index_dir = tiny_kb
    first = index.build(knowledge, index_dir, FakeEmbedder())
    again = FakeEmbedder()
    second = index.build(knowledge, index_dir, again)
    assert second["embedded"] == 0 and second["reused"] == first["embedded"] and again.calls == 0

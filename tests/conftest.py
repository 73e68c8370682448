import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
# Builds fine-tune the encoder on their knowledge by default (embedding/adapt.py), some seconds
# per new knowledge base: the many small throwaway knowledge folders of the tests build without
# it, the real article (article_index) and tests/test_adapt.py build as shipped.
os.environ.setdefault("ROLEBOT_ADAPT", "0")

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"
ARTICLE = ROOT / "knowledge" / "ml-engineer-vs-data-scientist.md"


class FakeEmbedder:
    """Deterministic bag-of-words hashing: for tests of code that doesn't care about semantics."""

    name = "fake-hash-64"
    dim = 64

    def __init__(self):
        self.calls = 0

    def encode(self, texts, batch_size=64):
        self.calls += len(texts)
        out = np.zeros((len(texts), self.dim), dtype="float32")
        for i, text in enumerate(texts):
            for word in text.lower().split():
                h = int(hashlib.md5(word.strip(".,?!:;").encode()).hexdigest(), 16)
                out[i, h % self.dim] += 1.0
            norm = np.linalg.norm(out[i])
            out[i] = out[i] / norm if norm else out[i]
        return out

    def encode_queries(self, queries):
        return self.encode(queries)


@pytest.fixture
def fake_embedder():
    return FakeEmbedder()


@pytest.fixture
def tiny_kb(tmp_path):
    knowledge = tmp_path / "knowledge"
    knowledge.mkdir()
    shutil.copy(DATA / "tiny.md", knowledge / "tea-guide.md")
    return knowledge, tmp_path / "index"


@pytest.fixture(scope="session")
def embedder():
    from rolebot.embedding import Embedder

    return Embedder()


def build_article(root: Path, embedder) -> tuple[Path, Path]:
    """The real article copied into root/knowledge and built into root/index."""
    from rolebot import index

    knowledge = root / "knowledge"
    knowledge.mkdir()
    shutil.copy(ARTICLE, knowledge / ARTICLE.name)
    index.build(knowledge, root / "index", embedder, adapt=True)  # as `rolebot build` ships
    return knowledge, root / "index"


@pytest.fixture(scope="session")
def article_index(tmp_path_factory, embedder):
    """The real article built with the real model into a temporary index folder."""
    return build_article(tmp_path_factory.mktemp("article"), embedder)


@pytest.fixture(scope="session")
def retriever(article_index, embedder):
    from rolebot import Retriever

    knowledge, index_dir = article_index
    return Retriever.load(knowledge_dir=knowledge, index_dir=index_dir, embedder=embedder, auto_build=False)


@pytest.fixture(scope="session")
def assistant(retriever):
    from rolebot import Assistant

    return Assistant(retriever)

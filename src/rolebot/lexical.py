"""The lexical side of retrieval: a BM25 index over the passages, built with the FAISS index
and saved beside it, so loading a large knowledge base does not re-tokenise every passage.

Layout inside a build folder: bm25/ (bm25s's own files), bm25/words.json (the passages' words,
the speller's vocabulary) and bm25/stopwords.json (the stopwords the index was built with). The
manifest's "lexical" entry names LEXICAL_VERSION; a build without it (older rolebot) or with
another version is indexed again in memory at load.

bm25s builds the index; serving reads it with numpy alone (SavedBM25): importing bm25s pulls
in scipy, ~0.3 s and ~25 MB of a server's start, for a lookup that is a few lines of numpy.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from pathlib import Path

import numpy as np

from .knowledge import Passage
from .query import words

log = logging.getLogger("rolebot")

# Bump when the passage text, tokenisation or BM25 parameters below change: saved indexes
# made the old way are then rebuilt in memory instead of being read.
LEXICAL_VERSION = 3
FOLDER = "bm25"
WORDS_FILE = "words.json"
STOPWORDS_FILE = "stopwords.json"
TOKEN = re.compile(r"(?u)\b\w\w+\b")  # bm25s's (and scikit-learn's) token pattern


@functools.cache
def bm25s_module():
    import bm25s

    # bm25s sets its own logger to DEBUG on import; keep index-building chatter out of stderr.
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


def stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def tokenize(texts: list[str], stem, return_ids: bool = True):
    return bm25s_module().tokenize(texts, stopwords="en", stemmer=stem, show_progress=False, return_ids=return_ids)


def _corpus(passages: list[Passage]) -> list[str]:
    # Alternate phrasings an author attached count like the FAQ question.
    return [f"{p.heading}\n{p.question}\n{' '.join(p.alternates)}\n{p.text}" for p in passages]


class InMemoryBM25:
    """bm25s's index of the passages, made now (a build without a usable saved index)."""

    def __init__(self, bm25, stem):
        self.bm25, self.stem = bm25, stem

    def scores(self, query: str) -> np.ndarray | None:
        """BM25 score of every passage for the query; None when no query word is indexed."""
        tokens = tokenize([query], self.stem, return_ids=False)
        return self.bm25.get_scores(tokens[0]) if tokens and tokens[0] else None


class SavedBM25:
    """The index bm25s saved at build time, read and scored with numpy only. Same tokens and
    same scores as bm25s's own get_scores (tests/test_index.py compares the two)."""

    def __init__(self, path: Path, stem):
        params = json.loads((path / "params.index.json").read_text(encoding="utf-8"))
        if params.get("method") not in ("lucene", "robertson", "atire"):  # no non-occurrence term
            raise ValueError(f"unsupported BM25 variant {params.get('method')!r}")
        self.num_docs = int(params["num_docs"])
        self.vocab: dict[str, int] = json.loads((path / "vocab.index.json").read_text(encoding="utf-8"))
        self.data = np.load(path / "data.csc.index.npy")
        self.indices = np.load(path / "indices.csc.index.npy")
        self.indptr = np.load(path / "indptr.csc.index.npy")
        self.stopwords = frozenset(json.loads((path / STOPWORDS_FILE).read_text(encoding="utf-8")))
        self.stem = stem
        if not 0 < len(self.indptr) <= len(self.vocab) + 1 or self.indptr[-1] != len(self.data):
            raise ValueError("the saved BM25 index and its vocabulary disagree")

    def scores(self, query: str) -> np.ndarray | None:
        tokens = [t for t in TOKEN.findall(query.lower()) if t not in self.stopwords]
        if not tokens:
            return None
        # bm25s's vocabulary may end with a token no passage has ("" of an empty text): no column.
        columns = len(self.indptr) - 1
        ids = [i for i in map(self.vocab.get, self.stem.stemWords(tokens)) if i is not None and i < columns]
        out = np.zeros(self.num_docs, dtype="float32")
        for t in ids:  # a repeated query word counts again, as in bm25s
            lo, hi = self.indptr[t], self.indptr[t + 1]
            np.add.at(out, self.indices[lo:hi], self.data[lo:hi])
        return out


def build(passages: list[Passage], stem) -> tuple[object, set[str]]:
    """(bm25s index, vocabulary) of the passages."""
    corpus = _corpus(passages)
    bm25 = bm25s_module().BM25()
    bm25.index(tokenize(corpus, stem), show_progress=False)
    return bm25, {w for text in corpus for w in words(text)}


def save(passages: list[Passage], folder: Path) -> dict:
    """Write the lexical index into a build folder; returns its manifest entry."""
    bm25, vocab = build(passages, stemmer())
    bm25.save(str(folder / FOLDER), show_progress=False)
    (folder / FOLDER / WORDS_FILE).write_text(json.dumps(sorted(vocab), ensure_ascii=False))
    stopwords = sorted(bm25s_module().tokenization._infer_stopwords("en"))
    (folder / FOLDER / STOPWORDS_FILE).write_text(json.dumps(stopwords, ensure_ascii=False))
    return {"version": LEXICAL_VERSION, "folder": FOLDER}


def load(folder: Path, manifest: dict, passages: list[Passage], stem) -> tuple[object, set[str]]:
    """The saved index of a build folder, or (old or unreadable build) one made now in memory."""
    if (manifest.get("lexical") or {}).get("version") == LEXICAL_VERSION:
        try:
            bm25 = SavedBM25(folder / FOLDER, stem)
            vocab = set(json.loads((folder / FOLDER / WORDS_FILE).read_text(encoding="utf-8")))
            if bm25.num_docs == len(passages):
                return bm25, vocab
        except (OSError, ValueError, KeyError, TypeError):
            pass
        log.warning("the saved BM25 index in %s is unreadable: indexing the passages in memory", folder.name)
    else:
        log.info("%s has no saved BM25 index (built by an older rolebot): indexing the passages in memory", folder.name)
    bm25, vocab = build(passages, stem)
    return InMemoryBM25(bm25, stem), vocab

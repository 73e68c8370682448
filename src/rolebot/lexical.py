"""The lexical side of retrieval: a BM25 index over the passages, built with the FAISS index
and saved beside it, so loading a large knowledge base does not re-tokenise every passage.

Layout inside a build folder: bm25/ (bm25s's own files), bm25/words.json (the passages' words,
the speller's vocabulary) and bm25/stopwords.json (the stopwords the index was built with). The
manifest's "lexical" entry names LEXICAL_VERSION; a build without it (older rolebot) or with
another version is indexed again in memory at load.

bm25s builds the index; serving reads it with numpy alone (NumpyBM25): importing bm25s pulls
in scipy, ~0.3 s and ~25 MB of a server's start, for a lookup that is a few lines of numpy.
"""

from __future__ import annotations

import functools
import json
import logging
import math
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


def _stopwords() -> list[str]:
    return list(bm25s_module().tokenization._infer_stopwords("en"))


def tokenize(texts: list[str], stem, return_ids: bool = True):
    return bm25s_module().tokenize(texts, stopwords="en", stemmer=stem, show_progress=False, return_ids=return_ids)


def _corpus(passages: list[Passage]) -> list[str]:
    # Alternate phrasings an author attached count like the FAQ question.
    return [f"{p.heading}\n{p.question}\n{' '.join(p.alternates)}\n{p.text}" for p in passages]


# How common a word is in English at large scales its BM25 weight. IDF from one article is
# blind to it: there the frame of a question ("do … need to know …?") is as rare as the thing
# it asks about, so "do data scientists need to know SQL?" matched the FAQ "Do ML Engineers
# need to know statistics…" on "need" and "know" and lost the line that names SQL. BERT-style
# word-piece vocabularies (MiniLM's among them) list whole words from "the" on by their
# frequency in the pre-training text, so a word's place there is its commonness: weight
# COMMON_FLOOR up to the COMMON_RANK-th word, rising with log rank to 1 at RARE_RANK and after
# (and 1 for a word that is not a whole piece: rarer still). On the blind dev sets hit@1 rose
# 0.686 -> 0.702, 0.752 -> 0.771, 0.762 -> 0.770 (dev-blind, -3, -4), the others held within
# one item; ramps from rank 30 or 300, or to 30,000, read the same (docs/answer-quality.md).
COMMON_RANK, RARE_RANK, COMMON_FLOOR = 100, 10_000, 0.2


def background_weight(pieces: dict[str, int]):
    """word -> its BM25 weight from the encoder's word-piece vocabulary; None (no weighting)
    when the vocabulary is not one whose whole words start at "the"."""
    first = pieces.get("the")
    if first is None:
        return None
    span = math.log(RARE_RANK / COMMON_RANK)

    @functools.lru_cache(maxsize=65536)
    def weigh(word: str) -> float:
        place = pieces.get(word)
        if place is None or place < first:
            return 1.0
        rise = math.log((place - first + 1) / COMMON_RANK) / span
        return min(1.0, max(COMMON_FLOOR, COMMON_FLOOR + (1 - COMMON_FLOOR) * rise))

    return weigh


class NumpyBM25:
    """A BM25 index scored with numpy only: bm25s's saved files (read, so serving imports
    neither bm25s nor scipy) or its index in memory (of). Unweighted, the same tokens and
    scores as bm25s's own get_scores (tests/test_index.py compares the two); `weigh` scales
    each query word's part."""

    def __init__(self, vocab: dict[str, int], data, indices, indptr, num_docs: int, stopwords, stem, weigh=None):
        self.vocab, self.data, self.indices, self.indptr = vocab, data, indices, indptr
        self.num_docs, self.stopwords = num_docs, frozenset(stopwords)
        self.stem, self.weigh = stem, weigh
        if not 0 < len(self.indptr) <= len(self.vocab) + 1 or self.indptr[-1] != len(self.data):
            raise ValueError("the saved BM25 index and its vocabulary disagree")

    @classmethod
    def read(cls, path: Path, stem, weigh=None) -> "NumpyBM25":
        params = json.loads((path / "params.index.json").read_text(encoding="utf-8"))
        if params.get("method") not in ("lucene", "robertson", "atire"):  # no non-occurrence term
            raise ValueError(f"unsupported BM25 variant {params.get('method')!r}")
        return cls(json.loads((path / "vocab.index.json").read_text(encoding="utf-8")),
                   np.load(path / "data.csc.index.npy"), np.load(path / "indices.csc.index.npy"),
                   np.load(path / "indptr.csc.index.npy"), int(params["num_docs"]),
                   json.loads((path / STOPWORDS_FILE).read_text(encoding="utf-8")), stem, weigh)

    @classmethod
    def of(cls, bm25, stem, weigh=None) -> "NumpyBM25":
        m = bm25.scores
        return cls(bm25.vocab_dict, np.asarray(m["data"]), np.asarray(m["indices"]), np.asarray(m["indptr"]),
                   int(m["num_docs"]), _stopwords(), stem, weigh)

    def scores(self, query: str) -> np.ndarray | None:
        """BM25 score of every passage for the query; None when it has no word to look up."""
        tokens = [t for t in TOKEN.findall(query.lower()) if t not in self.stopwords]
        if not tokens:
            return None
        # bm25s's vocabulary may end with a token no passage has ("" of an empty text): no column.
        columns = len(self.indptr) - 1
        out = np.zeros(self.num_docs, dtype="float32")
        for word, stem in zip(tokens, self.stem.stemWords(tokens)):  # a repeated word counts again, as in bm25s
            t = self.vocab.get(stem)
            if t is None or t >= columns:
                continue
            lo, hi = self.indptr[t], self.indptr[t + 1]
            part = self.data[lo:hi]
            np.add.at(out, self.indices[lo:hi], part if self.weigh is None else part * self.weigh(word))
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
    (folder / FOLDER / STOPWORDS_FILE).write_text(json.dumps(sorted(_stopwords()), ensure_ascii=False))
    return {"version": LEXICAL_VERSION, "folder": FOLDER}


def load(folder: Path, manifest: dict, passages: list[Passage], stem, weigh=None) -> tuple[NumpyBM25, set[str]]:
    """The saved index of a build folder, or (old or unreadable build) one made now in memory;
    `weigh` (background_weight) scales query words by their commonness."""
    if (manifest.get("lexical") or {}).get("version") == LEXICAL_VERSION:
        try:
            bm25 = NumpyBM25.read(folder / FOLDER, stem, weigh)
            vocab = set(json.loads((folder / FOLDER / WORDS_FILE).read_text(encoding="utf-8")))
            if bm25.num_docs == len(passages):
                return bm25, vocab
        except (OSError, ValueError, KeyError, TypeError):
            pass
        log.warning("the saved BM25 index in %s is unreadable: indexing the passages in memory", folder.name)
    else:
        log.info("%s has no saved BM25 index (built by an older rolebot): indexing the passages in memory", folder.name)
    bm25, vocab = build(passages, stem)
    return NumpyBM25.of(bm25, stem, weigh), vocab

"""The lexical side of retrieval: a BM25 index over the passages, built with the FAISS index
and saved beside it, so loading a large knowledge base does not re-tokenise every passage.

Layout inside a build folder: bm25/ (bm25s's own files) and bm25/words.json (the passages'
words, the speller's vocabulary). The manifest's "lexical" entry names LEXICAL_VERSION; a build
without it (older rolebot) or with another version is indexed again in memory at load.
"""

from __future__ import annotations

import functools
import json
import logging
from pathlib import Path

from .knowledge import Passage
from .query import words

log = logging.getLogger("rolebot")

# Bump when the passage text, tokenisation or BM25 parameters below change: saved indexes
# made the old way are then rebuilt in memory instead of being read.
LEXICAL_VERSION = 2
FOLDER = "bm25"
WORDS_FILE = "words.json"


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


def build(passages: list[Passage], stem) -> tuple[object, set[str]]:
    """(BM25 index, vocabulary) of the passages."""
    corpus = _corpus(passages)
    bm25 = bm25s_module().BM25()
    bm25.index(tokenize(corpus, stem), show_progress=False)
    return bm25, {w for text in corpus for w in words(text)}


def save(passages: list[Passage], folder: Path) -> dict:
    """Write the lexical index into a build folder; returns its manifest entry."""
    bm25, vocab = build(passages, stemmer())
    bm25.save(str(folder / FOLDER), show_progress=False)
    (folder / FOLDER / WORDS_FILE).write_text(json.dumps(sorted(vocab), ensure_ascii=False))
    return {"version": LEXICAL_VERSION, "folder": FOLDER}


def load(folder: Path, manifest: dict, passages: list[Passage], stem) -> tuple[object, set[str]]:
    """The saved index of a build folder, or (old or unreadable build) one made now in memory."""
    if (manifest.get("lexical") or {}).get("version") == LEXICAL_VERSION:
        try:
            bm25 = bm25s_module().BM25.load(str(folder / FOLDER))
            vocab = set(json.loads((folder / FOLDER / WORDS_FILE).read_text(encoding="utf-8")))
            if bm25.scores["num_docs"] == len(passages):
                return bm25, vocab
        except (OSError, ValueError, KeyError):
            pass
        log.warning("the saved BM25 index in %s is unreadable: indexing the passages in memory", folder.name)
    else:
        log.info("%s has no saved BM25 index (built by an older rolebot): indexing the passages in memory", folder.name)
    return build(passages, stem)

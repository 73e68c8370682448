"""Where each word of a document is named: the few lines (sentences, list items) that name a
thing the document only lists, as opposed to the words it is about.

Two readers use it: the scope check (confidence.py: "is PyTorch better than TensorFlow?" where
every line naming them is "TensorFlow / PyTorch") and answer composition (compose.py: the one
list item that shares a rare word with the question leads).
"""

from __future__ import annotations

import re

from .knowledge import by_document
from .query import STOPWORDS, words

RARE_LINES = 8  # lines of a document that may name a thing it only lists
LINE = re.compile(r"\n|(?<=[.!?])\s+")  # the sentences and list items of a unit


class WordLines:
    """Per document, its rare words and where: worked out on first use (for every document at
    load, 100k passages took ~5 s)."""

    def __init__(self, passages, units, stem):
        self.passages, self.units, self.stem = passages, units, stem
        self._rare: dict[str, dict[str, tuple]] = {}
        self._of_doc: dict[str, list[int]] | None = None

    def rare(self, doc: str) -> dict[str, tuple[tuple[int, int, int], ...]]:
        """The stems the document names in at most RARE_LINES of its lines, each with where:
        (passage, unit, line). A word in many lines is a subject, not an item of a list."""
        if doc not in self._rare:
            if self._of_doc is None:
                self._of_doc = by_document(self.passages)
            where: dict[str, list[tuple[int, int, int]]] = {}
            for p in self._of_doc.get(doc, []):
                for u, unit in enumerate(self.units[p]):
                    for n, line in enumerate(LINE.split(unit)):
                        for w in {self.stem(w) for w in words(line)} - STOPWORDS:
                            where.setdefault(w, []).append((p, u, n))
            self._rare[doc] = {w: tuple(at) for w, at in where.items() if len(at) <= RARE_LINES}
        return self._rare[doc]

    def line(self, p: int, u: int, n: int) -> list[str]:
        """The stems of line n of passage p's unit u, in order."""
        return [self.stem(w) for w in words(self.text(p, u, n))]

    def text(self, p: int, u: int, n: int) -> str:
        """Line n of passage p's unit u."""
        return LINE.split(self.units[p][u])[n]

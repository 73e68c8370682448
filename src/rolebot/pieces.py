"""Cosines below the passage, for one query vector: each passage's answer units (a sentence,
or a list scored by its best item), the items of one list, the passage's stored views, and its
aspects (aspects.py: its text with the compared names taken out).
The retriever ranks passages with them; the composer picks which unit and items to quote first.
"""

from __future__ import annotations

import re

import numpy as np

from . import index as index_mod
from .knowledge import LIST_ITEM, by_document
from .promotion import Promotion

# A name is a word the knowledge writes only capitalised ("Tableau", "SageMaker", "SQL") where no
# sentence or list item starts, and no word of a title (a title names the subject, not an answer).
NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-/+][A-Za-z0-9]+)*")
OPENS = re.compile(r"(?:^|[:.!?]\s+)$")
LOWER_WORD = re.compile(r"\b[a-z][a-z0-9]*(?:[-/+][a-z0-9]+)*\b")


class Pieces:
    """Unit, item and view cosines over an index's stored vectors."""

    def __init__(self, data: index_mod.IndexData):
        self.data = data
        self._views_of: dict[int, list[int]] | None = None
        self._named: dict[int, np.ndarray] = {}
        self._common: dict[str, set[str]] = {}  # per document: the words it writes in lower case
        self._of_doc: dict[str, list[int]] | None = None
        self._names_in: dict[str, dict[str, set[int]]] = {}  # per document: name -> passages naming it
        self.promotion = Promotion(data.passages, data.manifest.get("documents", []), self._common_words)

    def units(self, passages: list[int], vec, names: float = 0.0) -> tuple[list[tuple], np.ndarray, np.ndarray]:
        """For each passage, the cosine of each answer unit: the best of its pieces (a list
        scores by its best item), its best piece's cosine (-1 if it has none), and the best
        again as the ranking counts it: with ``names`` added for a piece that names something
        (a question asking which tool or language). One product and one reduction for all of
        them: per passage in a Python loop this was most of a cached answer's time (~1.5 ms for
        60 candidates)."""
        if not passages:
            return [], np.zeros(0), np.zeros(0)
        d = self.data
        ps = np.asarray(passages)
        lo, hi = d.piece_offsets[ps], d.piece_offsets[ps + 1]
        lengths = hi - lo
        if not lengths.any():
            return [()] * len(passages), np.full(len(passages), -1.0), np.full(len(passages), -1.0)
        rows = _spans(lo, lengths)
        units = d.piece_unit[rows]
        # Units per passage: one more than its highest unit number among its pieces (0 if none).
        owner = np.repeat(np.arange(len(ps)), lengths)
        counts = np.zeros(len(ps), dtype="int64")
        np.maximum.at(counts, owner, units + 1)
        base = np.r_[0, np.cumsum(counts)]
        sims = d.piece_vectors[rows] @ vec
        top = np.full(len(ps), -1.0)
        np.maximum.at(top, owner, sims)
        if names:
            sims = sims + names * np.concatenate([self.named(int(p)) for p in ps])
        handicap = self.promotion.handicap(passages, lengths)
        if handicap is not None:  # the evidence (top) keeps the full cosine: only the ranking is handicapped
            sims = sims - handicap
        ranked = np.full(len(ps), -1.0)
        np.maximum.at(ranked, owner, sims)
        best = np.full(int(base[-1]), -1.0)
        np.maximum.at(best, np.repeat(base[:-1], lengths) + units, sims)
        values = best.tolist()
        return [tuple(values[base[i] : base[i + 1]]) for i in range(len(ps))], top, ranked

    def named(self, p: int) -> np.ndarray:
        """1.0 for each of passage p's pieces that names something (NAME), else 0.0. Worked out
        on first use, per passage and per document: a question asking for a name reads only its
        candidates' documents (at 100k passages, the whole knowledge's words took 2.6 s)."""
        if p not in self._named:
            passage = self.data.passages[p]
            common = self._common_words(passage.doc)
            self._named[p] = np.array([float(_names(text, common)) for _, text in passage.pieces()])
        return self._named[p]

    def mentions(self, passages: list[int], query: str) -> np.ndarray:
        """For each passage, the share of the names the question uses ("do data scientists need
        SQL?") that the passage names too; zeros when the question names nothing its document
        names. A thing named is the most specific word a question can hold: the form of the
        question ("do … need to know …?") otherwise matches an FAQ's question about something
        else as closely as the one line that names it."""
        out = np.zeros(len(passages))
        asked = {m.group(0).lower() for m in NAME.finditer(query)}
        if not asked:
            return out
        wanted_in: dict[str, list[set[int]]] = {}
        for i, p in enumerate(passages):
            doc = self.data.passages[p].doc
            wanted = wanted_in.get(doc)
            if wanted is None:
                names = self._names_of(doc)
                wanted = wanted_in[doc] = [names[w] for w in asked if w in names]
            if wanted:
                out[i] = sum(p in where for where in wanted) / len(wanted)
        return out

    def _names_of(self, doc: str) -> dict[str, set[int]]:
        """The document's names (a word it writes only capitalised, at least once where no
        sentence or list item starts) and the passages that name each."""
        if doc not in self._names_in:
            common = self._common_words(doc)
            seen: dict[str, set[int]] = {}
            named: set[str] = set()
            for i in self._of_doc[doc]:
                for line in self.data.passages[i].text.split("\n"):
                    line = LIST_ITEM.sub("", line)
                    for m in NAME.finditer(line):
                        low = m.group(0).lower()
                        if m.group(0).islower() or low in common or low.rstrip("s") in common:
                            continue
                        seen.setdefault(low, set()).add(i)
                        if not OPENS.search(line[: m.start()]):
                            named.add(low)
            self._names_in[doc] = {w: seen[w] for w in named}
        return self._names_in[doc]

    def _common_words(self, doc: str) -> set[str]:
        """The words the document (or its title) writes in lower case."""
        common = self._common.get(doc)
        if common is None:
            if self._of_doc is None:
                self._of_doc = by_document(self.data.passages)
            passages = [self.data.passages[i] for i in self._of_doc[doc]]
            common = set(LOWER_WORD.findall(" ".join(p.text for p in passages)))
            common |= set(LOWER_WORD.findall(passages[0].title.lower()))
            self._common[doc] = common
        return common

    def steps(self, passages: list[int], vec, direction: int = 1) -> np.ndarray:
        """Each passage's best cosine over the list items another item follows (direction 1) or
        precedes (-1); -1 for a passage without one: where the X of "what comes after X?" (or
        "before X?") can stand."""
        d = self.data
        ps = np.asarray(passages, dtype="int64")
        best = np.full(len(ps), -1.0)
        if not len(ps):
            return best
        lo, hi = d.piece_offsets[ps], d.piece_offsets[ps + 1]
        lengths = hi - lo
        rows = _spans(lo, lengths)
        # A list's items are consecutive pieces of one unit; any other unit is a single piece.
        if direction > 0:
            beside = np.minimum(rows + 1, len(d.piece_unit) - 1)
            followed = (rows + 1 < np.repeat(hi, lengths)) & (d.piece_unit[beside] == d.piece_unit[rows])
        else:
            beside = np.maximum(rows - 1, 0)
            followed = (rows - 1 >= np.repeat(lo, lengths)) & (d.piece_unit[beside] == d.piece_unit[rows])
        if followed.any():
            owner = np.repeat(np.arange(len(ps)), lengths)
            np.maximum.at(best, owner[followed], d.piece_vectors[rows[followed]] @ vec)
        return best

    def aspects(self, passages: list[int], vec) -> np.ndarray:
        """Each passage's best aspect cosine for a query vector with the names taken out (NaN
        for a passage without aspects). Only the candidates' rows: a product with every
        aspect of a large knowledge base would cost more than the rest of the search."""
        d = self.data
        ps = np.asarray(passages, dtype="int64")
        lo, hi = d.aspect_offsets[ps], d.aspect_offsets[ps + 1]
        lengths = hi - lo
        best = np.full(len(ps), np.nan)
        if not len(ps) or not lengths.any():
            return best
        best[lengths > 0] = -1.0
        np.maximum.at(best, np.repeat(np.arange(len(ps)), lengths), d.aspect_vectors[_spans(lo, lengths)] @ vec)
        return best

    def items(self, p: int, unit: str, vec, names: float = 0.0) -> list[float]:
        """Cosine of each list item of one of passage p's units, in order (``names`` added for
        an item that names something, as in units)."""
        try:
            n = self.data.units[p].index(unit)
        except ValueError:
            return []
        lo, hi = self.data.piece_offsets[p], self.data.piece_offsets[p + 1]
        mine = np.nonzero(self.data.piece_unit[lo:hi] == n)[0]
        sims = self.data.piece_vectors[mine + lo] @ vec
        if names:
            sims = sims + names * self.named(p)[mine]
        return [float(x) for x in sims]

    def views(self, p: int) -> tuple[np.ndarray, np.ndarray]:
        """Passage p's view vectors and their kinds."""
        if self._views_of is None:  # built on first use: only follow-ups need it
            self._views_of = {}
            for row, owner in enumerate(self.data.view_passage):
                self._views_of.setdefault(int(owner), []).append(row)
        rows = self._views_of.get(p, [])
        if not rows:
            return np.zeros((0, 1), "float32"), np.zeros(0, "int64")
        return np.stack([self.data.faiss_index.reconstruct(r) for r in rows]), self.data.view_kind[rows]


def _names(text: str, common: set[str]) -> bool:
    for m in NAME.finditer(text):
        word = m.group(0)
        if word.islower() or OPENS.search(text[: m.start()]):
            continue
        low = word.lower()
        if low not in common and low.rstrip("s") not in common:
            return True
    return False


def _spans(lo: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The row numbers of several spans (start lo, length lengths) laid end to end."""
    return np.repeat(lo - np.cumsum(np.r_[0, lengths[:-1]]), lengths) + np.arange(lengths.sum())

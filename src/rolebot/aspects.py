"""What a question asks about, apart from whom: cosines with the compared names taken out.

In a comparison article ("ML Engineer vs Data Scientist") nearly every passage names one of the
two roles, and so does nearly every question. The name is then much of the cosine: a question
about an ML engineer's deliverables finds the ML engineer's definition, skills and tools about
as close as the "Output of Work" section that answers it. With the names taken out of both
sides, what is left is what the question asks about (deliverables, tools, a typical day), and
that is scored beside the full cosine, which still decides which role. The names come from the
document's own title ("A vs B: …"), so any comparison article gets this and nothing here names
a role of this one.

The retriever adds ASPECT_WEIGHT × the best aspect cosine of a passage to its ranking score
(AspectScorer); the confidence keeps the full cosine alone, so abstention does not change.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np

from .knowledge import Passage
from .query import role_pattern, title_pair

# Bump when the aspect texts change: an index built with other ones is rebuilt.
ASPECT_VERSION = 1
# What a passage's best aspect cosine adds to its ranking score, beside the full cosine. Chosen
# on the dev sets: in a first sketch (the top ten re-ranked), hit@1 team / holdout / blind went
# 0.870 / 0.72 / 0.628 at 0 to 0.887 / 0.72 / 0.645 at 0.2 and 0.896 / 0.76 / 0.669 at 0.3 and
# 0.4; in the product, 0.848 / 0.667 / 0.636 -> 0.877 / 0.697 / 0.678 at 0.3 (README).
ASPECT_WEIGHT = 0.3


def names_pattern(titles: Iterable[str]) -> re.Pattern | None:
    """The names the titles compare, in any form ("Data Scientists", "Data Science", "ML
    Engineer's"); None when no title compares two things."""
    roles = [role for title in sorted(set(titles)) if (pair := title_pair(title)) for role in pair]
    if not roles:
        return None
    return re.compile("|".join(rf"(?:{role_pattern(role).pattern}\w*(?:'s)?)" for role in roles), re.I)


def without_names(text: str, pattern: re.Pattern | None) -> str:
    return " ".join(pattern.sub(" ", text).split()) if pattern is not None else text


def texts(passages: list[Passage]) -> tuple[list[str], list[int]]:
    """Each passage's aspect texts, in passage order: its answer units and its section path
    (with an FAQ's question), the compared names of its own document taken out. A passage of a
    document whose title compares nothing has none."""
    out, owner = [], []
    patterns: dict[str, re.Pattern | None] = {}
    for i, p in enumerate(passages):
        if p.title not in patterns:
            patterns[p.title] = names_pattern([p.title])
        pattern = patterns[p.title]
        if pattern is None:
            continue
        heading = " > ".join(p.section) + (f" {p.question}" if p.question else "")
        for text in [*p.units(), heading]:
            text = without_names(text, pattern)
            if text:  # a heading that was only a name ("ML Engineer") says nothing of an aspect
                out.append(text)
                owner.append(i)
    return out, owner


class AspectScorer:
    """The query side: a question's aspect vector, and what a passage's aspect cosine adds to
    its ranking score."""

    def __init__(self, data, embedder, pieces, titles: Iterable[str]):
        self.embedder, self.pieces = embedder, pieces
        self.names = names_pattern(titles) if len(data.aspect_vectors) else None

    def encode(self, queries: list[str]) -> tuple[np.ndarray, list]:
        """The queries' vectors and their aspect vectors, in one encoder call."""
        bare, extra = self._without_names(queries)
        vectors = self.embedder.encode_queries(list(queries) + extra)
        n = len(queries)
        return vectors[:n], self._rows(queries, bare, vectors[:n], vectors[n:])

    def vectors(self, queries: list[str], vectors) -> list:
        """Aspect vectors for queries already encoded: only those naming a role are encoded again."""
        bare, extra = self._without_names(queries)
        return self._rows(queries, bare, vectors, self.embedder.encode_queries(extra) if extra else [])

    def score(self, passages, avec, dense: np.ndarray) -> np.ndarray:
        """ASPECT_WEIGHT x each passage's best aspect cosine; a passage without aspects (its
        document compares nothing) counts its full cosine instead, so it is not outranked for that."""
        if self.names is None:
            return np.zeros(len(dense))
        best = self.pieces.aspects(passages, avec)
        return ASPECT_WEIGHT * np.where(np.isnan(best), dense, best)

    def _without_names(self, queries: list[str]) -> tuple[list[str], list[str]]:
        bare = [without_names(q, self.names) for q in queries]
        return bare, [b for q, b in zip(queries, bare) if b != q]

    @staticmethod
    def _rows(queries, bare, vectors, extra) -> list:
        out, more = [], iter(extra)
        for q, b, v in zip(queries, bare, vectors):
            out.append(v if b == q else next(more))  # no name in it: the question is its own aspect
        return out

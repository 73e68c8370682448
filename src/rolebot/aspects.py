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
(AspectScorer: the question's side costs no encoder call); the confidence keeps the full cosine
alone, so abstention does not change.
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
# 0.4; in the product (with ASPECT_SUBTRACT), 0.848 / 0.667 / 0.636 -> 0.877 / 0.667 / 0.661
# at 0.3 (docs/answer-quality.md).
ASPECT_WEIGHT = 0.3
# How much of a named role's own vector is taken out of a question's to make its aspect vector
# (AspectScorer). Dev sets, hit@1 team / holdout / blind and team + blind conversations: 0.4 ->
# 0.877 / 0.667 / 0.661, 8 + 23; 0.5 -> 0.870 / 0.667 / 0.661, 8 + 23; 0.6 -> 0.841 / 0.667 /
# 0.653, 7 + 23; encoding the question without the name instead -> 0.877 / 0.697 / 0.678, 7 + 22.
ASPECT_SUBTRACT = 0.4


def names_pattern(titles: Iterable[str]) -> re.Pattern | None:
    """The names the titles compare, in any form ("Data Scientists", "Data Science", "ML
    Engineer's"); None when no title compares two things."""
    roles = [role for title in sorted(set(titles)) if (pair := title_pair(title)) for role in pair]
    if not roles:
        return None
    return re.compile("|".join(f"(?:{name_pattern(role).pattern})" for role in roles), re.I)


def name_pattern(role: str) -> re.Pattern:
    return re.compile(rf"{role_pattern(role).pattern}\w*(?:'s)?", re.I)


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
    its ranking score.

    A question's aspect vector is its own vector with ASPECT_SUBTRACT × the vector of each
    compared name it uses taken out, renormalised: a mean-pooled sentence vector is close to the
    mean of its words' vectors, so this stands in for encoding the question without the name,
    and costs no encoder call (encoding it again cost +2.5 ms a question and scored alike on
    the dev sets; docs/answer-quality.md)."""

    def __init__(self, data, embedder, pieces):
        self.embedder, self.pieces = embedder, pieces
        docs_of: dict[str, set[str]] = {}  # a compared name -> the documents comparing it
        for p in data.passages:
            for role in title_pair(p.title) or ():
                docs_of.setdefault(role, set()).add(p.doc)
        self._roles = [(name_pattern(role), role, frozenset(docs))
                       for role, docs in sorted(docs_of.items())] if len(data.aspect_vectors) else []
        self._doc = np.array([p.doc for p in data.passages])
        self._role_vectors: np.ndarray | None = None

    def vectors(self, queries: list[str], vectors) -> list[tuple]:
        """Each query's (aspect vector, the documents whose compared names it uses, or None
        when it names none; then its aspect vector is its own vector)."""
        if not self._roles:
            return [(vec, None) for vec in vectors]
        if self._role_vectors is None:  # once, on first use: the encoder is warm by then
            self._role_vectors = self.embedder.encode_queries([role for _, role, _ in self._roles])
        out = []
        for query, vec in zip(queries, vectors):
            named = [n for n, (pattern, _, _) in enumerate(self._roles) if pattern.search(query)]
            if not named:
                out.append((vec, None))
                continue
            vec = vec - ASPECT_SUBTRACT * self._role_vectors[named].sum(axis=0)
            out.append((vec / max(float(np.linalg.norm(vec)), 1e-9), frozenset().union(*(self._roles[n][2] for n in named))))
        return out

    def score(self, passages, aspect: tuple, dense: np.ndarray) -> np.ndarray:
        """ASPECT_WEIGHT x each passage's best aspect cosine. A passage without aspects (its
        document compares nothing), or of another document than the one whose names the
        question uses, counts its full cosine instead: "what does a product manager deliver?"
        must not find the ML engineer's output by what is left once the names are gone."""
        if not self._roles:
            return np.zeros(len(dense))
        vec, docs = aspect
        best = self.pieces.aspects(passages, vec)
        if docs is not None:
            best[~np.isin(self._doc[np.asarray(passages, dtype="int64")], list(docs))] = np.nan
        return ASPECT_WEIGHT * np.where(np.isnan(best), dense, best)

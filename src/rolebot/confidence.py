"""How sure an answer is: the evidence behind it and the one calibrated figure that decides
between quoting the article and saying it doesn't cover that.

Calibrated with `rolebot eval --calibrate` on the dev sets (eval/questions.jsonl +
eval/holdout.jsonl): the weights are the logistic fit it prints; the threshold is the one with
the best in-scope coverage + abstention recall on its curve (lowest on a tie).
"""

from __future__ import annotations

import math

from .query import content_words
from .retriever import Retriever, Scored

ABSTAIN_THRESHOLD = 0.7
CONFIDENCE_WEIGHTS = {"bias": -3.46, "dense": 9.22, "coverage": 1.12, "scope": -39.98, "scope_word": -21.03}


class Confidence:
    """Signals in about 0..1 from the best passage, and their logistic combination."""

    def __init__(self, retriever: Retriever):
        self.retriever = retriever
        # Words of a document's declared not-covered topics that the document itself never uses:
        # a question using one ("salary", "analyst") asks about something it declares absent.
        # Per document, so another document that does use the word does not cancel the claim.
        stem = retriever.stem
        merged = retriever.manifest.get("not_covered", [])
        entries = {d["slug"]: d for d in retriever.manifest.get("documents", [])}
        own: dict[str, set[str]] = {}
        for p in retriever.passages:
            own.setdefault(p.doc, set()).update(stem(w) for w in content_words(f"{p.heading} {p.question} {p.text}"))
        self._scope_stems = {
            doc: {stem(w) for w in content_words(" ".join(entries.get(doc, {}).get("not_covered", merged)))} - words
            for doc, words in own.items()
        }

    def signals(self, normalized: str, vec, top: Scored) -> dict:
        """The evidence behind the confidence figure, each in about 0..1."""
        words = content_words(normalized)
        vocab = self.retriever.vocabulary
        known = [w for w in words if w in vocab]
        scope = self.retriever.data.scope_vectors
        near_scope = float((scope @ vec).max()) if len(scope) else 0.0
        declared = self._scope_stems.get(self.retriever.passages[top.passage].doc, set())
        scope_word = float(any(self.retriever.stem(w) in declared for w in words))
        return {
            "dense": top.dense,  # best cosine between the question and a passage, sentence or list item
            "coverage": len(known) / len(words) if words else 0.0,  # question words the knowledge uses
            # A declared not-covered topic counts only as far as it is nearer than the article's
            # own best evidence: strong evidence wins over a word like "maths" or "demand".
            "scope": max(0.0, near_scope - top.dense),
            "scope_word": scope_word * max(0.0, 1.0 - top.dense),
        }

    @staticmethod
    def of(signals: dict) -> float:
        """One figure in 0..1: how sure we are that the knowledge answers the question."""
        z = CONFIDENCE_WEIGHTS["bias"] + sum(CONFIDENCE_WEIGHTS[k] * v for k, v in signals.items())
        return 1.0 / (1.0 + math.exp(-z))

"""How sure an answer is: the evidence behind it and the one calibrated figure that decides
between quoting the article and saying it doesn't cover that.

Calibrated with `rolebot eval --calibrate` on the dev sets (eval/questions.jsonl +
eval/holdout.jsonl): the weights are the logistic fit it prints; the threshold is the one with
the best in-scope coverage + abstention recall on its curve (lowest on a tie).
"""

from __future__ import annotations

import math
import re

from .query import content_words
from .retriever import Retriever, Scored
from .scope import Scope

ABSTAIN_THRESHOLD = 0.7
# A sentence in which the learner describes themselves ("I'm a backend dev, 5 years of Java.",
# "As an accountant I live in spreadsheets."): context for the question, not what it asks about.
SELF = re.compile(r"^\W*(i|i'm|im|i've|ive|i'd|my|me|as\s+an?|never|((a|an|the)\s+)?((total|complete|absolute)\s+)?"
                  r"(beginner|newbie|noob|novice|student|fresher|newcomer)s?\s+here)\b", re.I)
SENTENCE = re.compile(r"(?<=[.!?])\s+")
CLAUSE = re.compile(r"[,;:]\s*")
# A clause in which the learner says what they are or have ("I have a CS degree", "with my finance
# degree", "I'm 30 with 5 years in sales"), not what they want to know ("I want to know …").
DESCRIBES = re.compile(r"^\W*(i'?m|im|i\s+am|i\s+have|i'?ve|ive|i\s+had|i\s+work(ed)?|i\s+stud(y|ied)|i\s+did|"
                       r"i\s+come|i\s+know|my|with\s+my|as\s+an?|coming\s+from)\b", re.I)


def asked_part(question: str) -> str:
    """The question without the sentences that only describe the asker (all of it if nothing
    else is left): a not-covered word there ("5 years of Java", "good with numbers") is about
    the learner, not about what they ask. So is a clause that describes them before the question
    in the same sentence ("I have a CS degree, which one suits me?")."""
    kept = [s for s in SENTENCE.split(question) if s.rstrip().endswith("?") or not SELF.match(s)]
    kept = [_without_self_clauses(s) for s in kept]
    return " ".join(kept) if kept else question


def _without_self_clauses(sentence: str) -> str:
    clauses = CLAUSE.split(sentence)
    asked = [c for c in clauses if not DESCRIBES.match(c)]
    return " ".join(asked) if asked and len(asked) < len(clauses) else sentence


CONFIDENCE_WEIGHTS = {"bias": -3.46, "dense": 9.22, "coverage": 1.12, "scope": -39.98, "scope_word": -21.03}


class Confidence:
    """Signals in about 0..1 from the best passage, and their logistic combination."""

    def __init__(self, retriever: Retriever):
        self.retriever = retriever
        self.scope = Scope(retriever)

    def signals(self, normalized: str, vec, top: Scored) -> dict:
        """The evidence behind the confidence figure, each in about 0..1, for a question as
        Retriever.normalize left it (abbreviations already expanded)."""
        words = content_words(normalized)
        vocab = self.retriever.vocabulary
        known = [w for w in words if w in vocab]
        scope = self.retriever.data.scope_vectors
        asked = asked_part(normalized)
        if len(scope) and asked != normalized:
            # "total beginner here, never coded. where should I start?": the learner's own words
            # about themselves are no topic the question asks about ("programming help and code").
            vec = self.retriever.embedder.encode_queries([asked])[0]
        near_scope = float((scope @ vec).max()) if len(scope) else 0.0
        doc = self.retriever.passages[top.passage].doc
        outside, only_that = self.scope.outside(asked, doc)
        return {
            "dense": top.dense,  # best cosine between the question and a passage, sentence or list item
            "coverage": len(known) / len(words) if words else 0.0,  # question words the knowledge uses
            # A declared not-covered topic counts only as far as it is nearer than the article's
            # own best evidence: strong evidence wins over a word like "maths" or "demand" — unless
            # it is all the question asks.
            "scope": max(0.0, near_scope - top.dense),
            "scope_word": float(outside) * (1.0 if only_that else max(0.0, 1.0 - top.dense)),
        }

    @staticmethod
    def of(signals: dict) -> float:
        """One figure in 0..1: how sure we are that the knowledge answers the question."""
        z = CONFIDENCE_WEIGHTS["bias"] + sum(CONFIDENCE_WEIGHTS[k] * v for k, v in signals.items())
        return 1.0 / (1.0 + math.exp(-z))

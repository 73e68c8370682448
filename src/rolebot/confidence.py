"""How sure an answer is: the evidence behind it and the one calibrated figure that decides
between quoting the article and saying it doesn't cover that.

Calibrated with `rolebot eval --calibrate` on the dev sets (eval/questions.jsonl +
eval/holdout.jsonl): the weights are the logistic fit it prints; the threshold is the one with
the best in-scope coverage + abstention recall on its curve (lowest on a tie).
"""

from __future__ import annotations

import math
import re

from .query import ROLE, STOPWORDS, content_words, expand_abbreviations
from .retriever import Retriever, Scored

# A role a question asks about: a word and a job title ("data engineer", "product managers").
ROLE_PHRASE = re.compile(r"\b([a-z][a-z-]+)\s+(engineer|scientist|analyst|manager|developer|researcher|architect|"
                         r"designer|consultant|administrator|specialist|statistician|programmer)(\w*)", re.I)
# Words before a job title that do not make it another role ("a senior engineer").
NOT_A_ROLE_WORD = STOPWORDS | {"senior", "junior", "lead", "principal", "staff", "good", "great", "new", "aspiring",
                               "future", "typical", "average", "experienced", "entry", "successful", "professional"}
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
        self._roles: dict[str, set[tuple[str, str]]] = {}  # (word, job title) pairs a document uses
        for p in retriever.passages:
            text = f"{p.heading} {p.question} {p.text}"
            own.setdefault(p.doc, set()).update(stem(w) for w in content_words(text))
            # "software engineering" counts for "software engineer": any ending of the title
            self._roles.setdefault(p.doc, set()).update(_role_pair(m) for m in ROLE_PHRASE.finditer(text))
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
        scope_word = float(any(self.retriever.stem(w) in declared for w in words)
                           or self._other_role(normalized, self.retriever.passages[top.passage].doc))
        return {
            "dense": top.dense,  # best cosine between the question and a passage, sentence or list item
            "coverage": len(known) / len(words) if words else 0.0,  # question words the knowledge uses
            # A declared not-covered topic counts only as far as it is nearer than the article's
            # own best evidence: strong evidence wins over a word like "maths" or "demand".
            "scope": max(0.0, near_scope - top.dense),
            "scope_word": scope_word * max(0.0, 1.0 - top.dense),
        }

    def _other_role(self, question: str, doc: str) -> bool:
        """A question about a role the document never names ("what does a data engineer do?"):
        it counts like a declared not-covered word. A role the document compares does not."""
        question = expand_abbreviations(question)
        named = [m.span() for m in ROLE.finditer(question)]
        known = self._roles.get(doc, set())
        for m in ROLE_PHRASE.finditer(question):
            if m.group(3).lower() not in ("", "s") or m.group(1).lower() in NOT_A_ROLE_WORD:
                continue
            if not any(a < m.end() and m.start() < b for a, b in named) and _role_pair(m) not in known:
                return True
        return False

    @staticmethod
    def of(signals: dict) -> float:
        """One figure in 0..1: how sure we are that the knowledge answers the question."""
        z = CONFIDENCE_WEIGHTS["bias"] + sum(CONFIDENCE_WEIGHTS[k] * v for k, v in signals.items())
        return 1.0 / (1.0 + math.exp(-z))


def _role_pair(m: re.Match) -> tuple[str, str]:
    return m.group(1).lower(), m.group(2).lower()

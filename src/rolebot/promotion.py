"""The page advertising its publisher: sentences that are not answers.

Captured articles carry their publisher's plugs in the text ("A guided learning path like upGrad
KnowledgeHut Data Science with Python Course can help you …", "Still confused where to begin with
data science? Start with upGrad KnwoledgeHut's … Course"). They share a learner's words ("where to
begin", "confused"), so they can lead an answer to "where should a newbie start?". A sentence
that names the page's publisher — its front matter's author, when that is a name the page never
writes in lower case (a company, not "the team") — is such a plug, typos included. Its cosine
counts PROMO_HANDICAP less, so it still answers a question about what it sells ("does the page
recommend a course?") and nothing else.
"""

from __future__ import annotations

import difflib
import re

import numpy as np

# On the dev sets 11 of 1,877 answers led with one of the article's two plugs ("where should a
# newbie start, DS or MLE?", "why do people confuse the two roles?"); 2 at 0.1 (both ask about
# courses), 1 at 0.2, which also lost "which course do they suggest for data science?". Hit@1 and
# answer_acc moved by one item or none on every dev set (docs/answer-quality.md).
PROMO_HANDICAP = 0.1
LIKENESS = 0.85  # difflib ratio: "KnwoledgeHut" (the page's own typo) is "KnowledgeHut" at 0.92
MIN_NAME = 4  # shorter parts of a name ("Inc", "AI") are too common to mark a sentence
WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*")


class Promotion:
    """Which pieces of which passages advertise their document's publisher."""

    def __init__(self, passages, documents: list[dict], lower_words):
        """`documents`: the manifest's entries (slug, author); `lower_words(doc)`: the words a
        document writes in lower case."""
        self.passages = passages
        self.lower_words = lower_words
        self._publisher = {d.get("slug"): d.get("author") or "" for d in documents}
        self._names: dict[str, list[str]] = {}
        self._flags: dict[int, np.ndarray | None] = {}

    def names(self, doc: str) -> list[str]:
        if doc not in self._names:
            parts = [w.lower() for w in WORD.findall(self._publisher.get(doc, "")) if len(w) >= MIN_NAME]
            common = self.lower_words(doc) if parts else set()
            self._names[doc] = [w for w in parts if w not in common]
        return self._names[doc]

    def advertises(self, p: int, text: str) -> bool:
        """Whether a line of passage p names its publisher."""
        names = self.names(self.passages[p].doc)
        return bool(names) and names_any(text, names)

    def flags(self, p: int) -> np.ndarray | None:
        """1.0 for each of passage p's pieces that names its publisher, else 0.0; None when none does."""
        if p not in self._flags:
            passage = self.passages[p]
            names = self.names(passage.doc)
            flags = np.array([float(names_any(text, names)) for _, text in passage.pieces()]) if names else np.zeros(0)
            self._flags[p] = flags if flags.any() else None
        return self._flags[p]

    def handicap(self, passages: list[int], lengths) -> np.ndarray | None:
        """What each of the passages' pieces, laid end to end, loses; None when none advertises."""
        flags = [self.flags(int(p)) for p in passages]
        if all(f is None for f in flags):
            return None
        return PROMO_HANDICAP * np.concatenate([np.zeros(int(n)) if f is None else f for f, n in zip(flags, lengths)])

    def whole(self, passages: list[int]) -> np.ndarray:
        """PROMO_HANDICAP for a passage that is nothing but an advertisement (its stored views
        carry it too), else 0."""
        return np.array([PROMO_HANDICAP * float(f is not None and f.all()) for f in map(self.flags, passages)])


def names_any(text: str, names: list[str]) -> bool:
    """Whether the text writes one of the names, capitalised, allowing a typo."""
    for m in WORD.finditer(text):
        if m.group(0).islower():
            continue
        word = m.group(0).lower()
        if any(abs(len(word) - len(n)) <= 2 and difflib.SequenceMatcher(None, word, n).ratio() >= LIKENESS for n in names):
            return True
    return False

"""Where an answer starts when the question asks for a whole thing, not for a fact inside it.

"What is a data scientist?" is answered by the sentence that opens the "What Is a Data Scientist?"
section, and "give me the conclusion" by the conclusion's first sentences in reading order: the
sentence nearest such a question's few words is often a later one ("They work at …", "If you're
just starting out, …"). Composer (compose.py) leads with what this finds, if anything, and
chooses the rest of the answer itself.
"""

from __future__ import annotations

import re

from .knowledge import LIST_ITEM
from .query import content_stems, content_words, expand_abbreviations, roles_named

DEFINITION = re.compile(
    r"^\s*(what('?s|\s+is|\s+are|\s+exactly\s+is)|define|definition\s+of|meaning\s+of|explain|describe|"
    r"who\s+(is|are)|tell\s+me\s+about|what\s+does\s+\S+(\s+\S+)?\s+mean|what\s+(does|do)\s+(an?\s+|the\s+)?[\w\s]{2,40}\s+do\W*$|"
    r"what\s+(is|are)\s+(an?\s+)?[\w\s]{2,40}\s+(role|job)\b)", re.I)
WHAT_IS_HEADING = re.compile(r"^\s*(what\s+(is|are)|who\s+(is|are))\b", re.I)
# The same asked the other way round, as learners type it: "MLE definition", "quick q - data
# scientist meaning?".
NAMED_THEN_DEFINED = re.compile(
    r"^\W*(?:(?:quick|simple|short)\s+(?:q|question)\W+)?(?:(?:an?|the)\s+)?[\w\s]{2,40}?\s+(?:definition|meaning)"
    r"\W*(?:pls|please)?\W*$", re.I)


# Words a learner puts around a question that change nothing it asks: "so what is a data
# scientist actually?", "ok what's an MLE, in one sentence?".
OPENERS = re.compile(r"^\W*(?:(?:so|ok|okay|and|but|well|right|then|alright|um+|uh+)\b\W*)+", re.I)
FILLERS = re.compile(r"(?:\W+(?:actually|exactly|really|then|again|briefly|simply|please|pls|"
                     r"in\s+(?:one|a)\s+(?:sentence|line|word)|in\s+(?:short|brief|(?:simple|plain)\s+(?:terms|words|english)|a\s+nutshell)))+\W*$", re.I)


def is_definition(question: str) -> bool:
    """'what is a data scientist?' — a short question asking what something is."""
    question = FILLERS.sub("?", OPENERS.sub("", expand_abbreviations(question)))  # "wat is an mle??"
    asks = DEFINITION.match(question) or NAMED_THEN_DEFINED.match(question)
    return bool(asks) and len(content_words(question)) <= 4


SECTION_LEAD_CHARS = 300  # how much of a section's opening leads an answer to a request for it
# The words of a request for a section ("give me the conclusion of the article in short"), apart
# from the section's own name.
SECTION_REQUEST = ("give show tell say says said read summary summarize summarise short brief article page post "
                   "section part bit about explain main point points whole overall basically mean")


class Openings:
    """The opening of the section a question asks for as a whole, found among its best passages."""

    def __init__(self, retriever):
        self.retriever = retriever
        self.passages = retriever.passages
        self._request = self._stems(SECTION_REQUEST)
        # Each section's opening passage and its heading path's words, at every depth of the path.
        self._opening: dict[tuple, int] = {}
        self._heading_stems: dict[tuple, set[str]] = {}
        for i, p in enumerate(self.passages):
            for depth in range(1, len(p.section) + 1):
                path = p.section[:depth]
                if path not in self._opening:
                    self._opening[path] = i
                    self._heading_stems[path] = self._stems(" ".join(path))

    def lead(self, question: str, rows) -> list[tuple[int, str]]:
        """(passage, text) blocks to open the answer with; [] when the question asks for no whole
        section (the composer then leads with the best matching unit)."""
        return self._definition(question, rows) or self._section(question, rows)

    def _definition(self, question: str, rows) -> list[tuple[int, str]]:
        if not is_definition(question):
            return []
        asked = self._stems(question, roles=True)
        for row in rows[:3]:
            p = self.passages[row.passage]
            # Only the section that defines what the question names: "what's MLflow used for?"
            # is no question about the ML engineer whose section ranks third.
            if p.section and WHAT_IS_HEADING.match(p.section[0]) and asked & self._stems(p.section[0], roles=True):
                first = self._opening[p.section[:1]]
                units = self.retriever.data.units[first]
                if units and not LIST_ITEM.match(units[0]):
                    return [(first, units[0])]
        return []

    def _section(self, question: str, rows) -> list[tuple[int, str]]:
        """"give me the conclusion", "what are the key differences?": a question that names a
        section by its heading and asks nothing else is answered from the section's opening,
        as a reader would start it, not from the sentence nearest its few words."""
        asked = self._stems(question) - self._request
        if not asked or len(roles_named(question)) == 1:  # "skills for mle?" asks for one role's part of it
            return []
        for row in rows[:3]:
            p = self.passages[row.passage]
            named = [d for d in range(1, len(p.section) + 1) if asked <= self._heading_stems[p.section[:d]]]
            if p.kind == "faq" or not named:
                continue
            first = self._opening[p.section[: named[0]]]  # the widest section it names
            opening, size = [], 0
            for unit in self.retriever.data.units[first]:
                if LIST_ITEM.match(unit) or size + len(unit) > SECTION_LEAD_CHARS:
                    break
                opening.append((first, unit))
                size += len(unit)
            return opening
        return []

    def _stems(self, text: str, roles: bool = False) -> set[str]:
        return content_stems(text, self.retriever.stem, roles)

"""Where a follow-up move goes in the article from what the last answer quoted: an example
section, the rest of a passage, the line after or before its point, an item of the list it
quoted, the one sentence that carries it. Each returns the (passage, text) blocks to quote,
or [] when it has nothing to add; the conversation's state is conversation.py's.
"""

from __future__ import annotations

import re

from .conversation import MIN_LINE_CHARS, MOVES, Conversation, Topic
from .knowledge import LIST_ITEM, item_at, item_beside, list_items
from .query import roles_named

GIST_MAX_CHARS = 160  # a one-line answer
# A sentence about both roles without naming them: "One role is more analytical; the other …".
BOTH_IN_GENERAL = re.compile(r"\b(both\s+roles|the\s+other|each\s+role|these\s+roles|the\s+two\s+roles)\b", re.I)
# A sentence that leans on the one before it ("However, …", "This is …") says little alone.
STANDS_ON_OTHERS = re.compile(r"^(however|but|yet|this|that|these|those|they|it|its|their|also|imagine)\b", re.I)


class Walks:
    """Follow-up moves over the passages, from a Topic."""

    def __init__(self, retriever, conversation: Conversation):
        self.passages = retriever.passages
        self.units = retriever.data.units
        self.promotion = retriever.pieces.promotion
        self.conversation = conversation

    def example(self, topic: Topic) -> list[int]:
        """Passages to search for an example: a section headed like one ("Real-World Example",
        "Case study") within the topic's top-level section, else anywhere in its document (an
        FAQ's section is the other FAQs, which hold no example of it), else that section."""
        if not topic.quoted:
            return []
        first = self.passages[topic.quoted[0][0]]
        document = [i for i, p in enumerate(self.passages) if p.doc == first.doc]
        section = [i for i in document if self.passages[i].section[:1] == first.section[:1]]
        headed = [i for i in document if MOVES["example"].search(" ".join(self.passages[i].section))]
        return [i for i in headed if i in section] or headed or section

    def more(self, topic: Topic) -> list[tuple[int, str]]:
        """The units of the quoted passage not shown yet ([] when it was quoted whole: the
        caller then answers the topic's question again)."""
        if not topic.quoted:
            return []
        p = topic.quoted[0][0]
        shown = {(q, u) for q, u, _ in topic.quoted}
        # "why?" after "… Data Science is a better fit": not the other role's half of that passage
        # ("If you enjoy coding …, ML Engineering is more suitable"), said of none the answer named.
        named = roles_named(self.conversation.quoted_text(topic))
        return [(p, unit) for u, unit in enumerate(self.units[p])
                if (p, u) not in shown and not (named and roles_named(unit) and not roles_named(unit) & named)]

    def next(self, topic: Topic) -> list[tuple[int, str]]:
        """What follows the point of the last answer (the last line of its first paragraph): the
        next list item, sentence, or passage of the same section. When nothing follows that line
        (a runner-up passage's sentence can end the first paragraph), what follows the first
        cited passage's last line there."""
        if not topic.quoted:
            return []
        point = topic.lead or topic.quoted
        first = [line for line in point if line[0] == point[0][0]]
        # A list item in bold before a sentence ("**A Data Scientist … builds a model** In most
        # companies, both roles …") is the point, wherever it stands.
        items = [(p, u, n) for p, u, n in point if LIST_ITEM.match(self.conversation.line(p, u, n))]
        for p, u, n in dict.fromkeys(items[-1:] + [point[-1], first[-1]]):
            after = self._after(p, u, n)
            # The page's plug for its publisher's course is no next step (promotion.py).
            if after and not all(self.promotion.advertises(q, text) for q, text in after):
                return after
        return []

    def before(self, topic: Topic) -> list[tuple[int, str]]:
        """What comes before the point of the last answer ("and right before that?"): the list
        item before its first item, else the sentence before its first line."""
        if not topic.quoted:
            return []
        point = topic.lead or topic.quoted
        items = [(p, u, n) for p, u, n in point if LIST_ITEM.match(self.conversation.line(p, u, n))]
        for p, u, n in dict.fromkeys(items[:1] + [point[0]]):
            lines = self.units[p][u].split("\n")
            if LIST_ITEM.match(lines[n]):
                if n > 0 and LIST_ITEM.match(lines[n - 1]):
                    return [(p, lines[n - 1])]
            elif u > 0:
                return [(p, self.units[p][u - 1])]
        return []

    def gist(self, topic: Topic, found: list[int], score) -> list[tuple[int, str]]:
        """The one sentence that carries the last answer ("sum it up in one line?"): the one
        nearest what it quoted (a centroid summary; ``score(p)`` gives each of passage p's units'
        cosine to the quoted text, None for a list), short and standing on its own, naming the
        roles the answer named — from the first passage it quoted, else the next, else from those
        ``found`` for its question."""
        if not topic.quoted:
            return []
        if len(topic.quoted) == 1:  # a one-line answer is its own gist
            p, u, n = topic.quoted[0]
            return [(p, self.conversation.line(p, u, n))]
        # A gist of an answer about both roles names both ("… focus on understanding, while …").
        named = roles_named(self.conversation.quoted_text(topic))
        order = {p: i for i, p in enumerate(topic.passages)}  # the answer's first passage is its best
        best, chosen = None, None
        for p in dict.fromkeys([*topic.passages, *found]):
            for unit, cosine in zip(self.units[p], score(p)):
                if (cosine is None or not MIN_LINE_CHARS <= len(unit) <= GIST_MAX_CHARS
                        or STANDS_ON_OTHERS.match(unit) or unit.rstrip().endswith(":")):
                    continue
                key = (named <= roles_named(unit) or BOTH_IN_GENERAL.search(unit) is not None, -order.get(p, len(order)), cosine)
                if best is None or key > best:
                    best, chosen = key, (p, unit)
        return [chosen] if chosen else []

    def beside_match(self, topic: Topic, score, direction: int = 1) -> list[tuple[int, str]]:
        """The item after (direction 1) or before (-1) the one that best matches what the learner
        names ("what comes after deployment?"), in the first list the last answer quoted;
        ``score(p, unit)`` gives each item's cosine to the named step."""
        found = self._quoted_list(topic)
        if found is None:
            return []
        p, unit, items = found
        step = item_beside(items, score(p, unit), direction)
        return [(p, step)] if step else []

    def item(self, topic: Topic, nth: int) -> list[tuple[int, str]]:
        """Item nth (0 first, -1 last) of the first list the last answer quoted ("and the last
        step?" after the steps of a workflow)."""
        found = self._quoted_list(topic)
        item = item_at(found[2], nth) if found else None
        return [(found[0], item)] if item else []

    def _quoted_list(self, topic: Topic) -> tuple[int, str, list[str]] | None:
        """The first list the last answer quoted: (passage, unit, its item lines)."""
        for p, u, n in topic.quoted:
            unit = self.units[p][u]
            if LIST_ITEM.match(unit.split("\n")[n]):
                return p, unit, list_items(unit)
        return None

    def _after(self, p: int, u: int, n: int) -> list[tuple[int, str]]:
        lines = self.units[p][u].split("\n")
        if LIST_ITEM.match(lines[n]) and n + 1 < len(lines):
            return [(p, lines[n + 1])]
        if u + 1 < len(self.units[p]):
            return [(p, self.units[p][u + 1])]
        following = p + 1
        if (following < len(self.passages) and self.passages[following].section[:1] == self.passages[p].section[:1]
                and self.passages[following].kind != "faq"):
            return [(following, unit) for unit in self.units[following]]
        return []

"""What a learner reads: quoted blocks turned into a cited Answer, the questions suggested
beside it, and the replies that quote nothing (small talk, "the article doesn't cover that").
Which blocks to quote is compose.py's job; whether to answer at all is the assistant's.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from .compose import MAX_ANSWER_CHARS, join, section_label, topic_question, with_marker
from .records import Answer, Hit
from .retriever import Retriever, Scored

SMALLTALK_REPLIES = {
    "greeting": "Hello! Ask me anything about **{title}**. I answer with the article's own words "
    "and show where each answer comes from.",
    "thanks": "You're welcome! Ask another question whenever you like.",
    "bye": "Goodbye, and good luck with your career plans!",
    "about": "I'm a bot, not a person: I answer questions about the article **{title}**, quoting it and citing "
    "the passage each answer comes from. If the article does not cover something, I will say so.",
    "ack": "Anything else you would like to know about the article?",
    "sorry": "No problem at all! Ask me anything about **{title}**.",
    "empty": "Please type a question about **{title}**.",
    "complaint": "Sorry that didn't help. I can only answer from the article **{title}**: try asking in other words, "
    "or start from one of the questions below.",
    "wait": "Take your time: I'm here when you're ready.",
    "remark": "I hear you! I answer questions about **{title}**: ask me one whenever you like, or pick a topic below.",
}
# Small talk that invites a first question offers a few to start from.
OFFERS_STARTERS = {"greeting", "about", "empty", "ack", "sorry", "complaint"}
KNOWLEDGE_BASE = "the knowledge base"


class Replies:
    def __init__(self, retriever: Retriever):
        self.retriever = retriever
        titles = sorted({p.title for p in retriever.passages})
        self.title = titles[0] if len(titles) == 1 else KNOWLEDGE_BASE
        # Counted, not list.count per heading: that was quadratic in sections at start-up.
        leaves = Counter(section[-1] for section in {p.section for p in retriever.passages if p.section})
        self._repeated = {h for h, n in leaves.items() if n > 1}
        self.starters = [p.question for p in retriever.passages if p.kind == "faq"][:3]

    def smalltalk(self, kind: str) -> Answer:
        return Answer(text=SMALLTALK_REPLIES[kind].format(title=self.title), kind="smalltalk",
                      suggestions=self.starters if kind in OFFERS_STARTERS else [], confidence=1.0)

    def remark(self, rows: list[Scored]) -> Answer:
        """A remark the article has no answer for ("my head is spinning"): small talk, with the
        topics nearest to what was said to go on from."""
        reply = self.smalltalk("remark")
        return replace(reply, suggestions=self.suggestions(rows, exclude=set()) or self.starters)

    def quote(self, blocks: list[tuple[int, str]], note: str, query: str, confidence: float, rows) -> Answer:
        citations: list[Hit] = []
        order: dict[int, int] = {}
        parts = []
        for passage, text in blocks:
            opens = passage not in order  # the first words quoted from this passage
            if opens:
                order[passage] = len(citations) + 1
                row = next((r for r in rows if r.passage == passage), None) or Scored(passage, 1.0, 1.0, 0.0, ())
                citations.append(self.retriever.hit(row))
            p = self.retriever.passages[passage]
            parts.append(with_marker(text, order[passage], section_label(p.section, self._repeated, p.title), opens))
        return Answer(
            text=note + join(parts),
            citations=citations,
            kind="answer",
            suggestions=self.suggestions(rows, exclude=set(order)),
            confidence=confidence,
            query=query,
        )

    def suggestions(self, rows: list[Scored], exclude: set[int], limit: int = 3) -> list[str]:
        """Nearby FAQ questions first (they are answerable by construction), then section topics
        turned into questions."""
        cited = {self.retriever.passages[p].question for p in exclude}
        faqs, topics = [], []
        for r in rows[:12]:
            p = self.retriever.passages[r.passage]
            if r.passage in exclude:
                continue
            if p.question and p.question not in cited:
                faqs.append(p.question)
            elif p.section:
                topics.append(topic_question(p.section, self._repeated))
        return list(dict.fromkeys(faqs + topics))[:limit]

    def not_found(self, query: str, rows: list[Scored], confidence: float, note: str) -> Answer:
        topics = self.suggestions(rows, exclude=set())
        text = note + (
            f"The article doesn't cover that, so I can't answer it from **{self.title}**."
            if self.title != KNOWLEDGE_BASE
            else "The knowledge base doesn't cover that."
        )
        if topics:
            text += " Nearby topics it does cover are below."
        return Answer(text=text, kind="not_found", suggestions=topics, confidence=round(confidence, 4), query=query)


def within_budget(blocks: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """The leading blocks that fit in one answer (the first always does)."""
    out, size = [], 0
    for passage, text in blocks:
        if size + len(text) > MAX_ANSWER_CHARS and out:
            break
        out.append((passage, text))
        size += len(text)
    return out

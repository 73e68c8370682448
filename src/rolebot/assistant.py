"""Answers: follow-ups, small talk, abstention and extractive, cited answer composition."""

from __future__ import annotations

import math
import re

from . import config
from .query import (
    content_words,
    resolve_follow_up,
    smalltalk_kind,
    strip_greeting,
)
from .records import Answer, Hit
from .retriever import Retriever, Scored

MAX_ANSWER_CHARS = 600
# Calibrated with `rolebot eval --calibrate` on eval/questions.jsonl + eval/holdout.jsonl:
# the weights are the logistic fit it prints; the threshold is the one with the best
# in-scope coverage + abstention recall on its curve (lowest on a tie; curve in the README).
ABSTAIN_THRESHOLD = 0.5
CONFIDENCE_WEIGHTS = {"bias": -3.7, "dense": 16.66, "coverage": 2.72, "scope": -13.43, "scope_word": -6.01}
SECOND_PASSAGE_MARGIN = 0.1  # a runner-up this close to the best passage is quoted too
NUMBERING = re.compile(r"^\s*\d+[.)]\s+")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
SURROGATES = re.compile("[\ud800-\udfff]")  # legal in JSON escapes, rejected by the tokenizer

SMALLTALK_REPLIES = {
    "greeting": "Hello! Ask me anything about **{title}**. I answer with the article's own words "
    "and show where each answer comes from.",
    "thanks": "You're welcome! Ask another question whenever you like.",
    "bye": "Goodbye, and good luck with your career plans!",
    "about": "I answer questions about the article **{title}**, quoting it and citing the passage "
    "each answer comes from. If the article does not cover something, I will say so.",
    "ack": "Anything else you would like to know about the article?",
    "empty": "Please type a question about **{title}**.",
}


def message_text(content) -> str:
    """The text of a Gradio message's content (a string, or a list of parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return message_text(content.get("text") or content.get("content") or "")
    if isinstance(content, (list, tuple)):
        return " ".join(message_text(c) for c in content)
    return ""


def clean(text) -> str:
    if not isinstance(text, str):
        text = message_text(text)
    return " ".join(CONTROL.sub(" ", SURROGATES.sub("\ufffd", text)).split())


class Assistant:
    """Turns a question (and the chat so far) into a grounded, cited Answer."""

    def __init__(self, retriever: Retriever, threshold: float | None = None):
        self.retriever = retriever
        self.threshold = ABSTAIN_THRESHOLD if threshold is None else threshold
        titles = sorted({p.title for p in retriever.passages})
        self.title = titles[0] if len(titles) == 1 else "the knowledge base"
        # Words of the declared not-covered topics that the knowledge itself never uses:
        # a question using one ("salary", "analyst") asks about something declared absent.
        stem = retriever.stem
        corpus_stems = {stem(w) for w in retriever.vocabulary}
        topics = " ".join(retriever.manifest.get("not_covered", []))
        self._scope_stems = {stem(w) for w in content_words(topics)} - corpus_stems
        leaves = [p.section[-1] for p in {p.section: p for p in retriever.passages if p.section}.values()]
        self._repeated = {h for h in leaves if leaves.count(h) > 1}

    @classmethod
    def load(cls, **kwargs) -> "Assistant":
        return cls(Retriever.load(**kwargs))

    # -- public -----------------------------------------------------------------------
    def answer(self, question, history=None, documents: list[str] | None = None) -> Answer:
        return self.batch_answer([question], [history], documents)[0]

    def batch_answer(self, questions, histories=None, documents=None) -> list[Answer]:
        histories = histories or [None] * len(questions)
        prepared = [self._prepare(q, h) for q, h in zip(questions, histories)]
        todo = [i for i, p in enumerate(prepared) if isinstance(p, tuple)]
        results: list = list(prepared)
        if todo:
            queries = [self.retriever.normalize(prepared[i][0]) for i in todo]
            vectors = self.retriever.embedder.encode_queries(queries)
            scored = self.retriever.score(queries, documents, vectors)
            for i, query, vec, rows in zip(todo, queries, vectors, scored):
                results[i] = self._compose(prepared[i][0], query, vec, rows, prepared[i][1])
        return results

    def evidence(self, question, history=None) -> dict | None:
        """The confidence signals for a question (None for small talk): for calibration."""
        prepared = self._prepare(question, history)
        if not isinstance(prepared, tuple):
            return None
        query = self.retriever.normalize(prepared[0])
        vec = self.retriever.embedder.encode_queries([query])[0]
        rows = self.retriever.score([query], None, vec[None])[0]
        return self.signals(query, vec, rows[0]) if rows else None

    def resolve(self, question, history=None) -> str:
        """The self-contained question that will be searched (follow-ups rewritten)."""
        prepared = self._prepare(question, history)
        return prepared[0] if isinstance(prepared, tuple) else clean(question)

    # -- steps ------------------------------------------------------------------------
    def _prepare(self, question, history):
        """Either a finished Answer (small talk, empty) or (query to search, note)."""
        text = clean(question)
        note = ""
        if len(text) > config.MAX_QUESTION_CHARS:
            text = text[: config.MAX_QUESTION_CHARS]
            note = f"_(Your message was long; I read its first {config.MAX_QUESTION_CHARS} characters.)_\n\n"
        if not text:
            return self._smalltalk("empty")
        kind = smalltalk_kind(text)
        if kind:
            return self._smalltalk(kind)
        text = strip_greeting(text)
        return resolve_follow_up(text, self._previous_topic(history)), note

    def _previous_topic(self, history) -> str | None:
        """The last real question of the conversation, itself resolved against its own past."""
        if not isinstance(history, (list, tuple)):
            return None
        topic = None
        turns = [m for m in history[-2 * config.MAX_HISTORY_TURNS :] if isinstance(m, dict)]
        for message in turns:
            if message.get("role") != "user":
                continue
            text = strip_greeting(clean(message.get("content", "")))[: config.MAX_QUESTION_CHARS]
            if not text or smalltalk_kind(text):
                continue
            topic = resolve_follow_up(text, topic)
        return topic

    def _smalltalk(self, kind: str) -> Answer:
        suggestions = self._starter_questions() if kind in ("greeting", "about", "empty", "ack") else []
        return Answer(
            text=SMALLTALK_REPLIES[kind].format(title=self.title),
            kind="smalltalk",
            suggestions=suggestions,
            confidence=1.0,
        )

    def _starter_questions(self) -> list[str]:
        faqs = [p.question for p in self.retriever.passages if p.kind == "faq"]
        return faqs[:3]

    def signals(self, normalized: str, vec, top: Scored) -> dict:
        """The evidence behind the confidence figure, each in about 0..1."""
        words = content_words(normalized)
        vocab = self.retriever.vocabulary
        known = [w for w in words if w in vocab]
        scope = self.retriever.data.scope_vectors
        return {
            "dense": top.dense,  # best cosine between the question and a passage, sentence or list item
            "coverage": len(known) / len(words) if words else 0.0,  # question words the knowledge uses
            "scope": float((scope @ vec).max()) if len(scope) else 0.0,  # nearest declared not-covered topic
            "scope_word": float(any(self.retriever.stem(w) in self._scope_stems for w in words)),
        }

    def confidence(self, signals: dict) -> float:
        """One figure in 0..1: how sure we are that the knowledge answers the question."""
        z = CONFIDENCE_WEIGHTS["bias"] + sum(CONFIDENCE_WEIGHTS[k] * v for k, v in signals.items())
        return 1.0 / (1.0 + math.exp(-z))

    def _compose(self, query: str, normalized: str, vec, rows: list[Scored], note: str) -> Answer:
        if not rows:
            return self._not_found(query, rows, 0.0, note)
        confidence = self.confidence(self.signals(normalized, vec, rows[0]))
        if confidence < self.threshold:
            return self._not_found(query, rows, confidence, note)
        picked = self._select_units(rows)
        citations: list[Hit] = []
        order: dict[int, int] = {}
        parts = []
        for passage, unit_text in picked:
            if passage not in order:
                order[passage] = len(citations) + 1
                citations.append(self.retriever.hit(next(r for r in rows if r.passage == passage)))
            parts.append(_with_marker(unit_text, order[passage], self.retriever.passages[passage].heading))
        return Answer(
            text=note + _join(parts),
            citations=citations,
            kind="answer",
            suggestions=self._suggestions(rows, exclude=set(order)),
            confidence=round(confidence, 4),
            query=query,
        )

    def _select_units(self, rows: list[Scored]) -> list[tuple[int, str]]:
        """The sentence(s) or list that answer best, within MAX_ANSWER_CHARS, in reading order;
        plus the best piece of a runner-up passage that scores almost as well."""
        picked = self._units_of(rows[0], MAX_ANSWER_CHARS)
        room = MAX_ANSWER_CHARS - sum(len(t) for _, t in picked)
        for second in rows[1:2]:
            if second.fused >= rows[0].fused - SECOND_PASSAGE_MARGIN and room > 80:
                picked += self._units_of(second, room, best_only=True)
        return picked

    def _units_of(self, row: Scored, budget: int, best_only: bool = False) -> list[tuple[int, str]]:
        p = self.retriever.passages[row.passage]
        units = self.retriever.data.units[row.passage]
        if (p.kind == "faq" or len(units) <= 2) and len(p.text) <= budget:
            return [(row.passage, p.text)]
        ranked = sorted(range(len(units)), key=lambda i: row.unit_scores[i], reverse=True)
        if len(units[ranked[0]]) > budget:
            return []
        chosen, size = [ranked[0]], len(units[ranked[0]])
        for i in [] if best_only else ranked[1:]:
            if row.unit_scores[i] < row.unit_scores[ranked[0]] - 0.12 or size + len(units[i]) > budget:
                continue
            chosen.append(i)
            size += len(units[i])
        return [(row.passage, units[i]) for i in sorted(chosen)]

    def _suggestions(self, rows: list[Scored], exclude: set[int], limit: int = 3) -> list[str]:
        """Nearby FAQ questions first (they are answerable by construction), then section topics."""
        cited = {self.retriever.passages[p].question for p in exclude}
        faqs, topics = [], []
        for r in rows[:12]:
            p = self.retriever.passages[r.passage]
            if r.passage in exclude:
                continue
            if p.question and p.question not in cited:
                faqs.append(p.question)
            elif p.section:
                topics.append(_topic(p.section, self._repeated))
        return list(dict.fromkeys(faqs + topics))[:limit]

    def _not_found(self, query: str, rows: list[Scored], confidence: float, note: str) -> Answer:
        topics = self._suggestions(rows, exclude=set())
        text = note + (
            f"The article doesn't cover that, so I can't answer it from **{self.title}**."
            if self.title != "the knowledge base"
            else "The knowledge base doesn't cover that."
        )
        if topics:
            text += " Nearby topics it does cover are below."
        return Answer(text=text, kind="not_found", suggestions=topics, confidence=round(confidence, 4), query=query)


def _topic(section: tuple[str, ...], repeated: set[str]) -> str:
    """A section as a clickable topic; a heading used under several parents names its parent."""
    leaf = NUMBERING.sub("", section[-1])
    if len(section) > 1 and section[-1] in repeated:
        return f"{NUMBERING.sub('', section[-2]).rstrip('?')}: {leaf}"
    return leaf


def _with_marker(unit: str, n: int, heading: str = "") -> str:
    """Cite at the end of every paragraph or list; a list with no lead-in line gets its
    section heading (in italics, not a quote) so it reads on its own."""
    blocks = unit.split("\n\n")
    if heading and blocks[0].startswith("- "):
        blocks[0] = f"*{heading}:*\n{blocks[0]}"
    return "\n\n".join(f"{b} [{n}]" for b in blocks)


def _join(parts: list[str]) -> str:
    out = ""
    for part in parts:
        if not out:
            out = part
        elif "\n" in part or "\n" in out.split("\n\n")[-1]:
            out += "\n\n" + part
        else:
            out += " " + part
    return out


"""Follow-up moves carried out against the index: "an example?", "what's next?", "and right
before that?", "tell me more", "sum it up in one line". Which passages to search and which
lines to quote; the conversation's state lives in conversation.py, its walk through the
article in walks.py, how the quote reads in replies.py.
"""

from __future__ import annotations

from .compose import Composer
from .conversation import Conversation, Topic
from .query import content_words, sequence_step
from .walks import Walks

GIST_PASSAGES = 5  # where "sum it up" looks beside what the last answer quoted
STEP_NOUNS = {"step", "steps", "stage", "stages", "phase", "phases", "part", "parts", "one", "thing"}


class Moves:
    """(passage, text) blocks for a follow-up move, or [] when it has nothing to add."""

    def __init__(self, retriever, conversation: Conversation, composer: Composer):
        self.retriever = retriever
        self.conversation = conversation
        self.walks = Walks(retriever, conversation)
        self.composer = composer

    def blocks(self, move: str, text: str, topic: Topic) -> list[tuple[int, str]]:
        if move == "example":
            return self._example(text, topic)
        if move in ("next", "before"):
            sequence = sequence_step(text)
            blocks = []
            # "what comes after deployment?": after that item ("after that step?" names none)
            if sequence and set(content_words(sequence[0])) - STEP_NOUNS:
                vec = self._encode([self.retriever.normalize(sequence[0])])[0]
                blocks = self.walks.beside_match(
                    topic, lambda p, unit: self.composer.step_scores(p, unit, vec, sequence[0]), sequence[1])
            if blocks:
                return blocks
            return self.walks.next(topic) if move == "next" else self.walks.before(topic)
        if move == "gist":
            return self._gist(topic)
        return self.walks.more(topic)

    def _encode(self, texts: list[str]):
        return self.retriever.embedder.encode_queries(texts)

    def _example(self, text: str, topic: Topic) -> list[tuple[int, str]]:
        within = self.walks.example(topic)
        if not within:
            return []
        # The section names the subject ("What Is an ML Engineer?"); the old question would
        # pull the search back to the passage already shown. An FAQ's section names no subject
        # ("Frequently Asked Questions"), and its own question may be about something else than
        # what the learner asked ("Is ML Engineering a part of Data Science?" answering "what
        # fields does data science combine?"): the learner's question names the subject.
        quoted = self.retriever.passages[topic.quoted[0][0]]
        subject = topic.question if quoted.kind == "faq" else " ".join(quoted.section[:1])
        query = self.retriever.normalize(f"{text} ({subject or topic.question})")
        vec = self._encode([query])[0]
        rows = self.retriever.score_within(query, vec, within)
        shown = set(topic.passages)
        rows = [r for r in rows if r.passage not in shown] or rows
        return self.composer.pick(query, rows[:1], vec)

    def _gist(self, topic: Topic) -> list[tuple[int, str]]:
        """The sentence nearest what the last answer quoted, among its passages and the best
        few found for its question."""
        if not topic.quoted:
            return []
        units = self.retriever.data.units
        quoted = self.conversation.quoted_text(topic)
        question = self.retriever.normalize(topic.question or quoted)
        vectors = self._encode([question, quoted])
        found = [r.passage for r in self.retriever.score([question], None, vectors[:1])[0][:GIST_PASSAGES]]

        def score(p: int) -> list[float | None]:
            cosines = self.retriever.pieces.units([p], vectors[1])[0][0]
            return [None if "\n" in unit or unit.lstrip().startswith("-") else c for unit, c in zip(units[p], cosines)]

        return self.walks.gist(topic, found, score)

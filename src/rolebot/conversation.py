"""Conversation state: what the conversation is about, read back from the history, and which
follow-up move a turn makes against it ("an example?", "tell me more", "what's next?").

The state is rebuilt from the messages on every turn (the HTTP API and the chat are
stateless): the last real question, resolved into a self-contained one, and the lines of the
article the bot's own last reply quoted — found by matching the reply against the passages,
since every answer quotes the article word for word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from . import config
from .facts import fact_ellipsis, fact_kind, names_the_publisher, publisher_names
from .knowledge import LIST_ITEM
from .query import (ASKS, FOLLOW_UP_START, POINTING_NOUNS, PRONOUN, ROLE, THING, WORD, asks_by_place, clean_text,
                    content_words, expand_abbreviations, is_fragment, name_the_pair, names_a_role, pair_named,
                    resolve_follow_up, role_pattern, role_root, sequence_step)
from .smalltalk import remark_kind, smalltalk_kind, strip_pleasantries

# Words that, with no conversation yet, can only mean the two things a comparison compares.
THE_PAIR = re.compile(r"\b(they|them|their|theirs|each\s+one|each\s+of\s+them|both\s+of\s+them|either\s+one|"
                      r"(of|for|in|by)\s+each(?=\W*$))\b", re.I)  # "what's the focus area of each?"
# A question about how things differ, and the words with which it names what it compares itself.
DIFFERENCE = re.compile(r"\b(difference|differences|differ|diff|distinction|compare|comparison|versus|vs)\b", re.I)
# "Which is easier?", "which one's more fun?": which of the two, asked with no role named.
WHICH_IS_MORE = re.compile(r"\bwhich(\s+one)?\s*('?s|\s+is)\s+(more|less|better|worse|[a-z]+ier|harder|tougher|cooler|safer|"
                           r"simpler|faster|longer|shorter|bigger|smaller)\b", re.I)
NAMES_ITS_OWN = re.compile(r"\b(between|than|and|or)\b", re.I)
MAX_BORROWED_CHARS = 300  # what a follow-up may take from the history: one question, capped
MIN_LINE_CHARS = 20  # shorter lines ("Python", "- SQL") are too common to tell where a reply came from
PIECE_END = re.compile(r"(?<=[.!?:])\s+|;\s+")  # sentences, and the "; " between lead items
CITATION = re.compile(r"\s*\[\d+\]\s*")
MARKER = re.compile(r"\s*\[\d+\]|\*\*|(?<!\w)\*(?!\s)|(?<!\s)\*(?!\w)")

MAX_ECHO_WORDS = 3  # "why less focused?": a turn this short that only repeats the last answer's words

MOVES = {
    "example": re.compile(r"\b(examples?|instance|concrete|case\s+study|real[- ]?world|real[- ]life|irl|in\s+practice|illustrat\w*|"
                          r"scenario|use\s+case|show\s+me|case|like\s+what|such\s+as|e\.?g)\b", re.I),
    # The mirror of "next": checked first, since "the step before that" names a step too.
    "before": re.compile(r"\b(before\s+(that|this|it|then)|comes\s+before|prior\s+to\s+(that|this)|previous\s+(step|stage|one)|"
                         r"(step|stage)\s+before|preceding|beforehand)\b|^\W*(and\s+)?before\W*$", re.I),
    "next": re.compile(r"\b(next|then\s+what(\s+(happens|comes|now|next))?(?=\W*$)|after\s+(that|this)|comes\s+(next|after)|afterwards|following\s+step|^\W*(and\s+)?after(?=\W*$)|"
                       r"and\s+then|what\s+now|^\W*(and\s+|so\s+)?then(?=\W*$))\b", re.I),
    # "in one sentence?", "sum it up", "tl;dr": the one sentence that carries the last answer.
    "gist": re.compile(r"^\W*(so\W+)?(basically\W+)?((can|could)\s+(you|u)\s+)?((say|put|explain|give|tell|make)\s+(it|that|this|me)\s+)?"
                       r"(in\s+(one|a|1|a\s+single)\s+(sentence|line)|sum\s+(it|that|this|them)?\s*up|"
                       r"((a|the)\s+)?(shorter|simpler|briefer)(\s+(version|answer|one))?|short(en)?(\s+(it|that|this))?|simplify(\s+(it|that|this))?|too\s+long|"
                       r"((a|the)\s+)?((quick|short|brief)\s+)?summar(y|i[sz]e)(\s+(it|that|this))?|tl;?\s?dr|in\s+short|in\s+a\s+nutshell|"
                       r"(the\s+)?short\s+version|(the\s+)?bottom\s+line|one[- ]liner)(\s+(pls|please|in\s+(one|a)\s+(sentence|line)))?\W*$", re.I),
    "more": re.compile(r"^\W*(tell\s+me\s+more|more|go\s+on|continue|elaborate|explain(\s+(more|further|that|it|why))?|"
                       r"more\s+(details?|info)|details?|keep\s+going|what\s+else|anything\s+else|say\s+more|"
                       r"expand(\s+on\s+(that|it))?|how\s+come|why|why\s+(is|was)\s+(that|it)|how\s+so|in\s+what\s+way|"
                       r"why\s+(so|tho|though)|(what'?s|what\s+is|whats)\s+the\s+reason(\s+(for\s+(that|it|this)|why))?|"
                       r"for\s+what\s+reason|and\??|say\s+more\s+(about|on)\s+(that|it|this)|anything\s+more(\s+on\s+(that|it|this))?|"
                       r"really|can\s+you\s+(elaborate|explain(\s+more)?)|tell\s+me\s+more\s+about\s+(that|it|this)|"
                       r"meaning|what\s+do(es)?\s+(you|that|it)\s+mean|walk\s+me\s+(through|thru)(\s+(it|that))?|how\s+exactly|"
                       r"in\s+detail|break\s+(it|that)\s+down|(can\s+you\s+)?explain\s+(it|that)\s+(again|differently|simply))\W*$", re.I),
}
# "Are they different in practice?", "but it's the same in real life?": whether the last answer
# holds in practice, a yes/no question of its own, unless it asks for an example in so many words.
YES_NO = re.compile(r"^\W*((but|so|and|ok(ay)?)\W+)?(are|is|do|does|did|can|will|would|(they|it|that|this)(\s+(are|is)|'?re|'?s))\b", re.I)
ASKS_EXAMPLE = re.compile(r"\b(examples?|instance|case|scenario|show\s+me|such\s+as|e\.?g|illustrat\w*|like\s+what)\b", re.I)
# A clause that carries no request of its own, around a move ("meaning? elaborate pls").
FILLER_CLAUSE = re.compile(r"^\W*(pls|please|plz|ok(ay)?|so|hmm+|um+|sorry|thanks|a\s+bit|bit|a\s+little)?\W*$", re.I)
CLAUSE_END = re.compile(r"[?.!,;]+")
# Words a move is phrased with; anything else means the learner named a new subject.
MOVE_WORDS = set(
    """give show example examples concrete case cases instance real world practice illustrate illustration scenario
    use next step steps come comes after before previous prior preceding beforehand happen happens right then
    sum summary summarize summarise short shorter shorten simpler simplify briefer version answer make nutshell sentence line bottom tl dr life irl like
    following afterwards tell say more explain elaborate details detail
    info continue go keep going else anything expand now please pls one another provide share see""".split()
)


@dataclass(frozen=True)
class Topic:
    question: str | None = None  # the last real question, self-contained
    quoted: tuple[tuple[int, int, int], ...] = ()  # (passage, unit, line) the last answer quoted, in order
    lead: tuple[tuple[int, int, int], ...] = ()  # those of its first paragraph: the point of the answer
    # The last answered question that named a role: what "they" means after a turn the article
    # could not answer and that named none ("should I learn AWS or Azure first?").
    subject: str | None = None
    answered: str | None = None  # the last question the article answered: what "that" means after a refused turn
    fact: str | None = None  # the page fact the last turn asked for ("who wrote this?"): "when?" then asks another

    @property
    def passages(self) -> list[int]:
        return list(dict.fromkeys(p for p, _, _ in self.quoted))


def move_of(text: str) -> str | None:
    """'example', 'before', 'next', 'gist' or 'more' when the message only asks to go on with the current topic."""
    if ROLE.search(text):
        return None
    # Short clauses, each a "more" or nothing ("meaning? elaborate pls", "how exactly, walk me thru").
    clauses = [c for c in map(_strip_fillers, CLAUSE_END.split(text)) if not FILLER_CLAUSE.match(c)]
    # "and then?" is the next step, not "and?" with its filler "then" stripped.
    steps = MOVES["next"].search(text) or MOVES["before"].search(text)
    if clauses and not steps and all(MOVES["more"].match(c) for c in clauses):
        return "more"
    extra = [w for w in content_words(text) if w not in MOVE_WORDS]
    if len(extra) > 1:
        return None
    for kind, pattern in MOVES.items():
        if pattern.search(text):
            if kind == "example" and YES_NO.match(text) and not ASKS_EXAMPLE.search(text):
                return None
            return kind
    return None


def _strip_fillers(clause: str) -> str:
    return re.sub(r"\b(pls|please|plz|so|ok(ay)?|then|now)\b", " ", clause, flags=re.I).strip()


class Conversation:
    """Reads a history back into a Topic: what the conversation is about, and what a turn asks
    once it is read against it (walks.py goes from there through the article)."""

    def __init__(self, retriever):
        self.passages = retriever.passages
        self.units = retriever.data.units
        self.pair = retriever.pair
        self.speller = retriever.speller
        self.publishers = publisher_names(retriever.manifest.get("documents", []))
        # The words that name the compared roles ("engineer", "scientist"): a misspelling of one
        # ("ML enginer too?") is read as the role, or no role swap or pronoun finds it.
        self._role_words = tuple(role.split()[-1].lower()[:6] for role in self.pair) if self.pair else ()
        self._half_names = _half_names(self.pair)
        self._lines: dict[str, tuple[int, int, int]] = {}
        for p, units in enumerate(self.units):
            for u, unit in enumerate(units):
                for n, line in enumerate(unit.split("\n")):
                    key = _norm(LIST_ITEM.sub("", line))
                    if len(key) >= MIN_LINE_CHARS:
                        self._lines.setdefault(key, (p, u, n))

    def topic(self, history) -> Topic:
        topic, pending, before, said, fact = Topic(), None, Topic(), "", None
        if not isinstance(history, (list, tuple)):
            return topic
        for message in [m for m in history[-2 * config.MAX_HISTORY_TURNS :] if isinstance(m, dict)]:
            text = message_text(message.get("content", ""))
            if message.get("role") == "user":
                said = clean_text(text)[: config.MAX_QUESTION_CHARS]
                fact = self.page_fact(said, fact)
                pending = None if fact else self._question(said, topic)
                if (pending and topic.question and pending != topic.question
                        and (is_fragment(pending) or topic.quoted and sequence_step(pending))):
                    # "in a startup tho?" is about the last question: the next turn's topic says so.
                    # So is "what happens right after the model is built?" after a list of steps:
                    # the assistant asks both beside the last question when they fail alone.
                    pending = in_context(pending, topic.question)
                if pending is not None:
                    before, topic = topic, Topic(pending, subject=topic.subject, answered=topic.answered)
            elif message.get("role") == "assistant" and pending is not None:
                text = text[: 4 * config.MAX_QUESTION_CHARS]  # a reply is at most ~600 characters
                quoted = self.locate(text)
                if not quoted and remark_kind(said):
                    # "my head is spinning", answered as small talk: the conversation is still
                    # about what came before it, as after a "thanks!".
                    topic, pending = before, None
                    continue
                subject = pending if quoted and names_a_role(pending) else topic.subject
                topic = Topic(pending, quoted, self.locate(text.split("\n\n")[0]), subject,
                              pending if quoted else topic.answered)
                pending = None
        return replace(topic, fact=fact) if fact else topic

    def page_fact(self, text: str, previous: str | None = None) -> str | None:
        """Which fact about the page a turn asks for: in its own words, by naming its author or
        publisher ("is this a knowledgehut post?"), or as a bare "when?" right after another
        question about the page (``previous``, that question's kind)."""
        return (fact_kind(text) or names_the_publisher(text, self.publishers)
                or (fact_ellipsis(text) if previous else None))

    def _question(self, text: str, topic: Topic) -> str | None:
        """The self-contained question a user turn asks (not a page fact: topic() reads those
        first), or None for small talk."""
        if not text.strip() or smalltalk_kind(text):
            return None
        return self.resolve(self.spell_roles(strip_pleasantries(text)), topic)

    def spell_roles(self, text: str) -> str:
        """The text with any misspelt role word spelt right (other words left as typed), and a
        role named by half its name named whole ("the engineer" -> "the ML engineer", "the ml
        guys" -> "the ML Engineers")."""
        def fix(m):
            word = m.group(0)
            right = self.speller.correct_word(word)
            return right if right != word and right.lower().startswith(self._role_words) else word
        text = WORD.sub(fix, text) if self._role_words else text
        for pattern, whole in self._half_names:
            text = pattern.sub(whole, text)
        return text

    def resolve(self, text: str, topic: Topic) -> str:
        """The self-contained question a turn asks: the topic's own for a move ("an example?"),
        else the text with its follow-up rewritten against the topic."""
        if topic.question and (move_of(text) or topic.quoted and asks_by_place(text)):
            return topic.question  # "an example?", "who does the first step?": still the same topic
        if self.pair and not names_a_role(text) and WHICH_IS_MORE.search(text) and not NAMES_ITS_OWN.search(text):
            # Which of the two the article compares, opening a conversation or in the middle of one.
            return f"{text.rstrip(' ?.!')} ({self.pair[0]} or {self.pair[1]})?"[: config.MAX_QUESTION_CHARS]
        if not topic.question and self.pair and not names_a_role(text) and (
                THE_PAIR.search(text) or DIFFERENCE.search(text) and not NAMES_ITS_OWN.search(text)):
            # An opening "what do they have in common?" can only mean the two roles the article
            # compares: named, the question finds them (0.26 -> 0.81 to the section it asks for).
            # So can "sum up the difference in one line" (0.21 -> 0.42), unless it says between what.
            return f"{text.rstrip(' ?.!')} ({self.pair[0]} and {self.pair[1]})?"[: config.MAX_QUESTION_CHARS]
        previous = topic.question
        if previous and not topic.quoted and not names_a_role(text):
            # A refused turn is no antecedent for "that example", nor, if it named no role, for "they"
            # or for a turn that points at nothing ("lol sorry. what's EDA again?" after "any good
            # pizza places?"). Blind dev conversations: +1 follow-up turn on dev-conversations-11 (55 -> 56 of 78), none lost.
            if THING.search(text) and topic.answered:
                previous = topic.answered
            elif topic.subject and PRONOUN.search(text) and not names_a_role(previous):
                previous = topic.subject
            elif not names_a_role(previous) and not (PRONOUN.search(text) or THING.search(text)):
                previous = None
        if previous and not names_a_role(previous):
            # "why are these two jobs so hyped?" is about the pair: "them" after it means the two
            # roles, not that whole question (whose own borrowed words would nest in the rewrite).
            previous = name_the_pair(previous, self.pair)
            if (self.pair and not names_a_role(previous) and not names_a_role(text) and FOLLOW_UP_START.match(text)
                    and not (PRONOUN.search(text) or THING.search(text)) and self._names_a_subject(text)):
                # "and the differences?" after "what are the similarities?": a subject of its own,
                # asked of what the article compares, not beside the question it follows.
                previous = f"{self.pair[0]} and {self.pair[1]}"
        previous = previous[:MAX_BORROWED_CHARS] if previous else None
        return resolve_follow_up(text, previous)[: config.MAX_QUESTION_CHARS]

    def swap(self, text: str, topic: Topic) -> tuple[str, str] | None:
        """(the role the topic was about, the other role) when the turn asks about the other one
        ("and the ml engineer?" after a question about data scientists), else None."""
        if not self.pair or not topic.question:
            return None
        named = pair_named(expand_abbreviations(text), self.pair)
        before = pair_named(expand_abbreviations(topic.question), self.pair)
        if len(named) == 1 and before == [r for r in self.pair if r != named[0]]:
            return before[0], named[0]
        return None

    @staticmethod
    def _names_a_subject(text: str) -> bool:
        """"and the differences?", "what about tools?": a subject after the follow-up's opening
        words, and no question of its own ("and who talks to the business folks?")."""
        body = FOLLOW_UP_START.sub("", text).strip(" ,.?!")
        return not ASKS.match(body) and any(w.lower() not in POINTING_NOUNS for w in content_words(body))

    def locate(self, reply: str) -> tuple[tuple[int, int, int], ...]:
        """The article lines a reply quoted, in the order it quoted them: each line, sentence
        and bold lead item of the reply looked up directly (cost grows with the reply, not
        with the knowledge base)."""
        found = []
        # A citation ends what it cites: "**A lead item** [1] A sentence. [2]" is two quotes.
        for line in (part for line in reply.split("\n") for part in CITATION.split(line)):
            line = LIST_ITEM.sub("", MARKER.sub(" ", line).strip())
            for piece in [line, *PIECE_END.split(line)]:
                where = self._lines.get(_norm(piece))
                if where is not None:
                    found.append(where)
        return tuple(dict.fromkeys(found))

    def line(self, p: int, u: int, n: int) -> str:
        """Line n of passage p's unit u: where a reply's quote was found (locate)."""
        return self.units[p][u].split("\n")[n]

    def quoted_text(self, topic: Topic) -> str:
        """The article lines the last answer quoted, joined."""
        return " ".join(self.line(p, u, n) for p, u, n in topic.quoted)

    def echoes(self, text: str, topic: Topic) -> bool:
        """A short turn made of words the last answer quoted ("why less focused?" after "… their
        role is less focused on deep statistical analysis"): it asks about that answer."""
        asked = content_words(text)
        if not asked or len(asked) > MAX_ECHO_WORDS:
            return False
        quoted = {w.lower() for w in content_words(self.quoted_text(topic))}
        return all(w.lower() in quoted for w in asked)

# Who a role is when named by its first word: "the ml guys", "the data folks", "the data side".
PEOPLE = r"(guys?|folks?|people|persons?|side|ones?|crowd|camp)"


def _half_names(pair) -> list[tuple[re.Pattern, object]]:
    """For a pair of roles whose last words differ ("ML Engineer", "Data Scientist"): each role
    named by its last word alone after "the" ("the engineer does", "the engineering one", "the
    scientist") or by its first words and a word for people ("the ml guys"), and what it becomes."""
    if not pair or len({role.split()[-1].lower()[:6] for role in pair}) < 2:
        return []
    out = []
    for role in pair:
        *first, last = role.split()
        if not first:
            continue
        root = role_root(last)
        lead = " ".join(first)
        out.append((re.compile(rf"\b(the|that|this)\s+(?={re.escape(root)}\w*\b)", re.I), rf"\1 {lead} "))
        out.append((re.compile(rf"\b(the|that|this)\s+{re.escape(lead)}\s+{PEOPLE}\b", re.I), rf"\1 {role}s"))
    return out


def mirrored(sections: set[tuple], among: set[tuple], swapped: tuple[str, str]) -> set[tuple]:
    """The sections of ``among`` that are one of ``sections`` with the first role's headings
    swapped for the second's ("What Is a Data Scientist? > Real-World Example" → "What Is an ML
    Engineer? > Real-World Example"): where a comparison says the same of the other role."""
    old, new = (role_pattern(r) for r in swapped)

    def mirrors(a, b):
        return len(a) == len(b) and a != b and all(
            x == y or old.search(x) and not new.search(x) and new.search(y) and not old.search(y) for x, y in zip(a, b))

    return {b for b in among if any(mirrors(a, b) for a in sections)}


def in_context(text: str, question: str) -> str:
    """A turn that asks nothing on its own, asked beside the conversation's last question."""
    return f"{text.rstrip(' ?.!')} ({question[:MAX_BORROWED_CHARS].rstrip(' ?.!')})?"


def message_text(content) -> str:
    """The text of a message's content (a string, or Gradio's list of parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return message_text(content.get("text") or content.get("content") or "")
    if isinstance(content, (list, tuple)):
        return " ".join(message_text(c) for c in content)
    return ""


def _norm(text: str) -> str:
    return " ".join(text.lower().replace("’", "'").split())

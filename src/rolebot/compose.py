"""Answer composition: the shortest span that answers first, then its context, all cited.

Without an LLM, "short answer first" means choosing, inside the best passage, the sentence or
list item(s) that match the question best (or, for "what is X?" or "give me the conclusion", the
opening of that section: openings.py), putting that first, and then the rest of the passage's matching units in
reading order — within MAX_ANSWER_CHARS.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from .knowledge import CONCLUSION, LIST_ITEM, item_at, item_beside, list_items
from .openings import Openings
from .query import ROLE, base_form, content_stems, ordinal, roles_named, sequence_step, words
from .aspects import ASPECT_WEIGHT
from .index import QUESTION_VIEW
from .retriever import names_bonus

MAX_ANSWER_CHARS = 600
# A runner-up this close to the best passage is quoted too: 0.1 of a cosine, on the ranking's
# scale (a cosine plus ASPECT_WEIGHT x another). Left at 0.1 beside the aspect score, fewer
# runner-ups were quoted and answer accuracy fell on two dev sets (0.913 -> 0.899, 0.879 -> 0.848).
SECOND_PASSAGE_MARGIN = 0.1 * (1 + ASPECT_WEIGHT)
# How much better than any of its sentences an FAQ's own question must match for its answer to be
# quoted in its own order. On the six blind dev sets, lead: 0.05 +1 item on three and none lost;
# 0 also lost one (dev-blind-2). Held out unchanged; fresh-blind lead +1.
FAQ_ASKED_MARGIN = 0.05
UNIT_MARGIN = 0.12  # other units this close to the best one are kept as context
ITEM_MARGIN = 0.06  # list items this close to the best item are led with too
ITEM_FOCUS = 0.08  # the best item must stand this far above the median item to be led with
LEAD_ITEMS_MIN = 4  # a list this long is answered item-first; a shorter one reads fine whole
# What a list item gains, per word it shares with the step a "what comes after X?" names, on top
# of its cosine to X (step_scores).
STEP_WORD_BONUS = 0.1
NUMBERING = re.compile(r"^\s*\d+[.)]\s+")
class Focus(NamedTuple):
    """What in the question picks the list item to lead with."""

    step: object = None  # "what comes after X?" (or before): X's vector
    direction: int = 1  # 1 the item after X, -1 the one before
    names: float = 0.0  # what an item naming a tool or product gains (retriever.names_bonus)
    nth: int | None = None  # "the first step": the item's place (query.ordinal)
    stems: frozenset | set = frozenset()  # the question's rare words (one item alone may share them)
    roles: frozenset | set = frozenset()  # the roles the question names (query.roles_named)
    step_text: str = ""  # "what comes after X?": X as the learner wrote it


NO_FOCUS = Focus()


class Composer:
    """Chooses and orders the quoted units; knows the passages, not how they were found."""

    def __init__(self, retriever):
        self.retriever = retriever
        self.passages = retriever.passages
        self.openings = Openings(retriever)

    def pick(self, question: str, rows, vec) -> list[tuple[int, str]]:
        """(passage, text) blocks in answer order: the lead first, then context."""
        best = rows[0]
        lead = self.openings.lead(question, rows)
        sequence = sequence_step(question)
        step = self.retriever.embedder.encode_queries([self.retriever.normalize(sequence[0])])[0] if sequence else None
        focus = Focus(step, sequence[1] if sequence else 1, names_bonus(question), ordinal(question),
                      self._rare_stems(question, self.passages[best.passage].doc), roles_named(question),
                      sequence[0] if sequence else "")
        picked = lead + [b for b in self._blocks(best, vec, MAX_ANSWER_CHARS - _size(lead), focus=focus) if b not in lead]
        listed = self._introduced_list(best.passage)
        if listed is not None and _size(picked) + len(listed[1]) <= MAX_ANSWER_CHARS and listed not in picked:
            item = _nth_item(listed[1], focus.nth) or self._item_lead(listed[0], listed[1], vec, focus)
            if item and _size(picked) + len(listed[1]) + len(item) <= MAX_ANSWER_CHARS:
                picked.insert(0, (listed[0], item))  # the step asked for first, then the sentence and its list
            picked.append(listed)
        room = MAX_ANSWER_CHARS - _size(picked)
        for second in rows[1:2]:
            # A passage that only advertises the publisher (promotion.py) is quoted when it is the best, never beside it.
            if (second.fused >= best.fused - SECOND_PASSAGE_MARGIN and room > 80 and second.passage not in {p for p, _ in picked}
                    and not self.retriever.pieces.promotion.whole([second.passage])[0]):
                picked += self._blocks(second, vec, room, best_only=True)
        for half in self._promised_lists(best.passage, picked, vec):
            if half not in picked and _size(picked) + len(half[1]) <= MAX_ANSWER_CHARS:
                picked.append(half)
        return picked

    def _introduced_list(self, p: int) -> tuple[int, str] | None:
        """The list a one-sentence passage introduces ("In most companies, both roles work
        closely together as part of the same pipeline." above the pipeline's steps): the next
        passage of its section, when that opens with a list of its own and no lead-in line. The
        chunker keeps a paragraph and the list after it apart; quoted alone, the sentence
        promises what the list says."""
        units = self.retriever.data.units[p]
        following = p + 1
        if len(units) != 1 or LIST_ITEM.match(units[0]) or following >= len(self.passages):
            return None
        nxt = self.passages[following]
        if nxt.section != self.passages[p].section or nxt.kind == "faq":
            return None
        first = self.retriever.data.units[following][:1]
        return (following, first[0]) if first and LIST_ITEM.match(first[0]) else None

    def _promised_lists(self, p: int, picked, vec) -> list[tuple[int, str]]:
        """The lists an answer that leads with a passage's opening sentence ("Choosing between
        these roles depends on your interests and strengths.") promises: the list after it, and
        the other half of the pair when that list has one ("Choose Data Scientist if you: …",
        "Choose ML Engineer if you: …" in the next passage), the half nearer the question first.
        Quoted alone, the sentence reads as the answer and says nothing."""
        units = self.retriever.data.units[p]
        if len(units) < 2 or picked[:1] != [(p, units[0])] or _is_list(units[0]) or not _is_list(units[1]):
            return []
        lists = [(p, units[1])]
        following = p + 1
        if following < len(self.passages) and self.passages[following].section == self.passages[p].section:
            first = self.retriever.data.units[following][:1]
            if first and _is_list(first[0]) and _same_lead_in(units[1], first[0]):
                lists.append((following, first[0]))
        return sorted(lists, key=lambda half: -max(self.retriever.pieces.items(half[0], half[1], vec), default=-1.0))

    def _blocks(self, row, vec, budget: int, best_only: bool = False, focus: Focus = NO_FOCUS) -> list[tuple[int, str]]:
        p = self.passages[row.passage]
        units = self.retriever.data.units[row.passage]
        if not units:
            return []
        ranked = sorted(range(len(units)), key=lambda i: row.unit_scores[i], reverse=True)
        top = ranked[0]
        if p.kind == "faq" and len(p.text) <= budget:
            # An FAQ's answer is quoted whole; the sentence that answers leads it, unless it
            # leans on the one before ("This is a common …", "However, …").
            if (best_only or top == 0 or PRONOUN_START.match(units[top]) or TURN.match(units[top])
                    or self._asks_its_question(row.passage, vec, row.unit_scores[top], focus.roles, units[0])):
                return [(row.passage, p.text)]
            return [(row.passage, units[i]) for i in [top] + [i for i in range(len(units)) if i != top]]
        lead = _nth_item(units[top], focus.nth) or self._item_lead(row.passage, units[top], vec, focus)
        blocks = [(row.passage, lead)] if lead else []
        if len(units[top]) + len(lead) > budget:
            return blocks if len(lead) <= budget else []
        chosen = [top]
        if not best_only:
            size = len(units[top]) + len(lead)
            for i in ranked[1:]:
                if row.unit_scores[i] >= row.unit_scores[top] - UNIT_MARGIN and size + len(units[i]) <= budget:
                    chosen.append(i)
                    size += len(units[i])
        # The best unit first, the other kept units after it in reading order.
        chosen = _cohesive(units, chosen, budget - len(lead))
        first = [top - 1, top] if top - 1 in chosen and TURN.match(units[top]) else [top]
        if top + 1 in chosen and (TURN.match(units[top + 1]) or PRONOUN_START.match(units[top + 1])):
            first.append(top + 1)  # "At first glance they seem similar. However, … quite different."
        order = first + sorted(i for i in chosen if i not in first)
        return blocks + [(row.passage, units[i]) for i in order]

    def _asks_its_question(self, p: int, vec, best_unit: float, asked_roles: set, opening: str) -> bool:
        """Whether the learner asked an FAQ's own question (it matches them better than any
        sentence of the answer does): then its answer opens with the reply ("ML Engineers do need
        a basic understanding of statistics…" to "do MLEs need stats?"), in its own order — unless
        that reply is about another role than the one asked about ("and ML engineers' tools?" of
        an FAQ whose answer opens with what data scientists use)."""
        opens_on = roles_named(opening)
        if asked_roles and opens_on and not asked_roles & opens_on:
            return False
        views, kinds = self.retriever.pieces.views(p)
        asked = views[kinds == QUESTION_VIEW]
        return len(asked) > 0 and float((asked @ vec).max()) >= best_unit + FAQ_ASKED_MARGIN

    def step_scores(self, passage: int, unit: str, step, named: str) -> list[float]:
        """How well each item of a list matches the step a "what comes after X?" names (``step``:
        X's vector, ``named``: X): its cosine, and STEP_WORD_BONUS for each word of X it uses too.
        The encoder alone puts "the model gets built" nearer "An ML Engineer deploys the model into
        production" than "A Data Scientist analyzes data and builds a model"."""
        cosines = self.retriever.pieces.items(passage, unit, step)
        asked = self._stems(" ".join(map(base_form, words(named))))
        return [c + STEP_WORD_BONUS * len(asked & self._stems(LIST_ITEM.sub("", item)))
                for c, item in zip(cosines, list_items(unit))]

    def _stems(self, text: str) -> set[str]:
        """The stems of a text's content words, role names left out."""
        return content_stems(text, self.retriever.stem)

    def _rare_stems(self, text: str, doc: str) -> set[str]:
        """Those that name a thing only a few lines of the document name ("work", "data" are in
        every other item)."""
        return self._stems(text) & self.retriever.word_lines.rare(doc).keys()

    def _item_lead(self, passage: int, unit: str, vec, focus: Focus) -> str:
        """For a long list, the item(s) that answer, in bold, to stand before the list. For a
        "what comes after X?" question (``focus.step``: X's vector), the item after the one that
        matches X best (before it, for "what comes before X?")."""
        items = list_items(unit)
        if focus.step is not None and len(items) >= 2:
            step = item_beside(items, self.step_scores(passage, unit, focus.step, focus.step_text), focus.direction)
            if step:
                return f"**{LIST_ITEM.sub('', step).strip()}**"
        if len(items) < LEAD_ITEMS_MIN:
            return ""
        scores = self.retriever.pieces.items(passage, unit, vec, focus.names)
        if not scores:
            return ""
        best = max(scores)
        if best - sorted(scores)[len(scores) // 2] < ITEM_FOCUS:
            # The question asks for the list as a whole, not one item of it, unless it shares a
            # word with one item alone ("do they collaborate or work in silos?").
            shared = [len(focus.stems & self._stems(LIST_ITEM.sub("", item))) for item in items]
            top = max(shared, default=0)
            if not top or shared.count(top) > 1:
                return ""
            return f"**{LIST_ITEM.sub('', items[shared.index(top)]).strip()}**"
        lead = [LIST_ITEM.sub("", items[i]).strip() for i, s in enumerate(scores) if s >= best - ITEM_MARGIN][:2]
        return "; ".join(f"**{item}**" for item in lead)


# A sentence that turns against the one before it ("At first glance they seem similar.
# However, their responsibilities are quite different.") carries the point of the pair.
TURN = re.compile(r"^(however|but|yet|that said|in contrast|by contrast|instead|even so|nevertheless|nonetheless)\b", re.I)
# A sentence that only sets up the next ("Imagine a streaming platform like Netflix.") says
# nothing quoted alone.
SETUP = re.compile(r"^(imagine|consider|suppose|picture|think\s+of|let'?s\s+say|say\s+you|for\s+(example|instance))\b|:$", re.I)


def _cohesive(units: list[str], chosen: list[int], budget: int) -> list[int]:
    """The chosen units with the sentence that turns against one of them, the sentence a
    chosen one turns against, and the sentence a chosen one sets up, where they fit."""
    out = list(chosen)
    size = sum(len(units[i]) for i in out)
    for i in chosen:
        follows = i + 1 < len(units) and (TURN.match(units[i + 1]) or SETUP.search(units[i].strip())
                                          or PRONOUN_START.match(units[i + 1]))
        pair = i + 1 if follows else i - 1 if i > 0 and TURN.match(units[i]) else None
        if pair is not None and pair not in out and size + len(units[pair]) <= budget:
            out.append(pair)
            size += len(units[pair])
    return out


def _same_lead_in(a: str, b: str) -> bool:
    """Two lists introduced alike, each for its role ("Choose Data Scientist if you:", "Choose ML
    Engineer if you:"; "Data Scientist Skills", "ML Engineer Skills"): lead-in lines that read the
    same with the role names taken out."""
    if LIST_ITEM.match(a) or LIST_ITEM.match(b):
        return False
    x, y = (" ".join(ROLE.sub(" ", unit.split("\n")[0]).lower().split()) for unit in (a, b))
    return bool(x) and x == y and ROLE.search(a.split("\n")[0]) is not None


def _is_list(unit: str) -> bool:
    return any(LIST_ITEM.match(line) for line in unit.split("\n"))


def _nth_item(unit: str, nth: int | None) -> str:
    """A list's item at place nth (ordinal), in bold; "" when there is no such item."""
    item = item_at(list_items(unit), nth)
    return f"**{LIST_ITEM.sub('', item).strip()}**" if item else ""


def _size(blocks) -> int:
    return sum(len(t) for _, t in blocks)


PRONOUN_START = re.compile(r"^(they|their|them|it|its|this|these|those)\b", re.I)


def with_marker(unit: str, n: int, heading: str = "", opens: bool = False) -> str:
    """Cite at the end of every paragraph or list; a list with no lead-in line gets its
    section heading (in italics, not a quote) so it reads on its own, and so does a sentence
    that ``opens`` the quote from its passage with a pronoun ("Their work is more focused on…")."""
    blocks = unit.split("\n\n")
    if heading and blocks[0].startswith("- "):
        blocks[0] = f"*{heading}:*\n{blocks[0]}"
    elif heading and opens and PRONOUN_START.match(blocks[0]):
        blocks[0] = f"*{heading}{'' if heading.endswith('?') else ':'}* {blocks[0]}"
    return "\n\n".join(f"{b} [{n}]" for b in blocks)


def join(parts: list[str]) -> str:
    out = ""
    for part in parts:
        if not out:
            out = part
        elif "\n" in part or "\n" in out.split("\n\n")[-1]:
            out += "\n\n" + part
        else:
            out += " " + part
    return out


def section_label(section: tuple[str, ...], repeated: set[str], title: str) -> str:
    """The shortest name of a section that says which one it is: its own heading ("Role in a Real
    Project Workflow"), with its parent's only when the heading recurs ("What Is a Data
    Scientist? > Key Responsibilities"). The whole path ate up to 90 of the answer's first 200
    characters before the words that answer."""
    if not section:
        return title
    leaf = NUMBERING.sub("", section[-1]).strip()
    if len(section) > 1 and section[-1] in repeated:
        return f"{NUMBERING.sub('', section[-2]).strip()} > {leaf}"
    return leaf


def topic_question(section: tuple[str, ...], repeated: set[str], subject: str = "") -> str:
    """A section as a question a learner would click: its heading when it is one, else
    "What does the article say about <heading>?" (naming the parent for a repeated heading)."""
    leaf = NUMBERING.sub("", section[-1]).strip()
    if leaf.endswith("?"):
        return leaf
    if len(section) > 1 and section[-1] in repeated:
        parent = NUMBERING.sub("", section[-2]).rstrip("?").strip()
        parent = re.sub(r"^(what|who)\s+(is|are)\s+(an?\s+|the\s+)?", "", parent, flags=re.I)
        return f"What does the article say about {_lower(leaf)} for {parent}?"
    if CONCLUSION.match(leaf):
        return "What does the article conclude?"
    return f"What does the article say about {_lower(leaf)}?"


def _lower(heading: str) -> str:
    """Lower-case a heading for the middle of a sentence, keeping acronyms and names."""
    return " ".join(w if (w.isupper() or w[:1].isupper() and w[1:2].isupper()) else w.lower() for w in heading.split())

"""Questions a learner might ask of a section, written at build time from its heading and the
role it is about: doc2query without a generator.

A heading says what a section is about in the article's words ("Key Responsibilities",
"Output of Work"); learners ask in theirs ("what does a data scientist do day to day?", "what
does an ML engineer deliver?"). Each kind of heading below is one that role and career
articles share, with the plain questions that such a section answers. The role comes from the
section path or the passage itself, among the two roles a comparison title names. The
questions are indexed as their own view kind and count less than a real match, in the ranking
and in the confidence alike (they match by form as much as by subject): see
retriever.TEMPLATE_HANDICAP.

This is a table of heading kinds, not of this article's wording: nothing here names a tool, a
role or a phrase of one article, and a heading that is none of these kinds gets no questions.
A sentence whose subject is one of the two roles ("An ML Engineer deploys the model into
production") also gets the "who …?" it answers, by its grammar alone.
"""

from __future__ import annotations

import re

from .knowledge import CONCLUSION, LIST_ITEM, SENTENCE_END, Passage
from .query import POINTING_NOUNS, pair_named, title_pair

# (what the section's own heading says, questions with {role} for the role it is about, or
# {both} for the two roles when the kind of section is about them together)
KINDS: list[tuple[re.Pattern, list[str]]] = [
    (re.compile(p, re.I), questions)
    for p, questions in [
        (r"responsibilit|duties|\btasks\b", ["What does {role} do day to day?", "What are the main tasks of {role}?",
                                            "What is the job of {role}?"]),
        (r"\boutputs?\b|deliverable|outcome", ["What does {role} deliver at the end?", "What does {role} produce?",
                                               "What is the end product of {role}?"]),
        (r"\btools?\b|technolog|software|\bstack\b", ["What does {role} use?", "Which tools does {role} work with?"]),
        (r"skill|competenc|requirement", ["What does {role} need to know?", "What should {role} learn?"]),
        (r"example|case stud", ["What is an example of what {role} does?", "What would {role} do in practice?"]),
        (r"workflow|process|pipeline", ["How do {both} work together on a project?", "What happens in a real project?"]),
        (r"\bfocus", ["What is {role} focused on?", "What does {role} mainly care about?"]),
        (r"nature of|work style", ["What is the work of {role} like?"]),
        (r"similarit|in common|overlap", ["What do {both} have in common?"]),
        (r"\bchoos|\bpick\b|which role", ["Which one should I pick?"]),
        (CONCLUSION.pattern, ["What is the bottom line?", "What is the takeaway?", "What does the conclusion say?"]),
        (r"^\s*(what|who)\s+(is|are)\b", ["Who is {role}?", "What does {role} mean?"]),
    ]
]


def questions(passage: Passage) -> list[str]:
    """The template questions for a passage: those of its heading's kind (none for an FAQ, which
    has its own question, or for a heading of no known kind), then a "who …?" for each of its
    sentences whose subject is one of the roles (who_questions)."""
    return list(dict.fromkeys(_by_heading(passage, title_pair(passage.title)) + who_questions(passage)))


def _by_heading(passage: Passage, pair: tuple[str, str] | None) -> list[str]:
    if passage.kind == "faq" or not passage.section:
        return []
    leaf = passage.section[-1]
    kinds = [qs for pattern, qs in KINDS if pattern.search(leaf)]
    if not kinds:
        return []
    both = f"{pair[0]} and {pair[1]}" if pair else passage.title
    roles = alone_on_a_line(passage, pair) or [role_of(passage, pair)]
    return [q.format(role=role, both=both) for role in roles for qs in kinds for q in qs]


ASIDE = re.compile(r"^\s*,[^,]{1,40},")  # "ML Engineers, on the other hand, deal with …"
CONTRAST = re.compile(r",?\s+(?:while|whereas|but|unlike)\b", re.I)  # "…, while ML Engineers focus on execution"
MIN_WHO_WORDS = 3


def who_questions(passage: Passage) -> list[str]:
    """"Who deploys the model into production?" for "An ML Engineer deploys the model into
    production": a sentence or list item whose subject is one role of the pair answers the
    question a reader of a comparison asks without naming either ("who puts the model into
    production, the DS or the MLE?"), which matches the role's name everywhere else."""
    pair = title_pair(passage.title)
    if not pair:
        return []
    out = []
    for line in passage.text.split("\n"):
        line = LIST_ITEM.sub("", line).strip()
        if line.endswith(":"):  # "Data Scientists commonly use:" introduces a list
            continue
        for sentence in SENTENCE_END.split(line):
            for role in pair:
                m = re.match(rf"(?:an?\s+|the\s+)?{re.escape(role)}s?\b", sentence, re.I)
                if not m:
                    continue
                # What it says of that role alone: not the other role's half of a contrast.
                rest = CONTRAST.split(ASIDE.sub("", sentence[m.end():]), maxsplit=1)[0]
                rest = re.sub("[“”\"]", "", rest).strip(" .!?,")
                words = rest.split()
                if rest[:1].islower() and len(words) >= MIN_WHO_WORDS and words[0] not in POINTING_NOUNS:
                    out.append(f"Who {rest}?")
    return out


def alone_on_a_line(passage: Passage, pair: tuple[str, str] | None) -> list[str]:
    """The roles of ``pair`` that some line of the passage names alone ("ML Engineer Output:
    Scalable systems, …" beside "A Data Scientist builds the “brain,” while an ML Engineer builds
    the “body”…"): a passage of parallel halves is about each of them in turn, not about both."""
    if not pair:
        return []
    named = set()
    for line in passage.text.split("\n"):
        roles = pair_named(line, pair)
        if len(roles) == 1:
            named.add(roles[0])
    return [role for role in pair if role in named]


def role_of(passage: Passage, pair: tuple[str, str] | None) -> str:
    """The role of ``pair`` a passage is about: the one its own heading names, else the one its
    text names, else the one a parent heading names; both roles when none names exactly one of
    them. A document whose title names no pair is about what its title says."""
    if not pair:
        return passage.title
    for text in [passage.section[-1], passage.text, *reversed(passage.section[:-1])]:
        named = pair_named(text, pair)
        if len(named) == 1:
            return named[0]
    return f"{pair[0]} and {pair[1]}"

"""Query understanding without an LLM: abbreviations, typos and follow-up rewriting."""

from __future__ import annotations

import functools
import re

from rapidfuzz.distance import Levenshtein
from rapidfuzz import process

CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
SURROGATES = re.compile("[\ud800-\udfff]")  # legal in JSON escapes, rejected by the tokenizer


def scrub(text: str) -> str:
    """Lone surrogates (legal in JSON escapes, not in UTF-8) become U+FFFD: the tokenizer,
    SQLite and the JSON encoder all reject them."""
    return SURROGATES.sub("\ufffd", text)


def clean_text(text: str) -> str:
    """One line of plain text: no control characters, no lone surrogates, single spaces."""
    return " ".join(CONTROL.sub(" ", scrub(text)).split())


WORD = re.compile(r"[A-Za-z][A-Za-z+#-]*[A-Za-z+#]|[A-Za-z]")

# Abbreviations learners use for the roles this knowledge is about. Whole words only.
ABBREVIATIONS = {
    "mle": "ML engineer",
    "mles": "ML engineers",
    "mle's": "ML engineer's",
    "ds": "data scientist",
    "dss": "data scientists",
    "ml eng": "ML engineer",
    "ml engg": "ML engineer",
    "ml engr": "ML engineer",
    "ml engs": "ML engineers",
    "data sci": "data science",
    "datascience": "data science",
    "datascientist": "data scientist",
    "mlops": "MLOps",
    "ai/ml": "AI/ML",
    "sql": "SQL",
}
# Shorthand of everyday (tech) English, not of any one article: learners type these, and
# neither the speller (which turned "libs" into "lies") nor the encoder reads them well.
SHORTHAND = {
    "prod": "production", "infra": "infrastructure", "stats": "statistics", "algo": "algorithm",
    "algos": "algorithms", "lib": "library", "libs": "libraries", "viz": "visualization", "diff": "difference",
    "ppl": "people", "abt": "about", "tho": "though", "bc": "because", "b/c": "because", "w/": "with",
    "w/o": "without", "info": "information", "config": "configuration", "maths": "math", "wat": "what",
    "wut": "what", "wht": "what", "n": "and", "&": "and",
}
# English contractions as chat types them, without the apostrophe: spelt out before any
# correction, which would otherwise turn "cant" into "can", "shouldnt" into "should" (the
# opposite question), "hows" into "shows" and "whats" into "what" (no longer a question of what
# something is). Words that are also words of their own ("ill", "were", "its", "lets", "wed",
# "shed") are left as typed. Beside SHORTHAND rather than in it: SHORTHAND is expanded in every
# reading of a turn (the small-talk, page-fact and follow-up patterns read "whats" as typed),
# these only in the search's normalisation (Speller.correct).
CONTRACTIONS = {
    "whats": "what's", "hows": "how's", "whos": "who's", "wheres": "where's", "whens": "when's",
    "whys": "why's", "thats": "that's", "theres": "there's", "heres": "here's",
    "dont": "don't", "doesnt": "doesn't", "didnt": "didn't", "isnt": "isn't", "arent": "aren't",
    "wasnt": "wasn't", "werent": "weren't", "cant": "can't", "couldnt": "couldn't",
    "wont": "won't", "wouldnt": "wouldn't", "shouldnt": "shouldn't", "hasnt": "hasn't",
    "havent": "haven't", "hadnt": "hadn't", "mustnt": "mustn't", "neednt": "needn't",
    "im": "I'm", "ive": "I've", "youre": "you're", "youve": "you've", "theyre": "they're",
    "theyve": "they've", "weve": "we've",
}
_EXPANSIONS = {**SHORTHAND, **ABBREVIATIONS}
_ABBREV = re.compile(
    r"(?<![\w'])(" + "|".join(re.escape(k) for k in sorted(_EXPANSIONS, key=len, reverse=True)) + r")(?![\w'])",
    re.I,
)

ROLE = re.compile(
    r"\b(data scien\w*|ml engineer\w*|machine learning engineer\w*|ml engineering|mles?|ds)\b", re.I
)
THING = re.compile(r"\b(it|its|that|this|those|these)\b", re.I)
PRONOUN = re.compile(r"\b(they|them|their|theirs|it|its|this role|that role|those|these|that one|this one)\b", re.I)
# "which one does the system design?", "which of them experiments more?": a question that asks
# to pick between the roles is about both of them, not about the last one discussed.
CHOOSER = re.compile(r"\bwhich\s+(one|of\s+(them|the\s+(two|roles)|these|those|both)|role|job|path)\b", re.I)
OTHER = re.compile(r"\b(the )?other (role|one|side|job|path)\b", re.I)
# The two roles this knowledge contrasts: "the other role" means the counterpart.
COUNTERPART = {"data scientist": "ML engineer", "ml engineer": "data scientist"}
# "tell me more about the DS side" asks for more of the last topic, about that role.
FOLLOW_UP_START = re.compile(
    r"^(and|or|also|so|but|what about|how about|same for|and for|what of|then|ok(ay)? and|and what about|"
    r"(is|are|was)\s+(it|that|this)\s+(the\s+same|similar|any\s+different|different)\s+(for|with)|"
    r"(does|do|would)\s+(it|that|this)\s+(apply|go|hold)\s+(to|for)|"
    r"tell me more( about| on)?|more (about|on)|(can you )?(explain|elaborate on|expand on|say more about))\b", re.I
)
# A turn that ends on "then" or "instead" ("so how do they differ then?", "what do they focus on
# instead?") asks in the light of the last answer.
LEANS_BACK = re.compile(r"\b(then|instead)\W*$", re.I)
# A request to explain, opening a turn: more of the last answer ("explain that"), or a subject of
# its own ("explain random forest pls").
EXPLAINS = re.compile(r"^\W*((can|could|would)\s+(you|u)\s+)?((pls|please)\s+)?(explain|elaborate\s+on|expand\s+on)\b", re.I)
BARE_FOLLOW_UP = re.compile(
    r"^(why|how|how so|really|tell me more|more|explain|explain more|go on|examples?|such as|like what|"
    r"in what way|can you elaborate|elaborate|details?|more details|which one|and)\W*$",
    re.I,
)

# Phrases that only compare with, or add to, what was asked ("compared to DS?", "and for MLE on
# top of that?"): a role with these asks the previous question about that role.
COMPARING = re.compile(
    r"\b(compared?\s+(to|with)|compares\s+(to|with)|in\s+comparison\s+(to|with)|as\s+opposed\s+to|in\s+contrast\s+to|relative\s+to|"
    r"versus|vs\.?|unlike|on\s+top\s+of\s+(that|this)|as\s+well|in\s+addition)\b", re.I)

# Nouns that only point back at a role ("and the MLE ones?", "what about the DS side?"): a
# follow-up made of a role and these asks the previous question about that role.
POINTING_NOUNS = frozenset("one ones side sides role roles job jobs guys people folks person position positions "
                           "version counterpart equivalent equivalents team teams path".split())

ASKS = re.compile(r"^\W*(what|whats|what's|how|why|which|who|whos|who's|where|when|whose|do|does|did|is|are|was|were|can|could|"
                  r"should|would|will|has|have|tell|explain|describe|list|name|give|show|compare)\b", re.I)

STOPWORDS = frozenset(
    """a an the and or but if of to in on for with by at from as is are was were be been being do does did
    doing have has had i me my we our you your he she it its they them their what which who whom whose this that
    these those am can could should would will shall may might must not no so than too very just about into
    over under again more most some any each both all how why when where there here also get got like""".split()
)


# Words that point back into the conversation ("is that common?", "anything else?"), and words
# that narrow what was just said ("which cloud exactly?", "what does at scale mean here?", "what
# would such a person handle?").
BACK_REFERENCE = re.compile(r"\b(that|this|it|its|they|them|their|those|these|there|then|else|both|one|ones|instead|too|also|"
                            r"exactly|specifically|precisely|here|such)\b", re.I)


# A question whose answer is a name: "which tools…", "what software for dashboards?", "with which
# language?". Answer-type matching as in classic question answering: the kind of thing asked for,
# in general English, not any article's terms.
ASKS_FOR_NAMES = re.compile(
    r"\b(which|what|whats|what's|wat|any|name|list)\b[^?]*?\b(tools?|software|softwares|programs?|languages?|"
    r"platforms?|frameworks?|librar(?:y|ies)|packages?|stack|technolog(?:y|ies)|tech|apps?|applications?|"
    r"products?|services?|providers?|vendors?|databases?|ides?|editors?|brands?)\b", re.I)


# A question whose answer is a length of time ("how long does the switch take?", "how many
# months till I'm job ready?"): answerable only from a text that states one.
ASKS_FOR_DURATION = re.compile(r"\bhow\s+(long|many\s+(minutes|hours|days|weeks|months|years)|much\s+time)\b", re.I)
STATES_DURATION = re.compile(
    r"\b(\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|a\s+few|a\s+couple\s+of|several)"
    r"(\s*(-|to|or)\s*\d+)?[\s+-]*(minutes?|hours?|days?|weeks?|months?|years?)\b", re.I)


def asks_for_duration(text: str) -> bool:
    return ASKS_FOR_DURATION.search(text) is not None


def asks_for_names(text: str) -> bool:
    """A question asking which tool, language or product: its answer names one."""
    return ASKS_FOR_NAMES.search(text) is not None


# "What is the first step?", "the last responsibility listed": one item of an ordered list, by
# its place.
ORDINAL = re.compile(
    r"\b(?P<n>first|1st|second|2nd|third|3rd|fourth|4th|fifth|5th|sixth|6th|last|final)\b(?:\s+\w+){0,2}?\s+"
    r"(?:steps?|stages?|phases?|items?|things?|ones?|responsibilit(?:y|ies)|tasks?|points?|parts?)\b", re.I)
PLACES = {"first": 0, "1st": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2, "fourth": 3, "4th": 3,
          "fifth": 4, "5th": 4, "sixth": 5, "6th": 5, "last": -1, "final": -1}


def ordinal(question: str) -> int | None:
    """The place of the list item a question asks for by its order (0 first, -1 last), or None."""
    m = ORDINAL.search(question)
    return PLACES[m["n"].lower()] if m else None


# "What happens after the model is built?", "what's the next step after learning Python?", "and
# after it's deployed?": the answer is the list item that follows the one the question names.
# "What happens before deployment?", "what comes just before testing?": the one before it.
AFTER = re.compile(
    r"^\W*(?:(?:so|and|ok|okay)\W+)?(?:(?:what|which)\b[^?]*?\b(?:comes?|happens?|step|stage|follows?|next|is\s+done|goes\s+on)\b[^?]*?"
    r"|(?:and\s+|so\s+)?(?:right\s+|just\s+)?)\b(?P<word>after|once|before|prior\s+to)\s+(?P<anchor>[^?]{3,120}?)\W*$", re.I)
# A bare "after X?" (no "what"/"which" before it) asks for the next step only when X is a step,
# not a question of its own ("after starting in DS how do I move to ML engineering").
ASKS_WHAT = re.compile(r"^\W*(?:(?:so|and|ok|okay)\W+)?(what|which)\b", re.I)
QUESTION_WORD = re.compile(r"\b(how|what|which|who|where|when|why|should|can|could|do|does|is|are)\b", re.I)
NEXT_STEP = re.compile(r"(?:so\s+|then\s+)?(?:what|whats|what's)\b.{0,20}\b(?:next|then|happens|comes|follows)\b", re.I)
ANCHOR_END = re.compile(r"\s*,\s*(?=(?:so\s+|then\s+)?(?:what|whats|what's|which|who|how)\b)", re.I)
BEFORE = re.compile(r"^(before|prior\s+to)$", re.I)


def sequence_step(question: str) -> tuple[str, int] | None:
    """The step a "what comes after X?" (or "… before X?") question names, and which way to go
    from it (1 after, -1 before), or None."""
    m = AFTER.match(question)
    if not m:
        return None
    direction = -1 if BEFORE.match(m["word"]) else 1
    anchor, *asked = ANCHOR_END.split(m["anchor"], maxsplit=1)  # "once it's checked, what's next?"
    if asked:  # what follows the comma is the question: the next step, or a question of its own
        return (anchor, direction) if direction == 1 and NEXT_STEP.match(asked[0]) else None
    bare = not ASKS_WHAT.match(question)
    return None if bare and QUESTION_WORD.search(anchor) else (anchor, direction)


def asks_by_place(text: str) -> bool:
    """A turn that asks only for a list item by its place ("who does the first step?", "and the
    last one?"): nothing else of substance, no role of its own."""
    m = ORDINAL.search(text)
    if m is None or names_a_role(text):
        return False
    # The question word goes too: chat spells it "whats" ("whats the last step"), no stopword.
    return is_fragment(text) or not content_words(ASKS.sub(" ", text[: m.start()]) + " " + text[m.end():])


def names_a_role(text: str) -> bool:
    """Whether the text names a role, abbreviated or not ("DS", "ML engineers")."""
    return ROLE.search(expand_abbreviations(text)) is not None


def points_back(text: str) -> bool:
    """A turn that refers to the conversation and names no subject of its own."""
    return bool(BACK_REFERENCE.search(text)) and not names_a_role(text)


def is_fragment(text: str) -> bool:
    """A turn that asks nothing on its own ("in a startup tho?", "n the last step") and names no role."""
    return not ASKS.match(text) and not names_a_role(text)


# Chat's "r" for "are" ("how r ds and mle different", "r u a bot", "what tools r used?"), not the
# language R ("r vs python", "is R needed?"): a lower-case "r" after a question word or a pronoun,
# before a word that follows "are", or opening a question.
LONE_R = re.compile(r"\br\b")
CHAT_ARE = re.compile(r"\b(?P<before>(?i:how|what|wht|wat|which|where|who|why|when|they|u|you|we|there|these|those) )r\b(?= )|"
                      r"(?<!is )(?<!need )(?<!learn )(?<!use )(?<!know )(?<!and )(?<!or )(?<!of )(?<!in )(?<!with )"
                      r"\br(?= (?i:used|needed|required|important|different|similar|better|harder|easier|both|they|u|you|"
                      r"the|these|those|there|good|hard|easy|same)\b)|"
                      r"^r(?= (?!(?i:vs|or|and|for|programming|language|is|studio|code)\b)\w)")


def expand_abbreviations(text: str) -> str:
    if LONE_R.search(text):  # the check above costs ~15 µs a message; most have no lone "r"
        text = CHAT_ARE.sub(lambda m: f"{m['before'] or ''}are", text)
    return _ABBREV.sub(lambda m: _EXPANSIONS[m.group(1).lower()], text)


# How a learner points at the page while asking about what it says ("the article mentions drift
# somewhere, what was that about?", "what does the text say about MLOps?", "according to the post,
# …", "you mentioned drift"): words about the document, in any article, not about the subject.
# Left in, the search reads them as part of the subject and the confidence figure counts
# "article", "mentions" and "somewhere" as topic words the knowledge does not use.
_DOC = r"(article|page|post|text|blog|guide|piece|author|writer|writeup|write-up)"
_SAYS = (r"(says?|said|mention(s|ed)?|talk(s|ed)?\s+about|covers?|covered|discuss(es|ed)?|states?|stated|"
         r"brings?\s+up|brought\s+up|refers?\s+to|referred\s+to|claims?|claimed|writes?\s+about|wrote\s+about)")
PAGE_TALK = re.compile(
    rf"\b(according\s+to|in|from|on)\s+(the|this|that|your|ur)\s+{_DOC}\b|"
    rf"\b(does|did|do)\s+(the|this|that|your|ur)\s+{_DOC}\s+{_SAYS}(\s+anything)?\b|"
    rf"\b(the|this|that|your|ur)\s+{_DOC}\s+{_SAYS}\b|"
    rf"\b(you|u)\s+(said|mentioned|talked\s+about|wrote\s+about|brought\s+up)(\s+about)?\b", re.I)
SOMEWHERE = re.compile(r"\s*\b(somewhere|anywhere)\b(\s+(in\s+there|earlier|before))?", re.I)


def without_page_talk(text: str) -> str:
    """The question without the words with which it points at the page ("the article mentions
    drift somewhere, what was that about?" -> "drift, what was that about?"); all of it when
    nothing else would be left."""
    stripped, n = PAGE_TALK.subn(" ", text)
    if not n:
        return text
    stripped = re.sub(r"\s+([,.?!:;])", r"\1", " ".join(SOMEWHERE.sub(" ", stripped).split()))
    stripped = re.sub(r"([.?!:;]),", r"\1", stripped).strip(" ,")
    return stripped if content_words(stripped) else text


# The past participles a stemmer leaves alone ("built" is no stem of "builds"), so that the step a
# learner names in the past ("after the model gets built") still shares its verb with the item.
IRREGULAR = {"built": "build", "made": "make", "done": "do", "taken": "take", "given": "give", "written": "write",
             "chosen": "choose", "sent": "send", "kept": "keep", "brought": "bring", "found": "find", "ran": "run",
             "sold": "sell", "told": "tell", "shown": "show", "drawn": "draw", "grown": "grow"}


def base_form(word: str) -> str:
    return IRREGULAR.get(word.lower(), word)


def words(text: str) -> list[str]:
    return [w.lower() for w in WORD.findall(text)]


def content_words(text: str) -> list[str]:
    return [w for w in words(text) if w not in STOPWORDS and len(w) > 1]


def content_stems(text: str, stem, roles: bool = False) -> set[str]:
    """The stems of a text's content words, abbreviations read out ("MLE" as "ML engineer"); role
    names left out unless ``roles``."""
    text = expand_abbreviations(text)
    return {stem(w) for w in content_words(text if roles else ROLE.sub(" ", text))}


TITLE_PAIR = re.compile(r"^(.+?)\s+(?:vs\.?|versus|or)\s+(.+?)(?:[:?!]|$)", re.I)
GROUP_REFERENCE = re.compile(
    r"\b(?:(?:the|these|those|both|all)\s+(?:two|2|both)\s+(?:roles|jobs|careers|positions|paths)|"
    r"(?:both|these|those|the)\s+(?:roles|jobs|careers|positions|paths)|each\s+(?:role|job|career|position|path))\b",
    re.I,
)


def title_pair(title: str) -> tuple[str, str] | None:
    """The two things a comparison article's title names: 'A vs B: …' → (A, B)."""
    m = TITLE_PAIR.match(title.strip())
    return (m.group(1).strip(), m.group(2).strip()) if m else None


def role_pattern(role: str) -> re.Pattern:
    """A role and its field: "Data Scientist" also matches "Data Science", "ML Engineer" also
    "ML Engineering"."""
    words = role.split()
    return re.compile(r"\b" + r"\s+".join(map(re.escape, words[:-1] + [role_root(words[-1])])), re.I)


def pair_named(text: str, pair: tuple[str, str]) -> list[str]:
    """The roles of ``pair`` a text names, in the pair's order ("ML Engineering" names "ML Engineer")."""
    return [role for role in pair if role_pattern(role).search(text)]


def role_root(word: str) -> str:
    """A role word without the ending that makes it a person: "Scientist" -> "Scien" (science),
    "Engineer" -> "Engine" (engineering)."""
    return re.sub(r"(tist|ist|er|or|ian)s?$", "", word, flags=re.I)


def name_the_pair(text: str, pair: tuple[str, str] | None) -> str:
    """'what do both roles share' → 'what do ML Engineer and Data Scientist share'."""
    if not pair:
        return text
    return GROUP_REFERENCE.sub(f"{pair[0]} and {pair[1]}", text)


class Speller:
    """Corrects words the corpus and the model's vocabulary do not know, towards corpus words."""

    def __init__(self, corpus_words: set[str], known_words: set[str] | None = None):
        self.corpus = sorted(w for w in corpus_words if len(w) >= 3)
        self.known = set(corpus_words) | (known_words or set()) | STOPWORDS
        # A fuzzy match scans the whole vocabulary: remember each unknown word's correction.
        self.correct_word = functools.lru_cache(maxsize=8192)(self.correct_word)

    def correct_word(self, word: str) -> str:
        lower = word.lower()
        if lower in CONTRACTIONS:
            spelt = CONTRACTIONS[lower]
            return spelt[0].upper() + spelt[1:] if word[0].isupper() else spelt
        if len(lower) < 4 or lower in self.known or not lower.isalpha():
            return word
        limit = 1 if len(lower) <= 5 else 2
        match = process.extractOne(lower, self.corpus, scorer=Levenshtein.distance, score_cutoff=limit)
        return match[0] if match else word

    def correct(self, text: str) -> str:
        return WORD.sub(lambda m: self.correct_word(m.group(0)), text)


def _canonical(role: str) -> str:
    role = expand_abbreviations(role).lower()
    if role.startswith("data scien"):
        return "data scientist"
    if "engineer" in role:
        return "ml engineer"
    return role


def roles_named(text: str) -> set[str]:
    """The roles a text names, each once whatever its spelling ("ML Engineers", "MLE")."""
    return {_canonical(r) for r in _roles(expand_abbreviations(text))}


def _roles(text: str) -> list[str]:
    return [m.group(0) for m in ROLE.finditer(text)]


def _asks_whole(body: str) -> bool:
    """A whole question of its own after a discourse word ("ok then what does an ML engineer
    do?"): a question word, more than a role and a pointing noun ("what about MLEs?" is not), and
    nothing that points back ("then what does the MLE do with that?" is a follow-up)."""
    return ASKS.match(body) is not None and len(words(body)) > 4 and not BACK_REFERENCE.search(body)


def resolve_follow_up(question: str, previous: str | None) -> str:
    """Rewrite a follow-up that only makes sense after ``previous`` into a self-contained question.

    A question that names its own subject is left alone, so a topic switch does not
    drag the old topic along.
    """
    if not previous:
        return question
    q = expand_abbreviations(question.strip())  # "and for ML eng?" names a role too
    if GROUP_REFERENCE.search(q):  # "why are these two jobs so popular?" names both
        return question
    roles = _roles(q)
    body = FOLLOW_UP_START.sub("", q).strip(" ,.?!")
    content = content_words(ROLE.sub(" ", COMPARING.sub(" ", body)))
    prev_roles = _roles(previous)

    if OTHER.search(q) and len(set(_canonical(r) for r in prev_roles)) == 1:
        # "and for the other role?": the previous question about the counterpart role
        other = COUNTERPART.get(_canonical(prev_roles[0]))
        if other:
            return ROLE.sub(other, previous)
    if BARE_FOLLOW_UP.match(q):  # "why?", "tell me more"
        return f"{previous.rstrip(' ?.!')} - {q}"
    starts_like_follow_up = FOLLOW_UP_START.match(q) is not None
    if (EXPLAINS.match(q) and not roles and set(content) - POINTING_NOUNS
            and not (PRONOUN.search(q) or THING.search(q) or BACK_REFERENCE.search(q))):
        # "can you explain how gradient descent works?": a subject of its own, not more of the last
        # answer (the roles borrowed from it would make the article seem to cover it).
        return question
    if (roles and not (set(content) - POINTING_NOUNS) and (starts_like_follow_up or len(words(q)) <= 4 or BACK_REFERENCE.search(q))
            and not _asks_whole(body)):
        # "and ML engineers?": the previous question, asked about the new role
        if prev_roles and len(set(r.lower() for r in prev_roles)) == 1:
            return ROLE.sub(roles[0], previous)
        return f"{previous.rstrip(' ?.!')} - {roles[0]}"
    if not roles and CHOOSER.search(q) and set(content) - POINTING_NOUNS:
        return question
    if not roles and (PRONOUN.search(q) or starts_like_follow_up or len(content) <= 1):
        # "what should they learn?", "how about output?": keep the previous subject
        subject = " and ".join(dict.fromkeys(prev_roles)) if prev_roles and not THING.search(q) else previous.rstrip(" ?.!")
        return f"{q.rstrip(' ?.!')} ({subject})?"
    return question

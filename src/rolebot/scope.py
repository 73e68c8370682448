"""What a document does not cover, beyond what its passages' similarity can tell: the topics
its front matter declares absent (`not_covered`), roles it never names, things it only lists
(never compared, never explained), lengths of time it never states. Each check reads the
learner's words against one document; confidence.py weighs the result against the evidence.
"""

from __future__ import annotations

import re

from .knowledge import LIST_ITEM
from .query import POINTING_NOUNS, ROLE, STATES_DURATION, STOPWORDS, asks_for_duration, content_words
from .query import words as all_words

# A role a question asks about: a word and a job title ("data engineer", "product managers").
ROLE_PHRASE = re.compile(r"\b([a-z][a-z-]+)\s+(engineer|scientist|analyst|manager|developer|researcher|architect|"
                         r"designer|consultant|administrator|specialist|statistician|programmer)(\w*)", re.I)
# Words before a job title that do not make it another role ("a senior engineer").
NOT_A_ROLE_WORD = STOPWORDS | {"senior", "junior", "lead", "principal", "staff", "good", "great", "new", "aspiring",
                               "future", "typical", "average", "experienced", "entry", "successful", "professional"}
# A question that weighs one thing against another.
WEIGHS = re.compile(r"\b(better|worse|easier|harder|best|than|versus|vs\.?|difference\s+between|differ|compared?|"
                    r"prefer\w*|first|pick|choose|which\s+(one|is|should))\b", re.I)
# English verbs whose past forms no stemmer brings back to them ("which is better paid?").
IRREGULAR = {"paid": "pay", "earnt": "earn", "spent": "spend", "bought": "buy", "sold": "sell", "taught": "teach",
             "thought": "think", "sought": "seek", "hired": "hire", "left": "leave", "got": "get", "gotten": "get",
             "made": "make", "won": "win", "lost": "lose", "met": "meet", "held": "hold", "kept": "keep"}
NEAR = 4  # words apart in the question: "power bi better than tableau"
MAX_SUFFIX_CHARS = 2  # "salaries" for "salary", "earns" for "earn"; not "marketing" for "market"
# Words of a not-covered entry that say how, not what ("how specific algorithms … work",
# "certifications and whether they are worth it"): "which MLOps tools specifically?" is not about
# algorithms. "much" ("how much each role earns") stays: held out, a "how much" turn is out of
# scope more often than not (docs/answer-quality.md, "What did not").
HEDGES = ("specific", "whether", "particular", "certain", "various", "worth")
# A question about how something works inside, and the words it says that with.
HOW_IT_WORKS = re.compile(r"\b(under\s+the\s+hood|internally|technically|mathematically|step[- ]by[- ]step|core\s+principles|"
                          r"how\s+(does|do|did)\s+(\S+\s+){1,4}?work|how\s+(\S+\s+){1,3}?works|teach\s+me|"
                          # "how do i detect it", "how is it measured": doing it, which a career article does not teach
                          r"how\s+(do|does|can|would|should|is|are)\s+(i|you|u|we|one|they|it|that|this)\s+(be\s+)?"
                          r"(detect|compute|measure|calculate|implement|install|train)\w*)\b", re.I)
# A quantity word and the thing it quantifies ("how much statistics").
QUANTIFIED = re.compile(r"\b(much|many)\s+([a-z][\w-]*)", re.I)
MECHANISM_WORDS = ("work", "works", "working", "internally", "technically", "hood", "step", "explain", "actually",
                   "exactly", "detail", "core", "principles", "mean", "means", "tell", "really", "mathematically",
                   "teach", "basics", "detect", "compute", "measure", "measured", "calculate", "implement", "install",
                   "train")


class Scope:
    """Per document: the words of its declared not-covered topics it never uses itself, the roles
    it names, whether it states a length of time; and the checks that read a question with them."""

    def __init__(self, retriever):
        self.retriever = retriever
        # Words of a document's declared not-covered topics that the document itself never uses:
        # a question using one ("salary", "analyst") asks about something it declares absent.
        # Per document, so another document that does use the word does not cancel the claim.
        stem = retriever.stem
        merged = retriever.manifest.get("not_covered", [])
        entries = {d["slug"]: d for d in retriever.manifest.get("documents", [])}
        own: dict[str, set[str]] = {}
        self._roles: dict[str, set[tuple[str, str]]] = {}  # (word, job title) pairs a document uses
        self._timed: set[str] = set()  # documents that state a length of time somewhere ("six months")
        for p in retriever.passages:
            text = f"{p.heading} {p.question} {p.text}"
            if STATES_DURATION.search(text):
                self._timed.add(p.doc)
            own.setdefault(p.doc, set()).update(stem(w) for w in content_words(text))
            # "software engineering" counts for "software engineer": any ending of the title
            self._roles.setdefault(p.doc, set()).update(_role_pair(m) for m in ROLE_PHRASE.finditer(text))
        hedges = {stem(w) for w in HEDGES}
        self.declared: dict[str, dict[str, set[str]]] = {}  # per document: stem -> the entries' word forms
        for doc, words in own.items():
            forms: dict[str, set[str]] = {}
            for w in content_words(" ".join(entries.get(doc, {}).get("not_covered", merged))):
                if stem(w) not in words and stem(w) not in hedges:
                    forms.setdefault(stem(w), set()).add(w.lower())
            self.declared[doc] = forms

    def _declares(self, word: str, doc: str) -> bool:
        """Whether a question's word is one of the document's declared not-covered words: the same
        stem, not grown by a suffix that makes another word ("marketing" is not "the job market",
        "demanding" is not "demand"; "salaries" is "salary"; "enroll" is "enrollment"). An
        irregular form counts as its verb ("better paid" is "pay")."""
        word = IRREGULAR.get(word.lower(), word)
        forms = self.declared.get(doc, {}).get(self.retriever.stem(word))
        return bool(forms) and min(len(word) - len(f) for f in forms) <= MAX_SUFFIX_CHARS

    def outside(self, asked: str, doc: str) -> tuple[bool, bool]:
        """(whether the question asks about something the document does not cover, whether that
        is all it asks). The second: "which role earns more, DS or MLE?" asks only "earns" once
        the roles and the comparison are set aside, and what matched it so well is those. A role
        the document never names counts so too: "what does a data engineer do and how is that
        different from an MLE?" finds the ML engineer, but the article has nothing on the other
        (blind dev sets: abstain recall +1 on four of them, nothing answered less)."""
        asked = QUANTIFIED.sub(lambda m: self._quantity(m, doc), asked)
        topical = [w for w in content_words(ROLE.sub(" ", asked)) if not WEIGHS.fullmatch(w) and w.lower() not in POINTING_NOUNS]
        only_declared = bool(topical) and all(self._declares(w, doc) for w in topical)
        other_role = self._other_role(asked, doc)
        outside = (any(self._declares(w, doc) for w in content_words(asked))
                   or other_role or self._never_compared(asked, doc)
                   # "how long does the switch take?" of a document that states no length of time
                   or asks_for_duration(asked) and doc not in self._timed
                   or self._never_explained(asked, doc))
        return outside, only_declared or other_role

    def _quantity(self, m: re.Match, doc: str) -> str:
        """ "much" of a not-covered entry ("how much each role earns") asks the amount of whatever
        follows it: of pay in "how much do they make?", of something the document covers in "how
        much statistics does an ML engineer need?", where it is not the uncovered topic."""
        thing = m.group(2)
        if thing.lower() not in STOPWORDS and self.retriever.knows(thing) and not self._declares(thing, doc):
            return thing
        return m.group(0)

    def _other_role(self, question: str, doc: str) -> bool:
        """A question about a role the document never names ("what does a data engineer do?"):
        it counts like a declared not-covered word. A role the document compares does not."""
        named = [m.span() for m in ROLE.finditer(question)]
        known = self._roles.get(doc, set())
        for m in ROLE_PHRASE.finditer(question):
            if m.group(3).lower() not in ("", "s") or m.group(1).lower() in NOT_A_ROLE_WORD:
                continue
            if not any(a < m.end() and m.start() < b for a, b in named) and _role_pair(m) not in known:
                return True
        return False

    def _never_compared(self, question: str, doc: str) -> bool:
        """A question that weighs two things the document only ever lists side by side ("is
        PyTorch better than TensorFlow?" of an article whose every mention is "TensorFlow /
        PyTorch"): it finds them, but nothing there tells them apart. Or two things the knowledge
        never names at all, set directly against each other ("REST or gRPC, which is better for
        serving models?"): the rest of the question can find a passage all the same."""
        if not WEIGHS.search(question):
            return False
        asked = [self.retriever.stem(w) for w in all_words(ROLE.sub(" ", question))]
        rare = self.retriever.word_lines.rare(doc)
        for i, a in enumerate(asked):
            for n, b in enumerate(asked[i + 1 : i + 1 + NEAR], i + 1):
                if a == b or a in STOPWORDS or b in STOPWORDS or not _weighed(asked, i, n):
                    continue
                if n == i + 2 and asked[i + 1] in ("or", "vs", "versus") and min(len(a), len(b)) > 2 and not (
                        self.retriever.knows_stem(a) or self.retriever.knows_stem(b)):
                    return True  # "REST or gRPC?": two things the knowledge never names
                at = [rare[w] for w in (a, b) if w in rare]
                if not at:
                    continue
                if all(_side_by_side(self.retriever.word_lines.line(*where), a, b) for where in min(at, key=len)):
                    return True
        return False

    def _never_explained(self, question: str, doc: str) -> bool:
        """A question asking how something works inside ("how does Kubernetes autoscaling work
        under the hood?", "what does drift mean, technically?") about things the document only
        names in its lists ("- Monitoring models for drift and failures"), or never names at all:
        nothing there explains them."""
        if not HOW_IT_WORKS.search(question):
            return False
        lines = self.retriever.word_lines
        rare = lines.rare(doc)
        # The things asked about: words the knowledge never uses, or names only a few lines use
        # ("python", "models" are subjects of the whole article, not the thing asked about).
        things = {w for w in (self.retriever.stem(w) for w in content_words(ROLE.sub(" ", question))
                              if w.lower() not in POINTING_NOUNS and w.lower() not in MECHANISM_WORDS)
                  if w in rare or not self.retriever.knows_stem(w)}
        if not things:
            return False
        for w in things & rare.keys():
            for at in rare[w]:
                text = lines.text(*at)
                if not LIST_ITEM.match(text) and not _enumerated(text, w, self.retriever.stem):
                    return False  # a sentence of the document says something about it
        return True


def _weighed(asked: list[str], i: int, n: int) -> bool:
    """Whether the question sets its i-th word against its n-th: "X vs Y", "X better than Y",
    "X or Y", "between X and Y" (not "math and analysis" or "coding experience")."""
    between = set(asked[i + 1 : n])
    return bool(between & {"vs", "versus", "than", "or"}) or ("and" in between and "between" in asked[max(0, i - 2) : i])


# What separates the names of a list written inside a sentence.
NAME_LIST_SPLIT = re.compile(r"[,;:()/]|\b(?:and|or|such\s+as|like|including)\b", re.I)
MAX_NAME_WORDS = 3


def _enumerated(text: str, stem: str, stemmer) -> bool:
    """Whether a sentence names the word only as one of a list of names ("tools such as Docker,
    Kubernetes, and cloud platforms", "projects like customer segmentation, forecasting, and
    predictive analytics"): each place it stands is a short piece between commas or "and"."""
    found = False
    for piece in NAME_LIST_SPLIT.split(text):
        named = [w.lower() for w in re.findall(r"[A-Za-z][\w+#-]*", piece)]
        if any(stemmer(w) == stem for w in named):
            found = True
            if len(named) > MAX_NAME_WORDS:
                return False
    return found


def _side_by_side(line: list[str], a: str, b: str) -> bool:
    """Whether a line names a and b as items of one list ("TensorFlow / PyTorch", "MLflow, Airflow")."""
    at_a = [i for i, w in enumerate(line) if w == a]
    at_b = [i for i, w in enumerate(line) if w == b]
    return any(0 < abs(i - j) <= 3 and all(w in ("and", "or") or w not in STOPWORDS for w in line[min(i, j) + 1 : max(i, j)])
               for i in at_a for j in at_b)


def _role_pair(m: re.Match) -> tuple[str, str]:
    return m.group(1).lower(), m.group(2).lower()

"""Questions about the page itself — its author, date, title, source, what it covers — answered
from the knowledge file's front matter (as the manifest records it) and cited to the document.

Recognised by how people ask about any article ("who wrote this?", "how recent is it?"), before
follow-up rewriting, so "who's the author?" mid-conversation is never read as being about the
previous topic.
"""

from __future__ import annotations

import functools
import re

from rapidfuzz import process
from rapidfuzz.distance import OSA

from .knowledge import CONCLUSION, SENTENCE_END
from .query import STOPWORDS, expand_abbreviations
from .records import Answer, Hit

_PAGE = (r"((this|the|that|your|ur)\s+((whole|entire|full)\s+)?((blog|web)\s+)?(article|page|post|blog|text|piece|guide|document|doc|"
         r"content|write-?up|info|information|source)|the\s+(whole|entire)\s+thing)")
# Who may stand behind a page: "which company published this?", "the organisation behind this post".
_PUBLISHER = r"(company|companies|organi[sz]ations?|org|publisher|firm|brand|team|site|website|blog)"
PATTERNS = {
    "author": re.compile(
        r"\bwho\s*('?s|is|was)?\s*(the\s+)?(author|writer)\b|\bauthor\b|\bwriter\b|\bwritten\s+by\b|\bwho\s+(wrote|writes|authored|"
        r"published|made|created|penned)\s+(this|it|" + _PAGE + r")\b|\bwho\s+(is|was)\s+(behind|responsible for)\s+(this|it)\b|"
        r"\bwho\s+(wrote|published|made|created)\s*\??$|\bwhose\s+" + _PAGE + r"|"
        r"\bwho\s+(actually|really|originally)\s+(wrote|published|made|created)\b|\bwho\s*('?s|is|was)\s+" + _PAGE + r"\s+(written\s+)?by\b|\bwho\s+(updated|edited|maintains)\s+(this|it|" + _PAGE + r")\b|\bby\s+whom\b|\bpublisher\b|"
        r"\b(which|what)\s+" + _PUBLISHER + r"\s+(published|wrote|made|created|owns|posted|is\s+behind|was\s+behind)\s+(this|it|the)\b|"
        r"\b" + _PUBLISHER + r"\s+(is\s+|was\s+)?behind\s+" + _PAGE, re.I),
    "date": re.compile(
        r"\b(when|what\s+date|which\s+date|what\s+year)\b.*\b(written|published|updated|posted|released|created|made|date[d]?)\b|"
        r"\bhow\s+(old|recent|new|current|up[- ]to[- ]date|fresh|outdated|dated)\s+(is|was)\s+(this|it|the)\b|"
        r"\b(last|latest)\s+(updated|update|revised|revision)\b|\b(what|which)\s+year\b.*\b(article|page|post|this|it)\b|"
        r"\bthe\s+date\s+(this|the)\s+(article|page|post|blog)\b|\b(publication|publish(ed)?|update|updated|release)\s+date\b|"
        r"\b(is|was)\s+(this|it|the)(\s+(article|page|post|blog|info|information|guide))?\s+(recent|current|up[- ]to[- ]date|new|old|outdated|dated|still\s+(valid|relevant|current))\b|"
        r"\bdate\b.*\b(this|the)\s+(article|page|post|blog)\s+(was|is|got)\s+(written|published|updated|posted|released)\b|"
        r"\bdate\s+(of|on)\s+" + _PAGE + r"|\bwhen\s+(was|is)\s+" + _PAGE + r"\b|"
        r"\b(what|which)\s+date\s+(is|was)\s+(on|in|for)\s+" + _PAGE + r"\b|\b" + _PAGE + r"('?s|\s+is)?\s+date\b", re.I),
    "title": re.compile(r"(?<!job )(?<!role )(?<!position )\b(title|titled|headline)\b|\bheading\s+of\s+" + _PAGE + r"|\b(article|page|post)('?s)?\s+name\b|\bwhat('?s|\s+is)\s+" + _PAGE + r"\s+(called|named)\b|\bname\s+of\s+" + _PAGE, re.I),
    "source": re.compile(
        r"\b(url|link|web\s*site|website)\b.*\b(article|page|post|this|it|source|original)\b|\bwhere(\s*'s|\s+(is|does|did|was|can\s+i\s+(find|read)))\s+"
        r"(this|it|the\s+(article|page|info|information|text))\b.*\b(from|come|published|originally|original|find|read)\b|"
        r"\b(original\s+(article|page|post|source|link|url)|sources?\s+(of|for)\s+" + _PAGE + r"|which\s+(site|website|blog))\b|"
        r"\bsource\s*(url|link)\b|\b(what|which)\s+(blog|site|website|magazine|publication|platform)\s+(is|was)\s+(this|it)\b|"
        r"\bis\s+(this|it)(\s+(article|page|post))?\s+from\s+(a\s+|an\s+|some\s+|which\s+|what\s+)?(\w+\s+)?(blog|site|website|magazine|publication|newspaper|platform|medium)\b|"
        r"\bwhere\s+can\s+i\s+(read|find|see)\s+(the|this)\s+((full|whole|original|complete)\s+)?(article|page|post)\b|"
        r"\bwhat('?s|\s+is)\s+(the|your)\s+source\s*\??$|\boriginal\s+(version|copy)\s+of\s+" + _PAGE + r"|"
        r"\bfrom\s+(which|what)\s+(site|website|blog|platform|publication|source)\b|"
        r"\b(which|what)\s+(blog|site|website|platform|publication)\s+(did|does|is|was)\s+(this|it)\s+(come|taken|from|published|posted)\b|"
        r"\b(on|in)\s+(which|what)\s+(platform|site|website|blog)\b.*\b(published|posted|originally|appeared)\b", re.I),
    "about": re.compile(
        r"\bwhat('?s|\s+is|\s+does)\s+" + _PAGE + r"\s+(all\s+)?(about|cover|covering|discuss|talk\s+about|say)\s*\??$|"
        r"\bwhat\s+(is|are)\s+(the\s+)?(topics?|subject|main\s+points?|sections?|contents?)\s+(of|in|covered\s+(by|in))\s+" + _PAGE + r"|"
        r"\b(summari[sz]e|summary\s+of|overview\s+of|tl;?dr)\s+" + _PAGE + r"|\bwhat\s+(topics|things)\s+(does|do)\s+(it|this|you|" + _PAGE + r")\s+cover\b|"
        r"\bwhat\s+(is|are)\s+(this|it)\s+(about|covering)(\s+(basically|exactly|really|again|then))?\s*\??$|\b(topic|subject|theme)\s+of\s+" + _PAGE + r"|"
        r"\b(topics?|sections?|subjects?)\s+((are|is)\s+)?(in|of|covered\s+(in|by))\s+" + _PAGE + r"|"
        r"\b(which|what)\s+(articles?|pages?|documents?)\s+(do|can)\s+(you|u)\s+(know|answer|cover|talk)|\bwhat\s+am\s+i\s+reading\b|\bwhat\s+does\s+it\s+cover\b|"
        r"\b(is|does)\s+" + _PAGE + r"\s+compar\w*|\bwhat\s+(does|is)\s+" + _PAGE + r"\s+compar\w*|"
        # "whats this post about in short", "what the article talks about", "the general idea of this post"
        r"\bwhat('?s|\s+is)\s+" + _PAGE + r"\s+(all\s+)?about\b|\bwhat\s+" + _PAGE + r"\s+(talks|is|was)\s+about\b|"
        r"\b(summary|overview|gist)\s+of\s+what\s+" + _PAGE + r"|\btl;?\s?dr\s+(of|for)\s+" + _PAGE + r"|"
        r"\b(which|what)\s+(subjects?|topics?|themes?)\s+(does\s+|do\s+)?" + _PAGE + r"\b|"
        r"\b(general|main|overall|basic)\s+(idea|point|gist|message)\s+of\s+" + _PAGE, re.I),
}
ORDER = ("author", "date", "title", "source", "about")
# A title of a job, not of the page: "what does that title mean on linkedin job posts?", "is ML
# engineer a senior title?". Such a question is about the page's title only if it names the page.
PAGE_WORD = re.compile(r"\b(article|page|blog|document|guide|write-?up)\b", re.I)
# The date of something else: "when is the next exam date for this course?", "what's the start date?".
OTHER_DATE = re.compile(r"\b(?!(?:publication|publish|published|publishing|update|updated|release|post|posted|posting|"
                        r"article|page|blog|last|latest|the|its|this|that|a|an|what|which|whats|what's|of|on|is|to|up|current|"
                        r"creation|created|written|writing|original)\b)"
                        r"[a-z]+\s+dates?\b", re.I)
# The author or title of something else: "the author of pandas", "the title of a data
# scientist's main report". The page's own is asked of the page, or of nothing named.
OF_SOMETHING_ELSE = re.compile(r"\b(author|writer|title|heading|publisher)\s+of\s+(?!(this|it|that|" + _PAGE + r")\b)"
                               r"(an?\s+|the\s+)?[a-z]", re.I)
JOB_TITLE = re.compile(r"\b(jobs?|postings?|posts\s+on|linkedin|resumes?|cvs?|careers?|positions?|roles?|hiring|recruiters?|"
                       r"companies|employers?|seniority|senior|junior|promoted|promotion)\b", re.I)

# Code pasted in a message ("my pandas code throws KeyError: 'date' when i do df['date']"): asks
# for programming help, never for the page's date or title, whatever words the code holds.
CODE = re.compile(r"\w\[|\w\([^)\s]*\)|\b[A-Z]\w*(Error|Exception)\b|`|==|\bTraceback\b")
# "is this a knowledgehut post?", "was it by <author>?", "did <author> write this?": the page's own
# author or publisher, named by the learner (publisher_names reads them from the front matter).
ASKS_OF_PAGE = re.compile(r"^\W*((so|and|ok|okay|but|also|wait)\W+)*(is|was)\s+(this|it|the\s+(article|page|post|blog))\b|"
                          r"\bdid\s+\w+\s+(write|publish|post|make|put\s+out)\s+(this|it)\b", re.I)
AUTHORSHIP = re.compile(r"\b(write|wrote|written|writes|author|authored|by)\b", re.I)
GENERIC_SOURCE_WORDS = {"blog", "page", "site", "website", "capture", "post", "article", "magazine", "newsletter"}


def publisher_names(docs: list[dict]) -> set[str]:
    """The words that name who wrote or published the documents: the author's, and the first
    word of the source line, where a publication names itself ("KnowledgeHut blog (page capture
    …)" → knowledgehut; the rest of that line is description: "Acme Learning blog")."""
    names = set()
    for doc in docs:
        names |= {w.lower() for w in _WORD.findall(doc.get("author", "")) if len(w) > 2}
        names |= {w.lower() for w in _WORD.findall(doc.get("source", ""))[:1] if len(w) > 2}
    return names - STOPWORDS - GENERIC_SOURCE_WORDS


def names_the_publisher(text: str, names: set[str]) -> str | None:
    """"author" or "source" when a question asks whether the page is by someone it names, and
    that someone is the page's own author or publisher; else None."""
    if not names or not ASKS_OF_PAGE.search(text) or not names & {w.lower() for w in _WORD.findall(text)}:
        return None
    return "author" if AUTHORSHIP.search(text) else "source"


# How much of the conclusion "what is this article about?" quotes after the sections it covers:
# two sentences of a typical one, so the whole answer stays near 600 characters.
GIST_CHARS = 260


# The words these patterns are written with, as learners misspell them ("who is the writter of
# this artcile?", "wen was this post publishd?"): one slip of the keys, or two swapped letters.
FACT_WORDS = ("author", "writer", "written", "wrote", "published", "publish", "publisher", "article", "title", "titled",
              "which", "where", "when", "website", "source", "summary", "topics", "platform", "original", "organisation",
              "organization", "company", "about", "cover", "heading")
SPOKEN = {"dis": "this", "da": "the", "wen": "when", "wat": "what", "wut": "what", "abt": "about", "bout": "about"}
_WORD = re.compile(r"[A-Za-z]+")
INFLECTION = re.compile(r"(e?s|ed|er|ers|ing)$")


def _respelled(text: str) -> str:
    def fix(m: re.Match) -> str:
        word = m.group(0)
        low = word.lower()
        if low in SPOKEN:
            return SPOKEN[low]
        if len(low) < 4 or low in FACT_WORDS or low in STOPWORDS:  # "there" is not "where"
            return word
        match = process.extractOne(low, FACT_WORDS, scorer=OSA.distance, score_cutoff=1)
        if (not match or abs(len(match[0]) - len(low)) > 1 or match[0].startswith(low) or low.startswith(match[0])
                or _base(low) == _base(match[0])):
            return word  # "write" and "writes" are words of their own, not slips for "writer"
        return match[0]
    return _WORD.sub(fix, text)


# Right after a question about the page, a bare "when?", "and who?", "where from?" asks the
# same of it: its date, its author, its source.
ELLIPSIS = re.compile(r"^\W*(?:(?:and|so|ok|okay|also)\W+)?(?P<asked>when|what\s+year|what\s+date|who|by\s+whom|where|"
                      r"where\s+from|from\s+where|which\s+(?:company|site|website|blog)|what\s+(?:company|site|website|blog))"
                      r"(?:\W+(?:then|too|exactly|though|tho|again))?\W*$", re.I)
ELLIPSIS_KINDS = {"when": "date", "what year": "date", "what date": "date", "who": "author", "by whom": "author",
                  "where": "source", "where from": "source", "from where": "source"}


# Right after one, "it" is the page: "what's it about in a sentence?", "and what does it cover?".
ABOUT_IT = re.compile(r"^\W*(?:(?:and|so|ok|okay|also)\W+)?(?:what(?:'?s|\s+is)\s+it\s+(?:all\s+|mainly\s+|mostly\s+)?about|"
                      r"what\s+does\s+it\s+(?:cover|say|talk\s+about|discuss))"
                      r"(?:\W+(?:in\s+(?:a|one|1)\s+(?:sentence|line|word)|briefly|in\s+short|then|though|tho))?\W*$", re.I)


def fact_ellipsis(text: str) -> str | None:
    """The page fact a bare "when?" or "who?" asks for, said right after a question about the page."""
    if ABOUT_IT.match(text):
        return "about"
    m = ELLIPSIS.match(text)
    if not m:
        return None
    asked = " ".join(m["asked"].lower().split())
    return ELLIPSIS_KINDS.get(asked) or ("author" if asked.split()[-1] == "company" else "source")


def _base(word: str) -> str:
    """A word without its inflection ("writes", "writer" -> "writ")."""
    return INFLECTION.sub("", word)


@functools.lru_cache(maxsize=4096)
def fact_kind(text: str) -> str | None:
    """Which fact about the page a question asks for, or None. Kept per text: every turn reads the
    whole history again, and the misspelling check costs ~0.1 ms a message."""
    if CODE.search(text):
        return None
    text = _respelled(expand_abbreviations(text))  # "wat topics does this page cover", "autor of the article?"
    for kind in ORDER:
        if PATTERNS[kind].search(text):
            if kind == "title" and JOB_TITLE.search(text) and not PAGE_WORD.search(text):
                continue
            if kind == "date" and OTHER_DATE.search(text) and not PAGE_WORD.search(text):
                continue
            if kind in ("author", "title") and OF_SOMETHING_ELSE.search(text) and not PAGE_WORD.search(text):
                continue
            return kind
    return None


def _when(doc: dict) -> str:
    return f"updated {doc['updated']}" if doc.get("updated") else "no date given"


def fact_answer(kind: str, docs: list[dict], gist: Hit | None = None) -> Answer:
    """The answer from each document's front matter (several documents: each says its own).
    ``gist``: for what one document is about, the start of its own conclusion, quoted after."""
    lines, citations = [], []
    for n, doc in enumerate(docs, 1):
        title = f"**{doc['title']}**"
        author = doc.get("author")
        if kind == "author":
            line = f"{title} is by {author}." if author else f"{title} does not name its author."
        elif kind == "date":
            line = f"{title} was last updated on {doc['updated']}." if doc.get("updated") else f"{title} gives no date."
        elif kind == "title":
            line = f"The article is titled {title}" + (f", by {author}." if author else ".")
        elif kind == "source":
            where = doc.get("url") or doc.get("source")
            line = f"{title} comes from {where}." if where else f"{title} does not say where it was published."
        else:
            sections = [s for s in doc.get("sections", []) if not CONCLUSION.match(s) and s.lower() not in ("introduction", "intro")]
            byline = ", ".join(x for x in (author and f"by {author}", doc.get("updated") and _when(doc)) if x)
            line = f"This is {title}" + (f" ({byline})" if byline else "") + "."
            if sections:
                line += " It covers: " + "; ".join(sections) + "."
        lines.append(f"{line} [{n}]")
        facts = [f"Title: {doc['title']}"] + [f"{k.capitalize()}: {doc[k]}" for k in ("author", "updated", "source", "url") if doc.get(k)]
        citations.append(Hit(id=f"{doc['slug']}/about", text="\n".join(facts), score=1.0, section="About this article",
                             source=doc.get("file", doc["slug"] + ".md"), kind="document", document=doc["title"],
                             url=doc.get("url", "")))
    if kind == "about" and gist is not None and len(docs) == 1:
        lines.append(f"In short: {_first_sentences(gist.text, GIST_CHARS)} [{len(citations) + 1}]")
        citations.append(gist)
    return Answer(text="\n\n".join(lines), citations=citations, kind="answer", confidence=1.0)


def _first_sentences(text: str, limit: int) -> str:
    """As many whole sentences of the text's first paragraph as fit in ``limit`` (at least one)."""
    sentences = SENTENCE_END.split(text.split("\n\n")[0].strip())
    out = sentences[:1]
    for sentence in sentences[1:]:
        if len(" ".join(out + [sentence])) > limit:
            break
        out.append(sentence)
    return " ".join(out)

"""Captured course pages → knowledge Markdown in the shape knowledge.py chunks.

The output is always front matter, one H1, ``##`` sections, ``###`` sub-sections and an
FAQ section of ``### question?`` headings: the chunker turns exactly that structure into
passages and FAQ pairs. HTML goes through trafilatura; Markdown is only tidied.

A plain-text capture ("select all, copy" in a browser) has no markup, so the article is
found from the shape of its lines rather than from any site's wording: prose is long
lines with sentence punctuation; menus are short title-case lines, course cards and
glued link text; the article starts after a title + byline (or just before the first
prose) and ends at the first author blurb, form or "related posts" list.
"""

from __future__ import annotations

import re
from datetime import datetime
from itertools import groupby
from pathlib import Path

from .errors import KnowledgeError
from .knowledge import (FAQ_HEADING, HEADING, LIST_ITEM, NUMBERING, SENTENCE_END,
                        parse_front_matter, slugify)

KINDS = {".html": "html", ".htm": "html", ".txt": "text", ".md": "markdown", ".markdown": "markdown"}
NO_BODY = ("no article body found: the page has no paragraphs of prose, only menus, cards or "
           "forms; capture the whole page including the article text (or save it as .html)")
BULLET = re.compile(r"^\s*[-*+•·▪●◦‣–]\s+")
SENTENCE_LIKE_END = re.compile(r"[\w)\]%\"”’][.!?][\"”’)]*$")
PROSE_PUNCT = re.compile(r"[\w)\"”’][.!?][\"”’)]*(?:\s|$)")
EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1|(?<![\w*])\*(?!\s)([^*\n]+?)(?<!\s)\*(?![\w*])")
SMALL_WORDS = {"a", "an", "and", "as", "at", "but", "by", "for", "from", "in", "into", "of",
               "on", "or", "the", "to", "vs", "vs.", "via", "with"}
# Case matters for "By Name" (so "By submitting, I accept…" is no byline); not for the rest.
META = re.compile(r"^(?:[Bb]y\s+[A-Z]|(?i:written by|(?:last )?updated|posted|published)(?:\s+on)?:?\s+"
                  r"(?:[A-Z0-9]|by\s)|(?i:share\b|reading time|\d+\s*min(?:ute)?s?\s+read))")
AUTHOR = re.compile(r"\b[Bb]y\s+([A-Z][\w.'’-]*(?:\s+[A-Z][\w.'’-]*)*)")
CHROME = re.compile(
    r"course icon|^•?\s*\d+\+?\s*(?:hours?|weeks?|months?|days?|mins?)$|"
    r"^(?:best ?seller|trending|new|recommended|popular|hot|sale|share:?|skip to (?:main )?content|"
    r"accept(?: all)?(?: cookies)?)$", re.I)
FOOTER = re.compile(
    r"^(?:\d[\d,.]*k?\s+(?:articles?|posts?|stories)\s+published|get (?:a )?free consultation|"
    r"by submitting\b|related (?:posts|articles|reading|stories|courses|blogs?)|"
    r"you (?:may|might) also (?:like|enjoy)|read next|subscribe\b|sign up for\b|"
    r"join (?:our|the) newsletter|(?:our )?newsletter\b|leave a (?:reply|comment)|"
    r"\d*\s*comments?$|about the author|share this|tags?:|©|copyright\b|all rights reserved)", re.I)
FAQ_ONLY = re.compile(r"(?:frequently asked questions|faqs?)(?:\s*\(faqs?\))?:?", re.I)
GENERIC_STEMS = {"index", "page", "article", "post", "untitled", "download", "capture", "section"}


def to_markdown(source: Path, title: str | None = None, url: str | None = None) -> tuple[str, str]:
    """Return (slug, markdown_text) for an HTML file (.html/.htm), a plain-text page capture (.txt) or a Markdown file (.md).

    ``title`` and ``url`` override what the page declares. The slug comes from the file
    name up to its first dot (``x.page.txt`` gives ``x``), because the user chose it; the
    title is used only when the name is generic (``index.html``, ``123.txt``).
    Raises KnowledgeError for an unsupported extension, an unreadable or non-UTF-8 file,
    or a page without an article body.
    """
    path = Path(source)
    kind = KINDS.get(path.suffix.lower())
    if kind is None:
        raise KnowledgeError(f"unsupported file type {path.suffix or '(none)'!r}: give an "
                             ".html/.htm page, a .txt page capture or a .md file", path)
    text = _read(path)
    meta, body = {"html": _from_html, "text": _from_text, "markdown": _from_markdown}[kind](text, path)
    meta.update({k: v for k, v in (("title", title), ("url", url)) if v})
    stem = path.name.split(".")[0]
    meta["title"] = " ".join((meta.get("title") or stem.replace("-", " ").replace("_", " ").capitalize()).split())
    slug = slugify(stem)
    if slug in GENERIC_STEMS or slug.isdigit():
        slug = slugify(meta["title"])
    return slug, _render(meta, body)


MAX_PAGE_BYTES = 5 * 1024 * 1024  # an article page is well under 1 MB; more is not one article


def _read(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_PAGE_BYTES:
            raise KnowledgeError(f"the file is larger than {MAX_PAGE_BYTES // (1024 * 1024)} MB: save only the "
                                 "article's page (or split it) and add that", path)
        data = path.read_bytes()
    except OSError as exc:
        raise KnowledgeError(f"cannot read the file ({exc.strerror or exc}); check the path "
                             "and permissions", path) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise KnowledgeError(f"not UTF-8 text (byte {exc.start}); save the page as UTF-8 "
                             "and try again", path, line) from None
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\u200b", "")


def _render(meta: dict, body: list[str]) -> str:
    # parse_front_matter strips quotes from both ends, so a straight quote at the edge of
    # the title would be eaten: write a typographic one instead.
    title = meta["title"]
    lines = ["---", 'title: "' + title.replace('"', "”") + '"']
    lines += [f"{k}: {' '.join(str(v).split())}" for k, v in meta.items() if k != "title" and v]
    lines += ["---", "", f"# {title}", "", "\n".join(s.rstrip() for s in body).strip("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)) + "\n"


# --- the shape of a line ----------------------------------------------------------------


def _is_prose(s: str) -> bool:
    words = s.split()
    # Menus and card titles are Title Case throughout; prose is mostly lower-case words.
    return (len(words) >= 8 and PROSE_PUNCT.search(s) is not None
            and sum(w[0].islower() for w in words) >= 0.3 * len(words))


def _is_chrome(s: str) -> bool:
    glued = len(re.findall(r"[a-z][A-Z]", s))  # "ScrumMasterProduct Owner…": link texts run together
    return bool(CHROME.search(s)) or (len(s) > 150 and glued >= 5 and not PROSE_PUNCT.search(s))


def _is_meta(s: str) -> bool:
    return len(s.split()) <= 15 and META.match(s.strip()) is not None


def _is_title_like(s: str) -> bool:
    return 0 < len(s.split()) <= 25 and s[-1] not in ".,;:" and not _is_chrome(s) and not _is_meta(s)


def _is_question(s: str, max_words: int = 30) -> bool:
    return s.endswith("?") and len(s.split()) <= max_words and len(SENTENCE_END.split(s)) == 1


def _heading_like(s: str) -> bool:
    words = s.split()
    if not words or len(words) > 14 or len(s) > 110 or s[-1] in ".,;:!" or s[0] in "(\"“":
        return False
    if s.endswith("?"):
        return _is_question(s)
    significant = [w for w in NUMBERING.sub("", s).split() if w[0].isalpha() and w.lower() not in SMALL_WORDS]
    capitals = sum(w[0].isupper() for w in significant)
    # Sentence-case headings are only trusted when short and free of list punctuation,
    # so "ML Engineer: Deployment, scaling, and system design" stays a paragraph.
    return bool(significant) and (capitals >= 0.75 * len(significant)
                                  or (len(words) <= 6 and not re.search(r"[,:;]", s)))


def _parse_date(s: str) -> str | None:
    """First date in ``s`` as YYYY-MM-DD: 2026-04-07, Apr 07, 2026, April 7 2026, 7 April 2026."""
    for m in re.finditer(r"\b(?:(\d{4})-(\d{2})-(\d{2})|([A-Z][a-z]{2,8})\.? (\d{1,2}),? (\d{4})|"
                         r"(\d{1,2}) ([A-Z][a-z]{2,8})\.?,? (\d{4}))(?!\d)", s):
        ymd = m.group(1, 2, 3) if m[1] else m.group(6, 4, 5) if m[4] else m.group(9, 8, 7)
        for fmt in ("%Y %m %d", "%Y %b %d", "%Y %B %d"):
            try:
                return datetime.strptime(" ".join(ymd), fmt).strftime("%Y-%m-%d")
            except ValueError:
                pass
    return None


# --- plain-text captures ----------------------------------------------------------------


def _from_text(text: str, path: Path) -> tuple[dict, list[str]]:
    lines = [" ".join(line.split()) for line in text.split("\n")]
    title_at, start, byline = _locate_article(lines, path)
    body = [s for s in _drop_nav_runs(lines[start:_locate_end(lines, start)]) if not _is_chrome(s)]
    if not any(_is_prose(s) for s in body):
        raise KnowledgeError(NO_BODY, path)
    author = next((m.group(1).rstrip(".") for s in byline if (m := AUTHOR.search(s))), None)
    return ({"title": lines[title_at] if title_at is not None else None, "author": author,
            "updated": next((d for s in byline if (d := _parse_date(s))), None),
            "source": f"{author} (page capture {path.name})" if author else f"page capture {path.name}"},
            _text_blocks(body))


def _locate_article(lines: list[str], path: Path) -> tuple[int | None, int, list[str]]:
    """Return (title line, first body line, byline lines)."""
    filled = [i for i, s in enumerate(lines) if s]
    # Best anchor: a title-like line, then a run of byline lines, then the article.
    for pos in range(1, len(filled)):
        if not _is_meta(lines[filled[pos]]) or not _is_title_like(lines[filled[pos - 1]]):
            continue
        after = pos
        while after < len(filled) and _is_meta(lines[filled[after]]):
            after += 1
        if after < len(filled) and (_is_prose(lines[filled[after]]) or _heading_like(lines[filled[after]])):
            return filled[pos - 1], filled[after], [lines[filled[k]] for k in range(pos, after)]
    # Otherwise the article starts at the first prose paragraph, titled by the line above it.
    first = next((k for k, i in enumerate(filled) if _is_prose(lines[i]) and not _is_chrome(lines[i])), None)
    if first is None:
        raise KnowledgeError(NO_BODY, path)
    if first and _is_title_like(lines[filled[first - 1]]):
        return filled[first - 1], filled[first], []
    return None, filled[first], []


def _locate_end(lines: list[str], start: int) -> int:
    end = next((i for i in range(start, len(lines))
                if lines[i] and len(lines[i].split()) <= 12 and FOOTER.match(lines[i])), len(lines))
    # The author's name sits just above the blurb ("KnowledgeHut ." over "396 articles
    # published"): a short line that is no sentence at the very end belongs to the footer.
    while end > start and (not lines[end - 1] or (
            not BULLET.match(lines[end - 1]) and len(lines[end - 1].split()) <= 6
            and not SENTENCE_LIKE_END.search(lines[end - 1]))):
        end -= 1
    return end


def _drop_nav_runs(lines: list[str]) -> list[str]:
    """Drop runs of 4+ adjacent short non-sentences (menus, tag clouds) left in the body."""
    def navish(s: str) -> bool:
        return bool(s) and not BULLET.match(s) and len(s.split()) <= 6 and s[-1] not in ".!?:"
    runs = [list(run) for _, run in groupby(lines, key=navish)]
    return [s for run in runs if len(run) < 4 or not navish(run[0]) for s in run]


def _text_blocks(lines: list[str]) -> list[str]:
    """Give the body's lines Markdown structure; levels come from the shape around them."""
    items = []  # (kind, text): kind "item" is a bullet or numbered list item, else "text"
    for k, s in enumerate(lines):
        numbered_run = any(0 <= j < len(lines) and NUMBERING.match(lines[j]) for j in (k - 1, k + 1))
        if BULLET.match(s):
            items.append(("item", "- " + BULLET.sub("", s)))
        elif NUMBERING.match(s) and (numbered_run or not _heading_like(s)):
            items.append(("item", s))
        elif s:
            items.append(("text", s))

    out: list[str] = []
    level = 0  # level of the open heading; 0 = intro
    numbered = False  # the open ### is a "N. " item: its own list titles become lead-ins
    list_sub = False  # the open ### titles a list directly ("Key Responsibilities")
    faq = joinable = False
    for k, (kind, s) in enumerate(items):
        nxt = items[k + 1] if k + 1 < len(items) else None
        if kind == "item":
            out += [s] if joinable else ["", s]
            joinable = True
            continue
        joinable = False
        if faq and nxt and _is_question(s):
            out += ["", f"### {s}", ""]
        elif not (nxt and _heading_like(s)):
            out += ["", s]
            joinable = s.endswith(":")
        elif nxt[0] == "item" and level == 3 and numbered:
            out += ["", s]  # a list's title inside a numbered sub-section is its lead-in line
            joinable = True
        else:
            if FAQ_HEADING.match(s):
                level, faq, numbered, list_sub = 2, True, False, False
                s = "Frequently Asked Questions" if FAQ_ONLY.fullmatch(s) else s
            elif NUMBERING.match(s) and level >= 2:
                level, numbered, list_sub = 3, True, False
            elif nxt[0] == "item" and level >= 2:
                level, numbered, list_sub = 3, False, True
            elif level == 3 and list_sub and items[k - 1][0] == "item":
                list_sub = False  # "Real-World Example" right after "Key Responsibilities"' list
            else:
                level, faq, numbered, list_sub = 2, False, False, False
            out += ["", "#" * level + " " + s, ""]
    return out


# --- HTML and Markdown ------------------------------------------------------------------


def _from_html(text: str, path: Path) -> tuple[dict, list[str]]:
    try:
        import trafilatura
    except ImportError:
        raise KnowledgeError("reading HTML needs the 'trafilatura' package: "
                             "pip install trafilatura lxml_html_clean", path) from None
    extracted = trafilatura.extract(
        text, output_format="markdown", include_formatting=True, include_comments=False,
        include_links=False, include_images=False, include_tables=True, favor_recall=True) or ""
    # Not extensive: a date guessed from "© 2024" in the footer is worse than none.
    info = trafilatura.extract_metadata(text, extensive=False)
    # Bold and italics carry no meaning for retrieval but would show up in quoted citations.
    plain = EMPHASIS.sub(lambda m: m.group(2) or m.group(3), extracted).split("\n")
    title, body = _tidy_markdown(plain, shift=True, title=info.title)
    if not any(_is_prose(s) for s in body):
        raise KnowledgeError(NO_BODY, path)
    site = info.sitename or info.author
    return {"title": title, "author": info.author, "updated": _parse_date(info.date or ""),
            "source": f"{site} (web page {path.name})" if site else f"web page {path.name}"}, body


def _from_markdown(text: str, path: Path) -> tuple[dict, list[str]]:
    lines = text.split("\n")
    meta, first = parse_front_matter(lines, path)
    title, body = _tidy_markdown(lines[first:], shift=False, title=meta.get("title"))
    if not any(s.strip() and not HEADING.match(s) for s in body):
        raise KnowledgeError(NO_BODY, path)
    meta["title"] = meta.get("title") or title
    meta.setdefault("source", path.name)
    return meta, body


def _tidy_markdown(lines: list[str], shift: bool, title: str | None) -> tuple[str | None, list[str]]:
    """Return (title, body) with ``-`` bullets, lead-ins joined to their lists and FAQ
    questions as ``###`` headings under the FAQ heading."""
    # The first heading is the title when nothing precedes it and it is an H1 or repeats
    # the declared title (pages without an h1 often show the title as an h2).
    first = next((k for k, s in enumerate(lines) if s.strip()), None)
    m = HEADING.match(lines[first]) if first is not None else None
    if m and (len(m.group(1)) == 1 or m.group(2).casefold() == (title or "").strip().casefold()):
        title, lines = m.group(2), lines[first + 1:]
    levels = [len(m.group(1)) for s in lines if (m := HEADING.match(s))]
    # trafilatura keeps the page's own levels: a page whose sections are h3 still needs ##.
    lift = min(levels, default=2) - 2 if shift else 0
    out, in_code, faq_level = [], False, 0
    for k, line in enumerate(lines):
        s = line.rstrip()
        in_code ^= s.lstrip().startswith("```")
        m = None if in_code else HEADING.match(s)
        if in_code or not s.strip():
            out.append(s)
            continue
        text = m.group(2) if m else EMPHASIS.sub(lambda e: e.group(2) or e.group(3), s.strip())
        level = max(2, len(m.group(1)) - lift) if m else 0
        # FAQ widgets come out as headings at any level or as bold paragraphs.
        if faq_level and _is_question(text) and (m or any(
                x.strip() and not HEADING.match(x) for x in lines[k + 1:k + 3])):
            out += ["", "#" * (faq_level + 1) + " " + text, ""]
        elif m:
            if FAQ_HEADING.match(text):
                faq_level = level
                text = "Frequently Asked Questions" if FAQ_ONLY.fullmatch(text) else text
            elif level <= faq_level:
                faq_level = 0
            out += ["", "#" * level + " " + text, ""]
        elif any(x.strip() for x in out) or not _is_meta(s):  # drop a byline atop the text
            if LIST_ITEM.match(s):
                s = re.sub(r"^(\s*)[*+•]\s+", r"\1- ", s)
                # A list belongs with the lead-in line ending in ":" above it (one passage).
                while len(out) >= 2 and not out[-1].strip() and out[-2].rstrip().endswith(":"):
                    out.pop()
            out.append(s)
    return title, out

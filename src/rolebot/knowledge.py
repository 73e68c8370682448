"""Markdown knowledge → documents → passages.

Chunking follows the document's structure, never a character window: a passage is one
paragraph (very short ones join their neighbour), or a lead-in line with its list, or one
whole FAQ pair, and it never crosses a section. Ids are ``doc/section/ordinal`` so a
citation survives rebuilds as long as the section keeps its heading.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

from .errors import KnowledgeError

CHUNKER_VERSION = "13"  # bump when passages, their views or the manifest change shape: old indexes are then stale
MIN_WORDS = 12  # a paragraph shorter than this is too thin to retrieve on its own
# A heading under which an article sums itself up: what "summarize this article" is answered from.
CONCLUSION = re.compile(r"^\s*((in|key|final|quick)\s+)?(conclusions?|summary|takeaways?|thoughts|bottom line|wrap-?up)\b",
                        re.I)
FAQ_HEADING = re.compile(r"^(frequently asked questions|faqs?)\b", re.I)
HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")
FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
LIST_ITEM = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+")
NUMBERING = re.compile(r"^\s*\d+[.)]\s+")
SENTENCE_END = re.compile(r"(?<=[.!?])[\"”’)]?\s+(?=[A-Z“\"(‘'0-9])")


@dataclass(frozen=True)
class Passage:
    id: str
    doc: str  # document slug
    title: str  # document title
    url: str  # document's declared source URL ("" if none)
    section: tuple[str, ...]  # heading path below the document title
    anchor: str  # section slug, unique within the document
    kind: str  # "passage" or "faq"
    text: str  # as written (Markdown)
    question: str = ""  # the FAQ question, for kind "faq"
    line: int = 0  # first line in the source file
    alternates: tuple[str, ...] = ()  # other wordings learners use, indexed like the FAQ question

    @property
    def heading(self) -> str:
        return " > ".join(self.section) if self.section else self.title

    @property
    def embed_text(self) -> str:
        # The heading path disambiguates passages like the two "Key Responsibilities" lists.
        return f"{self.heading}\n{self.text}"

    def units(self) -> list[str]:
        """Answerable pieces: each sentence, or a whole list with its lead-in line."""
        return split_units(self.text)

    def pieces(self) -> list[tuple[int, str]]:
        """What is matched against a question: each sentence, and each list item read with
        its lead-in, paired with the unit it belongs to."""
        out = []
        for n, unit in enumerate(self.units()):
            lines = unit.split("\n")
            items = list_items(unit)
            if not items:
                out.append((n, unit))
                continue
            lead = "" if LIST_ITEM.match(lines[0]) else lines[0]
            out.extend((n, f"{lead} {LIST_ITEM.sub('', item)}".strip()) for item in items)
        return out


@dataclass(frozen=True)
class Document:
    slug: str
    title: str
    path: Path
    meta: dict
    passages: tuple[Passage, ...] = field(default_factory=tuple)

    @property
    def url(self) -> str:
        return self.meta.get("url", "")

    @property
    def not_covered(self) -> list[str]:
        """Topics the author declares out of scope (front matter ``not_covered: a; b``):
        questions nearer to one of them than to the text are declined, not answered."""
        given = self.meta.get("not_covered") or ""
        topics = given if isinstance(given, list) else str(given).split(";")
        return [str(t).strip() for t in topics if str(t).strip()]


MAX_SLUG_CHARS = 80  # ids stay readable, whatever the heading


def slugify(text: str) -> str:
    text = unicodedata.normalize("NFKD", NUMBERING.sub("", text))
    text = text.encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", text)[: 4 * MAX_SLUG_CHARS].strip("-")[:MAX_SLUG_CHARS].strip("-") or "section"


def by_document(passages) -> dict[str, list[int]]:
    """Each document's passage numbers, in order."""
    out: dict[str, list[int]] = {}
    for i, p in enumerate(passages):
        out.setdefault(p.doc, []).append(i)
    return out


def list_items(unit: str) -> list[str]:
    """A unit's list item lines, in order (none for a sentence)."""
    return [line for line in unit.split("\n") if LIST_ITEM.match(line)]


def item_at(items: list[str], place: int | None) -> str | None:
    """The item at a place asked for by its order (0 first, -1 last), in a list of two or more."""
    return items[place] if place is not None and len(items) >= 2 and -len(items) <= place < len(items) else None


def item_beside(items: list[str], scores: list[float], direction: int = 1) -> str | None:
    """The item after (direction 1) or before (-1) the one that scores best ("what comes after
    X?", each item's cosine to X)."""
    if not scores:
        return None
    step = max(range(len(scores)), key=scores.__getitem__) + direction
    return items[step] if 0 <= step < len(items) else None


def split_units(text: str) -> list[str]:
    units = []
    for block in text.split("\n\n"):
        lines = block.split("\n")
        if any(LIST_ITEM.match(line) for line in lines):
            units.append(block)
        else:
            sentences: list[str] = []
            for s in (s.strip() for s in SENTENCE_END.split(" ".join(lines))):
                # A question inside a paragraph ("Still confused where to begin? Start with ...") is
                # asked so the next sentence can answer it: matched or quoted alone it answers nothing.
                if sentences and sentences[-1].endswith("?"):
                    sentences[-1] = f"{sentences[-1]} {s}".strip()
                elif s:
                    sentences.append(s)
            units.extend(sentences)
    return units


def parse_front_matter(lines: list[str], path) -> tuple[dict, int]:
    """Return (meta, index of the first body line). The front matter is YAML, read with every
    scalar as text (a date stays "2026-04-07"); keys are lower-cased."""
    if not lines or lines[0].strip() != "---":
        return {}, 0
    end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
    if end is None:
        raise KnowledgeError("front matter opened with '---' is never closed: add a '---' line after it", path, 1)
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError

    try:
        data = YAML(typ="base").load("\n".join(lines[1:end])) or {}
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 2 if mark is not None else 2
        raise KnowledgeError(
            f"front matter line is not 'key: value' YAML ({exc.problem}): quote a value that holds ': ' or '#'", path, line
        ) from None
    if not isinstance(data, dict):
        raise KnowledgeError("front matter line is not 'key: value': the front matter must be a YAML mapping", path, 2)
    return {str(k).strip().lower(): "" if v is None else v for k, v in data.items()}, end + 1


def _alternates(meta: dict, anchors: dict[str, list[str]], path) -> dict[str, tuple[str, ...]]:
    """Front matter ``alternates``: other wordings of a passage, keyed by its id within the
    document (``anchor`` for the section's first passage, ``anchor/2`` for the second, …).
    An unknown key is an error, so a typo or a renamed heading never silently drops them."""
    given = meta.get("alternates") or {}
    if not isinstance(given, dict):
        raise KnowledgeError("front matter 'alternates' must map a passage id to a list of questions", path, 2)
    out: dict[str, tuple[str, ...]] = {}
    for key, phrasings in given.items():
        anchor, _, ordinal = str(key).strip().partition("/")
        local = f"{anchor}/{ordinal or 1}"
        if local not in anchors.get(anchor, []):
            raise KnowledgeError(
                f"front matter 'alternates' names {key!r}, which is no passage of this document: "
                "use a section anchor from a citation id (`rolebot search` shows them)", path, 2)
        items = [phrasings] if isinstance(phrasings, str) else phrasings if isinstance(phrasings, list) else []
        out[local] = tuple(dict.fromkeys(" ".join(str(q).split()) for q in items if str(q).strip()))
    return out


def _blocks(body: list[tuple[int, str]]) -> list[tuple[int, list[str]]]:
    """Group a section's lines into blocks; a lead-in ending in ':' joins its list."""
    blocks, current, start = [], [], 0
    for number, line in body + [(0, "")]:
        if line.strip():
            if not current:
                start = number
            current.append(line.rstrip())
        elif current:
            blocks.append((start, current))
            current = []
    merged = []
    for start, lines in blocks:
        is_list = LIST_ITEM.match(lines[0]) is not None
        if is_list and merged and merged[-1][1][-1].endswith(":") and not LIST_ITEM.match(merged[-1][1][-1]):
            merged[-1] = (merged[-1][0], merged[-1][1] + lines)
        else:
            merged.append((start, lines))
    return merged


def _normalise(lines: list[str]) -> str:
    out = []
    for line in lines:
        line = re.sub(r"[ \t]+", " ", line.strip())
        out.append(LIST_ITEM.sub("- ", line) if LIST_ITEM.match(line) and not NUMBERING.match(line) else line)
    return "\n".join(out)


def _word_count(lines: list[str]) -> int:
    return sum(len(line.split()) for line in lines)


def _chunks(blocks: list[tuple[int, list[str]]]) -> list[tuple[int, str]]:
    """Join blocks too thin to stand alone to the next block (or the previous, at the end)."""
    groups: list[list[tuple[int, list[str]]]] = []
    pending: list[tuple[int, list[str]]] = []
    for block in blocks:
        pending.append(block)
        is_list = any(LIST_ITEM.match(line) for line in block[1])
        if is_list or _word_count([l for _, b in pending for l in b]) >= MIN_WORDS:
            groups.append(pending)
            pending = []
    if pending:
        if groups:
            groups[-1].extend(pending)
        else:
            groups.append(pending)
    return [(g[0][0], "\n\n".join(_normalise(lines) for _, lines in g)) for g in groups]


def parse_document(text: str, path: Path, slug: str | None = None) -> Document:
    path = Path(path)
    slug = slug or slugify(path.stem)
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    meta, first = parse_front_matter(lines, path)

    # Sections: (heading path, first line, body lines). Content under the H1 is the intro.
    title = meta.get("title", "")
    sections: list[tuple[tuple[str, ...], int, list[tuple[int, str]]]] = [((), first + 1, [])]
    stack: list[tuple[int, str]] = []
    fence = None  # the opening run of the fenced code block we are in (CommonMark rules)
    for i in range(first, len(lines)):
        line = lines[i]
        f = FENCE.match(line)
        was_code = fence is not None
        if fence is None and f and not (f.group(1)[0] == "`" and "`" in f.group(2)):
            fence = f.group(1)
        elif fence is not None and f and f.group(1)[0] == fence[0] and len(f.group(1)) >= len(fence) and not f.group(2).strip():
            fence = None
        m = None if was_code or fence is not None else HEADING.match(line)
        if m:
            level, heading = len(m.group(1)), m.group(2).strip()
            if level == 1 and not title:
                title = heading
            if level == 1 and heading == title and not stack:
                continue
            stack = [(lv, h) for lv, h in stack if lv < level] + [(level, heading)]
            sections.append((tuple(h for _, h in stack), i + 1, []))
        else:
            sections[-1][2].append((i + 1, line))
    title = title or path.stem.replace("-", " ").replace("_", " ").strip().capitalize()

    leaf_slugs = [slugify(p[-1]) if p else "intro" for p, _, _ in sections]
    counts = Counter(leaf_slugs)
    passages: list[Passage] = []
    used: set[str] = set()
    repeats: dict[str, int] = {}  # anchor -> the highest number given to a repeat of it
    for (heading_path, _, body), leaf in zip(sections, leaf_slugs):
        anchor = leaf
        if counts[leaf] > 1 and len(heading_path) > 1:
            anchor = f"{slugify(heading_path[-2])}--{leaf}"
        if anchor in used:  # same heading again under the same parent: number it (-2, -3, …)
            n = repeats.get(anchor, 1)
            while f"{anchor}-{n + 1}" in used:
                n += 1
            repeats[anchor] = n + 1
            anchor = f"{anchor}-{n + 1}"
        used.add(anchor)
        is_faq = (
            len(heading_path) >= 2
            and heading_path[-1].rstrip().endswith("?")
            and FAQ_HEADING.match(heading_path[-2]) is not None
        )
        blocks = _blocks(body)
        if not blocks:
            continue
        if is_faq:
            chunks = [(blocks[0][0], "\n\n".join(_normalise(b) for _, b in blocks))]
        else:
            chunks = _chunks(blocks)
        for ordinal, (line_no, chunk) in enumerate(chunks, 1):
            passages.append(
                Passage(
                    id=f"{slug}/{anchor}/{ordinal}",
                    doc=slug,
                    title=title,
                    url=meta.get("url", ""),
                    section=heading_path,
                    anchor=anchor,
                    kind="faq" if is_faq else "passage",
                    text=chunk,
                    question=heading_path[-1] if is_faq else "",
                    line=line_no,
                )
            )
    anchors: dict[str, list[str]] = {}
    for p in passages:
        anchors.setdefault(p.anchor, []).append(p.id.removeprefix(f"{slug}/"))
    alternates = _alternates(meta, anchors, path)
    if alternates:
        passages = [replace(p, alternates=alternates.get(p.id.removeprefix(f"{slug}/"), ())) for p in passages]
    meta = {**meta, "title": title}
    return Document(slug=slug, title=title, path=path, meta=meta, passages=tuple(passages))


def read_document(path: Path) -> Document:
    path = Path(path)
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise KnowledgeError(
            f"not UTF-8 text (byte {exc.start}); save the file as UTF-8", path, line
        ) from None
    doc = parse_document(text, path)
    if not doc.passages:
        raise KnowledgeError("no text to index: the document has no paragraphs", path)
    return doc


def knowledge_files(directory: Path) -> list[Path]:
    directory = Path(directory)
    if not directory.is_dir():
        raise KnowledgeError(
            "knowledge folder not found: run `rolebot init` here to start from the sample article, "
            "add Markdown (.md) files to a knowledge/ folder, or name another with --knowledge",
            directory,
        )
    files = sorted(p for p in directory.rglob("*.md") if not p.name.startswith((".", "_")) and p.name.lower() != "readme.md")
    if not files:
        raise KnowledgeError("no Markdown (.md) files: add the article as a .md file", directory)
    return files


def load_documents(directory: Path) -> list[Document]:
    docs = [read_document(p) for p in knowledge_files(directory)]
    seen: dict[str, Document] = {}
    titles: dict[str, Document] = {}
    for doc in docs:
        if doc.slug in seen:
            raise KnowledgeError(
                f"two documents have the slug {doc.slug!r} (also {seen[doc.slug].path}); rename one",
                doc.path,
            )
        if doc.title.lower() in titles:
            raise KnowledgeError(
                f"title {doc.title!r} is already used by {titles[doc.title.lower()].path}; "
                "give each document its own title",
                doc.path,
                1,
            )
        seen[doc.slug] = doc
        titles[doc.title.lower()] = doc
    return docs


def content_hash(directory: Path) -> str:
    """Hash of every knowledge file's name and bytes, plus the chunker version."""
    directory = Path(directory)
    digest = hashlib.sha256(CHUNKER_VERSION.encode())
    for path in knowledge_files(directory):
        digest.update(str(path.relative_to(directory)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


"""Authors' edits written into the knowledge Markdown, which stays the one source of truth.

Two edits: another wording of an existing passage (front matter ``alternates``) and a new
FAQ entry (a ``###`` question under the document's FAQ section). Every edit is checked by
parsing the new text before it is written, compared against the version of the file the
author saw (a conflicting edit is refused, never merged), and written atomically (a temporary
file beside it, then os.replace), so the index builder never reads a half-written file.
Apart from the edit, the file is left byte for byte as it was: the front matter is
round-tripped by ruamel.yaml with its comments, order and quoting.
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
from pathlib import Path

from .errors import EditConflictError, KnowledgeError
from .knowledge import FAQ_HEADING, FENCE, HEADING, Document, load_documents, parse_document

_write_lock = threading.Lock()  # edits from one server never interleave their read and write
MAX_QUESTION_CHARS = 300
MAX_ANSWER_CHARS = 4000


def file_version(path: Path) -> str:
    """What an edit form carries, so a write can tell whether the file changed since."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def document(knowledge_dir: Path, slug: str) -> Document:
    for doc in load_documents(knowledge_dir):
        if doc.slug == slug:
            return doc
    raise KnowledgeError(f"no document {slug!r}: `rolebot list` shows the slugs", knowledge_dir)


def add_alternate(knowledge_dir: Path, passage_id: str, question: str, version: str | None = None) -> str:
    """Record ``question`` as another wording of the passage; returns the passage id."""
    question = _one_line(question, "question", MAX_QUESTION_CHARS)
    slug, _, local = passage_id.partition("/")
    doc = document(knowledge_dir, slug)
    if passage_id not in {p.id for p in doc.passages}:
        raise KnowledgeError(f"no passage {passage_id!r} in {doc.path.name}: it may have been renamed; reload the page", doc.path)
    anchor, _, ordinal = local.rpartition("/")
    key = anchor if ordinal == "1" else local

    def edit(text: str) -> str:
        from ruamel.yaml.comments import CommentedMap, CommentedSeq

        front, body = _split(text)
        yaml = _yaml()
        meta = yaml.load(front) if front.strip() else None
        meta = meta if meta is not None else CommentedMap()
        alternates = meta.get("alternates")
        if not alternates:
            alternates = meta["alternates"] = CommentedMap()
        name = next((k for k in alternates if str(k) in (key, local)), key)
        wordings = alternates.get(name)
        if not isinstance(wordings, list):
            wordings = alternates[name] = CommentedSeq([wordings] if wordings else [])
        if question.lower() not in {str(w).lower() for w in wordings}:
            wordings.append(question)
        out = io.StringIO()
        yaml.dump(meta, out)
        return f"---\n{out.getvalue()}---\n{body}"

    _rewrite(doc.path, edit, version, lambda new: passage_id in {p.id for p in new.passages})
    return passage_id


def add_faq(knowledge_dir: Path, slug: str, question: str, answer: str, version: str | None = None) -> str:
    """Append a question and its answer to the document's FAQ section (made if missing);
    returns the new passage id."""
    question = _one_line(question, "question", MAX_QUESTION_CHARS).rstrip("?").rstrip() + "?"
    answer = "\n".join(line.rstrip() for line in answer.strip().replace("\r\n", "\n").split("\n"))
    if not answer or len(answer) > MAX_ANSWER_CHARS:
        raise KnowledgeError(f"the answer must be 1 to {MAX_ANSWER_CHARS} characters")
    if any(HEADING.match(line) or FENCE.match(line) for line in answer.split("\n")):
        raise KnowledgeError("the answer may not contain headings ('#') or code fences: it would split the entry")
    doc = document(knowledge_dir, slug)
    if any(p.kind == "faq" and p.question.lower() == question.lower() for p in doc.passages):
        raise KnowledgeError(f"{doc.path.name} already has the FAQ {question!r}: add your wording as an alternate phrasing instead")

    def edit(text: str) -> str:
        lines = text.split("\n")
        where, level = _faq_section_end(lines)
        if where is None:
            block = ["## Frequently Asked Questions", "", f"### {question}", "", answer, ""]
            while lines and not lines[-1].strip():
                lines.pop()
            return "\n".join(lines + [""] + block)
        while where > 0 and not lines[where - 1].strip():
            where -= 1
        block = ["", f"{'#' * (level + 1)} {question}", "", answer]
        return "\n".join(lines[:where] + block + (lines[where:] if where < len(lines) else [""]) )

    found: list[str] = []

    def check(new: Document) -> bool:
        found.extend(p.id for p in new.passages if p.kind == "faq" and p.question == question)
        return bool(found)

    _rewrite(doc.path, edit, version, check)
    return found[0]


def _faq_section_end(lines: list[str]) -> tuple[int | None, int]:
    """(line index where the FAQ section ends, its heading level), or (None, 0) if there is none."""
    start, level, fence = None, 0, None
    for i, line in enumerate(lines):
        f = FENCE.match(line)
        if f and (fence is None or f.group(1)[0] == fence[0]):
            fence = None if fence else f.group(1)
            continue
        m = None if fence else HEADING.match(line)
        if not m:
            continue
        if start is not None and len(m.group(1)) <= level:
            return i, level
        if start is None and FAQ_HEADING.match(m.group(2).strip()):
            start, level = i, len(m.group(1))
    return (len(lines), level) if start is not None else (None, 0)


def _one_line(text: str, what: str, limit: int) -> str:
    text = " ".join(str(text or "").split())
    if not text or len(text) > limit:
        raise KnowledgeError(f"the {what} must be 1 to {limit} characters")
    return text


def _yaml():
    from ruamel.yaml import YAML

    yaml = YAML()  # round-trip: comments, key order and quoting survive
    yaml.preserve_quotes = True
    yaml.width = 100_000  # never re-wrap an author's long line
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def _split(text: str) -> tuple[str, str]:
    """(front matter YAML, everything after its closing '---' line) — the body kept verbatim."""
    lines = text.split("\n")
    if lines and lines[0].strip() == "---":
        for i in range(1, len(lines)):
            if lines[i].strip() == "---":
                return "\n".join(lines[1:i]) + "\n", "\n".join(lines[i + 1 :])
    return "", text


def _rewrite(path: Path, edit, version: str | None, accept) -> None:
    with _write_lock:
        raw = path.read_bytes()
        if version is not None and hashlib.sha256(raw).hexdigest()[:16] != version:
            raise EditConflictError(
                f"{path.name} changed since this page was opened (someone else edited it): "
                "reload the page and make the edit again"
            )
        new_text = edit(raw.decode("utf-8-sig"))
        if not accept(parse_document(new_text, path)):  # a KnowledgeError here leaves the file as it was
            raise KnowledgeError("the edit did not produce the expected passage; the file was left unchanged", path)
        tmp = path.with_name(f".{path.name}.edit-{os.getpid()}-{threading.get_ident()}")
        try:
            tmp.write_text(new_text, encoding="utf-8")
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)

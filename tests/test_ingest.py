"""rolebot.ingest: captured pages → knowledge Markdown. Fast: no model, no network."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rolebot.errors import KnowledgeError
from rolebot.ingest import to_markdown
from rolebot.knowledge import HEADING, LIST_ITEM, SENTENCE_END, parse_document, parse_front_matter

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data" / "ingest"
CAPTURE = DATA / "ml-engineer-vs-data-scientist.page.txt"  # the raw page, kept in the repo
CURATED = ROOT / "knowledge" / "ml-engineer-vs-data-scientist.md"
QUOTES = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"'})


def _body(markdown: str) -> list[str]:
    lines = markdown.split("\n")
    _, first = parse_front_matter(lines, "test")
    return lines[first:]


def sentences(markdown: str) -> set[str]:
    """Every sentence and list item of the body; headings are structure, not content."""
    units = set()
    for line in _body(markdown):
        line = " ".join(line.translate(QUOTES).split())
        if not line or HEADING.match(line):
            continue
        line = LIST_ITEM.sub("", line)
        units.update(s.strip() for s in SENTENCE_END.split(line) if s.strip())
    return units


def headings(markdown: str, level: int | None = None) -> list[str]:
    found = [m for line in _body(markdown) if (m := HEADING.match(line))]
    return [m.group(0) for m in found if level is None or len(m.group(1)) == level]


def faq_questions(markdown: str) -> list[str]:
    """The ### questions directly under the ## Frequently Asked Questions heading."""
    out, inside = [], False
    for line in _body(markdown):
        if line.startswith("## "):
            inside = line == "## Frequently Asked Questions"
        elif inside and line.startswith("### "):
            assert line.endswith("?"), line
            out.append(line[4:])
    return out


def assert_no_chrome(markdown: str, fragments: list[str]) -> None:
    for line in markdown.split("\n"):
        for fragment in fragments:
            assert fragment.lower() not in line.lower(), f"chrome {fragment!r} kept in: {line}"


# --- the article's page capture -----------------------------------------------------------------


@pytest.fixture(scope="module")
def captured() -> tuple[str, str]:
    return to_markdown(CAPTURE)


def test_capture_keeps_every_sentence_of_the_curated_file(captured):
    _, markdown = captured
    curated = CURATED.read_text(encoding="utf-8")
    missing = sentences(curated) - sentences(markdown)
    extra = sentences(markdown) - sentences(curated)
    assert not missing, f"sentences lost: {sorted(missing)}"
    assert not extra, f"sentences that are not in the article: {sorted(extra)}"


def test_capture_structure_and_metadata(captured):
    slug, markdown = captured
    curated = CURATED.read_text(encoding="utf-8")
    assert slug == "ml-engineer-vs-data-scientist"
    meta, _ = parse_front_matter(markdown.split("\n"), CAPTURE)
    assert meta["title"] == "ML Engineer vs Data Scientist: What’s the Real Difference in Jobs?"
    assert meta["author"] == "KnowledgeHut"
    assert meta["updated"] == "2026-04-07"
    assert "url" not in meta
    assert headings(markdown, 1) == ["# " + meta["title"]]
    assert headings(markdown, 2) == headings(curated, 2)
    questions = faq_questions(markdown)
    assert len(questions) == 10
    assert questions == faq_questions(curated)


def test_capture_drops_menus_blurb_and_form(captured):
    _, markdown = captured
    assert_no_chrome(markdown, ["course icon", "Hours", "Best seller", "Trending", "Get Free Consultation",
                                "articles published", "By submitting", "outcome-focused", "Share:",
                                "+91", "Updated on", "By KnowledgeHut", "3 views"])
    assert max(len(line) for line in markdown.split("\n")) < 400  # no glued menu line


def test_capture_chunks_into_ten_faq_passages(captured):
    slug, markdown = captured
    doc = parse_document(markdown, Path(f"{slug}.md"))
    faqs = [p for p in doc.passages if p.kind == "faq"]
    assert len(faqs) == 10
    assert all(p.question.endswith("?") and p.text for p in faqs)
    assert doc.title.startswith("ML Engineer vs Data Scientist")


def test_url_and_title_arguments_override():
    slug, markdown = to_markdown(CAPTURE, title="ML vs DS", url="https://example.org/a")
    meta, _ = parse_front_matter(markdown.split("\n"), CAPTURE)
    assert (meta["title"], meta["url"]) == ("ML vs DS", "https://example.org/a")
    assert "# ML vs DS" in markdown.split("\n")
    assert slug == "ml-engineer-vs-data-scientist"


# --- pages of other shapes -----------------------------------------------------------------


@pytest.mark.parametrize(
    "name, chrome",
    [
        ("data-analyst-career.html",
         ["cookies", "Accept all", "All Courses", "Log In", "Start Free Trial", "Popular Courses",
          "SQL Bootcamp", "save 30%", "newsletter", "Email address", "Privacy Policy", "©",
          "By Priya Raman"]),
        ("product-vs-project-manager.txt",
         ["Skip to content", "Pricing", "Login", "Sign Up", "Home ›", "cookie", "Posted on", "min read",
          "Related posts", "Product Roadmap", "Interview Questions", "newsletter", "career tip",
          "Email address", "©"]),
    ],
)
def test_other_page_shapes(name, chrome):
    source = DATA / name
    expected = (DATA / (source.stem + ".expected.md")).read_text(encoding="utf-8")
    slug, markdown = to_markdown(source)
    assert slug == source.stem
    missing = sentences(expected) - sentences(markdown)
    assert not missing, f"sentences lost: {sorted(missing)}"
    assert sentences(markdown) == sentences(expected)
    assert headings(markdown) == headings(expected)
    assert parse_front_matter(markdown.split("\n"), source)[0] == parse_front_matter(expected.split("\n"), name)[0]
    assert_no_chrome(markdown, chrome)
    doc = parse_document(markdown, Path(f"{slug}.md"))
    assert len([p for p in doc.passages if p.kind == "faq"]) == 3


def test_markdown_is_normalised(tmp_path):
    source = tmp_path / "notes.md"
    source.write_text("# Career Notes\n\nIntro text here.\n\n\n## Tools\n\nTeams use:\n\n* Git\n* Docker\n\n"
                      "## FAQs\n\n**Is Git hard?**\n\nNot really, it takes a week.\n", encoding="utf-8")
    slug, markdown = to_markdown(source, url="https://example.org/notes")
    assert slug == "notes"
    meta, _ = parse_front_matter(markdown.split("\n"), source)
    assert meta["title"] == "Career Notes" and meta["url"] == "https://example.org/notes"
    assert markdown.count("# Career Notes") == 1
    assert "Teams use:\n- Git\n- Docker" in markdown
    assert "## Frequently Asked Questions\n\n### Is Git hard?\n\nNot really, it takes a week." in markdown
    assert "\n\n\n" not in markdown


# --- bad input ----------------------------------------------------------------------------


def test_unsupported_extension_names_the_path(tmp_path):
    source = tmp_path / "brochure.pdf"
    source.write_bytes(b"%PDF-1.7\n")
    with pytest.raises(KnowledgeError, match="unsupported file type") as info:
        to_markdown(source)
    assert info.value.path == source and str(source) in str(info.value)


def test_non_utf8_text_reports_the_line(tmp_path):
    source = tmp_path / "latin1.txt"
    source.write_bytes("Home\nBlog\nCafé culture in tech teams is real.\n".encode("latin-1"))
    with pytest.raises(KnowledgeError, match="UTF-8") as info:
        to_markdown(source)
    assert info.value.line == 3 and info.value.path == source


def test_missing_file_is_a_knowledge_error(tmp_path):
    with pytest.raises(KnowledgeError, match="cannot read"):
        to_markdown(tmp_path / "nowhere.html")


def test_menu_only_capture_has_no_article_body():
    with pytest.raises(KnowledgeError, match="no article body found") as info:
        to_markdown(DATA / "menu-only.txt")
    assert info.value.path == DATA / "menu-only.txt"


def test_html_without_content_has_no_article_body(tmp_path):
    source = tmp_path / "empty.html"
    source.write_text("<html><body><nav><a href='/'>Home</a></nav></body></html>", encoding="utf-8")
    with pytest.raises(KnowledgeError, match="no article body found"):
        to_markdown(source)


def test_never_prints(capsys, tmp_path):
    to_markdown(CAPTURE)
    to_markdown(DATA / "data-analyst-career.html")
    with pytest.raises(KnowledgeError):
        to_markdown(DATA / "menu-only.txt")
    assert capsys.readouterr() == ("", "")


def test_hostile_pages_are_capped_and_linear(tmp_path):
    import time

    from rolebot.ingest import MAX_PAGE_BYTES
    from rolebot.knowledge import MAX_SLUG_CHARS

    huge = tmp_path / "huge.html"
    huge.write_bytes(b"<p>x</p>" * (MAX_PAGE_BYTES // 8 + 1))
    with pytest.raises(KnowledgeError, match="larger than"):
        to_markdown(huge)
    repeated = "# Doc\n\n" + "".join(f"## Same heading\n\nText {i}.\n\n" for i in range(4000))
    started = time.perf_counter()
    doc = parse_document(repeated, Path("doc.md"))
    assert time.perf_counter() - started < 5  # was quadratic: 8,000 took 100 s
    ids = [p.id for p in doc.passages]
    assert len(set(ids)) == len(ids) == 4000 and max(len(i) for i in ids) < 120
    long = parse_document("# Doc\n\n## " + "word " * 2000 + "\n\nText.\n", Path("doc.md"))
    assert len(long.passages[0].anchor) <= MAX_SLUG_CHARS

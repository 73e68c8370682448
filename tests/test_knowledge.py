"""The Markdown parser and chunker on a small hand-written document: exact passages and ids."""

import pytest

from rolebot.errors import KnowledgeError
from rolebot.knowledge import content_hash, load_documents, parse_document, read_document, slugify, split_units

from conftest import ARTICLE, DATA


def test_tiny_document_passages_exact():
    doc = read_document(DATA / "tiny.md")
    assert doc.slug == "tiny"
    assert doc.title == "Tea Guide"
    assert doc.meta["author"] == "Test Author"
    assert doc.url == "https://example.org/tea"
    got = [(p.id, p.kind, p.section, p.text) for p in doc.passages]
    assert got == [
        ("tiny/intro/1", "passage", (), "Tea is a drink made by steeping dried leaves in hot water. People drink it all over the world."),
        ("tiny/green-tea/1", "passage", ("Green Tea",), "Green tea is not oxidised, so it keeps a fresh and grassy taste."),
        ("tiny/green-tea/2", "passage", ("Green Tea",), "Brewing green tea needs:\n- water at 80 degrees\n- two minutes of steeping"),
        (
            "tiny/health/1",
            "passage",
            ("Green Tea", "Health"),
            "Short note.\n\nGreen tea contains antioxidants called catechins that some studies link to heart health.",
        ),
        ("tiny/black-tea/1", "passage", ("Black Tea",), "Black tea is fully oxidised and tastes strong and malty. It is the base of most breakfast blends."),
        (
            "tiny/can-i-add-milk-to-green-tea/1",
            "faq",
            ("Frequently Asked Questions", "Can I add milk to green tea?"),
            "Milk is usually added to black tea, not green tea, because it hides the delicate flavour.",
        ),
        (
            "tiny/how-long-does-tea-keep/1",
            "faq",
            ("Frequently Asked Questions", "How long does tea keep?"),
            "Dried tea keeps for about a year in an airtight tin.",
        ),
    ]
    faq = doc.passages[5]
    assert faq.question == "Can I add milk to green tea?"
    assert faq.embed_text.startswith("Frequently Asked Questions > Can I add milk to green tea?\n")


def test_heading_path_is_part_of_embedded_text():
    doc = read_document(DATA / "tiny.md")
    health = doc.passages[3]
    assert health.heading == "Green Tea > Health"
    assert health.embed_text == "Green Tea > Health\n" + health.text
    assert doc.passages[0].heading == "Tea Guide"


def test_units_keep_a_lead_in_with_its_list():
    text = "One sentence here. Another one follows.\n\nTools:\n- a\n- b"
    assert split_units(text) == ["One sentence here.", "Another one follows.", "Tools:\n- a\n- b"]


def test_a_question_inside_a_paragraph_stays_with_the_sentence_that_answers_it():
    text = "Many people switch. Still unsure where to begin? Start with the basics course. Then practise.\n\nWhy?"
    assert split_units(text) == ["Many people switch.", "Still unsure where to begin? Start with the basics course.",
                                 "Then practise.", "Why?"]
    # two questions in a row wait together for their answer; a question that ends its block stays alone
    assert split_units("What? Why? Because.") == ["What? Why? Because."]


def test_ids_are_stable_when_other_sections_change():
    base = (DATA / "tiny.md").read_text()
    edited = base.replace("## Black Tea\n", "## Oolong\n\nOolong sits between green and black tea in oxidation.\n\n## Black Tea\n")
    before = {p.id: p.text for p in parse_document(base, DATA / "tiny.md").passages}
    after = {p.id: p.text for p in parse_document(edited, DATA / "tiny.md").passages}
    assert set(before) < set(after)
    assert all(after[i] == t for i, t in before.items())


def test_repeated_headings_get_parent_prefixed_ids():
    text = "# T\n\n## Alpha\n\n### Notes\n\nAlpha notes are long enough to stand alone as a passage here.\n\n## Beta\n\n### Notes\n\nBeta notes are long enough to stand alone as a passage too, yes."
    ids = [p.id for p in parse_document(text, "x.md").passages]
    assert ids == ["x/alpha--notes/1", "x/beta--notes/1"]


def test_article_structure():
    doc = read_document(ARTICLE)
    faqs = [p for p in doc.passages if p.kind == "faq"]
    assert len(faqs) == 10
    assert all(p.question.endswith("?") for p in faqs)
    assert doc.meta["updated"] == "2026-04-07"
    ids = [p.id for p in doc.passages]
    assert len(ids) == len(set(ids))
    tools = next(p for p in doc.passages if p.text.startswith("ML Engineers commonly use:"))
    assert "- Docker and Kubernetes" in tools.text
    # Site chrome never became knowledge.
    body = ARTICLE.read_text()
    assert "course icon" not in body and "Get Free Consultation" not in body and "16 Hours" not in body


def test_slugify():
    assert slugify("4. Tools and Technologies") == "tools-and-technologies"
    assert slugify("What’s the Real Difference?") == "whats-the-real-difference"


@pytest.mark.parametrize(
    "content, message, line",
    [
        (b"---\ntitle: x\nnot a pair\n---\n# x\n\ntext", "not 'key: value'", 3),
        (b"---\ntitle: x\n# x\n\ntext", "never closed", 1),
        (b"# Title\n\ncaf\xe9 au lait", "not UTF-8", 3),
        (b"---\ntitle: Only meta\n---\n", "no text to index", None),
    ],
)
def test_bad_files_raise_with_file_and_line(tmp_path, content, message, line):
    path = tmp_path / "bad.md"
    path.write_bytes(content)
    with pytest.raises(KnowledgeError) as err:
        read_document(path)
    assert message in str(err.value)
    assert str(path) in str(err.value)
    assert err.value.line == line


def test_document_without_headings_falls_back_to_intro(tmp_path):
    path = tmp_path / "plain-notes.md"
    path.write_text("Just a paragraph of notes that has no headings at all in it.\n")
    doc = read_document(path)
    assert doc.title == "Plain notes"
    assert [p.id for p in doc.passages] == ["plain-notes/intro/1"]


def test_empty_folder_and_duplicate_titles(tmp_path):
    with pytest.raises(KnowledgeError, match="no Markdown"):
        load_documents(tmp_path)
    (tmp_path / "a.md").write_text("# Same\n\nSome text that is here.\n")
    (tmp_path / "b.md").write_text("# Same\n\nOther text that is here.\n")
    with pytest.raises(KnowledgeError, match="already used by"):
        load_documents(tmp_path)


def test_content_hash_changes_with_content(tmp_path):
    (tmp_path / "a.md").write_text("# A\n\nText.\n")
    first = content_hash(tmp_path)
    assert content_hash(tmp_path) == first
    (tmp_path / "a.md").write_text("# A\n\nText!\n")
    assert content_hash(tmp_path) != first

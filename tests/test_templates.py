"""Template questions (templates.py): written from a heading and the role a section is about,
indexed as their own view kind, and handicapped in the evidence and the ranking alike."""

from dataclasses import replace

import numpy as np
import pytest

from conftest import build_article
from rolebot import index, templates
from rolebot import retriever as retriever_mod
from rolebot.retriever import Retriever

PAIR = ("ML Engineer", "Data Scientist")


def test_a_section_gets_questions_about_the_role_it_is_about(retriever):
    by_path = {p.section: p for p in retriever.passages}
    for parent, role, other in [("What Is a Data Scientist?", *PAIR[::-1]), ("What Is an ML Engineer?", *PAIR)]:
        asked = templates.questions(by_path[(parent, "Key Responsibilities")])
        assert asked and all(role in q and other not in q for q in asked), asked
    faq = next(p for p in retriever.passages if p.kind == "faq")
    # It has its own question: none from a heading, only the "who …?" of a sentence about one role.
    assert all(q.startswith("Who ") for q in templates.questions(faq))


def test_templates_follow_the_heading_kind_not_the_article(retriever):
    """Another comparison article's roles and headings: the same kinds of question about its roles."""
    base = next(p for p in retriever.passages if p.kind != "faq" and p.section)
    nurse = replace(base, title="Nurse vs Doctor: What Does Each Do?", section=("What Is a Nurse?", "Key Responsibilities"),
                    text="- Caring for patients on the ward")
    assert "What does Nurse do day to day?" in templates.questions(nurse)
    assert templates.questions(replace(nurse, section=("A Short History",))) == []  # a heading of no known kind
    tools = replace(nurse, section=("Tools of the Trade",), text="Doctors rely on stethoscopes.")
    # the text names the role ("who …?" questions name none: see the next test)
    assert all("Doctor" in q and "Nurse" not in q for q in templates.questions(tools) if not q.startswith("Who "))


def test_a_passage_of_parallel_halves_gets_questions_about_each_role_it_names_alone(retriever):
    """"Data Scientist: …" and "ML Engineer: …" on lines of their own: questions about each role,
    none about both at once; a line naming both ("A Data Scientist builds the “brain,” while an ML
    Engineer builds the “body”…") lends no role beside a line that names one."""
    base = next(p for p in retriever.passages if p.kind != "faq" and p.section)
    halves = replace(base, title="Nurse vs Doctor: What Does Each Do?", section=("Output of Work",),
                     text="Nurse Output: care plans\n\nDoctor Output: diagnoses")
    asked = templates.questions(halves)
    assert "What does Nurse produce?" in asked and "What does Doctor produce?" in asked
    assert not any("Nurse and Doctor" in q or "Doctor and Nurse" in q for q in asked)
    one = replace(halves, text="Doctor Output: diagnoses\n\nA Nurse cares, while a Doctor diagnoses.")
    assert templates.alone_on_a_line(one, ("Nurse", "Doctor")) == ["Doctor"]
    assert templates.alone_on_a_line(replace(one, text="A Nurse cares, while a Doctor diagnoses."), ("Nurse", "Doctor")) == []


def test_a_sentence_whose_subject_is_one_role_gets_the_who_question_it_answers(retriever):
    base = next(p for p in retriever.passages if p.kind != "faq" and p.section)
    ward = replace(base, title="Nurse vs Doctor: What Does Each Do?", section=("A Day on the Ward",), text=(
        "- A Nurse checks the patient's vital signs\n- The chart is updated\n"
        "Doctors, on the other hand, diagnose illnesses and prescribe treatment. A Doctor listens, while a Nurse acts. "
        "Nurse roles are demanding.\nNurses commonly use:\n- Blood pressure monitors"))
    assert templates.who_questions(ward) == ["Who checks the patient's vital signs?",
                                             "Who diagnose illnesses and prescribe treatment?"]
    # "A Doctor listens" is too short to ask about; "Nurse roles" is no nurse doing something;
    # a line ending on ":" introduces a list; a title that compares nothing gets none.
    assert templates.who_questions(replace(ward, title="A Guide to Hospitals")) == []
    assert "Who checks the patient's vital signs?" in templates.questions(ward)


def test_template_questions_are_indexed_as_their_own_view_kind(tmp_path, fake_embedder):
    knowledge, index_dir = build_article(tmp_path, fake_embedder)
    data = index.load(index_dir)
    owners = {int(data.view_passage[r]) for r in np.flatnonzero(data.view_kind == index.TEMPLATE_VIEW)}
    assert owners == {i for i, p in enumerate(data.passages) if templates.questions(p)}
    # An FAQ has its own question: only "who …?" questions of its sentences, none from its heading.
    assert all(q.startswith("Who ") for i in owners if data.passages[i].kind == "faq" for q in templates.questions(data.passages[i]))


def test_a_template_question_counts_less_its_handicap_in_evidence_and_ranking(tmp_path, fake_embedder, monkeypatch):
    """Asked word for word, a template question matches itself (cosine 1): the evidence and the
    ranking both read it less TEMPLATE_HANDICAP, so it cannot lend an off-topic question the
    confidence of a real match."""
    knowledge, index_dir = build_article(tmp_path, fake_embedder)
    ret = Retriever(index.load(index_dir), fake_embedder)
    target = next(i for i, p in enumerate(ret.passages) if p.section[-1:] == ("Key Responsibilities",))
    query = ret.normalize(templates.questions(ret.passages[target])[0])
    row = next(s for s in ret.score([query])[0] if s.passage == target)
    taken = retriever_mod.TEMPLATE_HANDICAP
    monkeypatch.setattr(retriever_mod, "TEMPLATE_HANDICAP", 0.0)
    plain = next(s for s in ret.score([query])[0] if s.passage == target)
    assert plain.dense == pytest.approx(1.0, abs=1e-4)
    assert row.dense == pytest.approx(max(1.0 - taken, max(row.unit_scores)), abs=1e-4)
    assert plain.fused - row.fused == pytest.approx(plain.dense - row.dense, abs=1e-5)


def test_a_template_question_many_sections_share_is_indexed_for_none(retriever):
    """Many similar guides ask the same template question of many sections: it tells none of
    them apart, so no view is made for it; an article's own few sections keep theirs."""
    base = next(p for p in retriever.passages if p.section == ("What Is a Data Scientist?", "Key Responsibilities"))
    alone = [replace(base, doc="guide-0")]
    many = [replace(base, doc=f"guide-{n}") for n in range(index.TEMPLATE_MAX_SECTIONS + 1)]
    _, _, kinds = index._views(alone)
    assert kinds.count(index.TEMPLATE_VIEW) == len(templates.questions(base)) > 0
    _, _, kinds = index._views(many)
    assert index.TEMPLATE_VIEW not in kinds

"""The page advertising its publisher (promotion.py): plugs lead an answer only when asked for."""

import numpy as np

from rolebot.knowledge import Passage
from rolebot.promotion import PROMO_HANDICAP, Promotion, names_any


def passage(text: str, doc: str = "guide") -> Passage:
    return Passage(id=f"{doc}/x/1", doc=doc, title="Tea vs Coffee", url="", section=("Brewing",), anchor="x",
                   kind="passage", text=text)


def test_a_capitalised_name_is_found_with_a_typo_and_a_possessive():
    assert names_any("Start with upGrad KnwoledgeHut’s well structured course.", ["knowledgehut"])
    assert names_any("A path like upGrad KnowledgeHut Data Science can help.", ["knowledgehut"])
    assert not names_any("the knowledgehut of it, written in lower case", ["knowledgehut"])
    assert not names_any("Knowledge helps. Hut prices vary.", ["knowledgehut"])


def test_only_the_pieces_naming_the_publisher_are_flagged():
    passages = [passage("Brew at 80 degrees. Still unsure? Try Acme Learnng's tea course today."),
                passage("Steep for three minutes.")]
    promo = Promotion(passages, [{"slug": "guide", "author": "Acme Learning"}], lambda doc: {"learning", "tea"})
    assert promo.names("guide") == ["acme"]  # "learning" is a word the page writes in lower case
    assert promo.flags(0).tolist() == [0.0, 1.0]
    assert promo.flags(1) is None
    lengths = [len(passages[0].pieces()), len(passages[1].pieces())]
    handicap = promo.handicap([0, 1], lengths)
    assert handicap.tolist() == (PROMO_HANDICAP * np.concatenate([promo.flags(0), np.zeros(lengths[1])])).tolist()
    assert promo.whole([0, 1]).tolist() == [0.0, 0.0]  # the first passage says more than its plug


def test_a_publisher_that_is_an_ordinary_word_flags_nothing():
    passages = [passage("Our Team recommends a slow pour. The team tasted twelve teas.")]
    promo = Promotion(passages, [{"slug": "guide", "author": "The Team"}], lambda doc: {"team", "the"})
    assert promo.names("guide") == [] and promo.flags(0) is None
    assert promo.handicap([0], [len(passages[0].pieces())]) is None
    none = Promotion(passages, [{"slug": "guide"}], lambda doc: set())  # no author at all
    assert none.flags(0) is None


def test_the_articles_plugs_answer_a_question_about_courses_and_lead_no_other(assistant):
    flagged = {assistant.retriever.passages[p].id for p in range(len(assistant.retriever.passages))
               if assistant.retriever.pieces.promotion.flags(p) is not None}
    assert flagged == {"ml-engineer-vs-data-scientist/intro/2",
                       "ml-engineer-vs-data-scientist/similarities-between-ml-engineer-and-data-scientist/3"}
    asked = assistant.answer("does the page recommend any python course?")
    assert asked.kind == "answer" and "Data Science with Python Course" in asked.text[:200]
    for question in ("where should a complete newbie start, DS or MLE?", "Why do people often confuse the two roles?",
                     "where do I start?"):  # the plug was once quoted beside the Conclusion's advice
        answer = assistant.answer(question)
        assert answer.kind == "answer" and "upGrad" not in answer.text, (question, answer.text)

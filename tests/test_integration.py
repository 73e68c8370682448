"""The real article, the real bundled model, the real FAISS index: build → search → answer."""

import re

import pytest

from rolebot import Answer, Hit
from rolebot.conversation import Topic

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    "question, section",
    [
        ("What tools do ML engineers use?", "Tools"),
        ("What does a data scientist do all day?", "Data Scientist"),
        ("Which role is better for beginners?", "beginners"),
        ("Can a data scientist switch to ML engineering?", "Can a Data Scientist become an ML Engineer?"),
        # Not "how do both roles work together in a project" -> Workflow: the adapted encoder
        # ranks the FAQ on projects and Similarities above it (docs/answer-quality.md, "Where it falls short").
    ],
)
def test_search_finds_the_answering_section(retriever, question, section):
    hits = retriever.search(question, k=3)
    assert all(isinstance(h, Hit) for h in hits) and len(hits) == 3
    assert any(section.lower() in h.section.lower() for h in hits), [h.section for h in hits]


def test_tools_answer_names_the_tools(assistant):
    ans = assistant.answer("What tools do ML engineers use?")
    assert isinstance(ans, Answer) and ans.kind == "answer"
    assert re.search(r"Docker|Kubernetes|TensorFlow", ans.text)
    assert ans.citations and "[1]" in ans.text
    assert len(ans.text) <= 650


def test_a_question_asking_which_software_leads_with_the_names(assistant):
    # "visualization" matches the responsibility "Creating dashboards, reports, and
    # visualizations" more closely than any tool; the question asks for a name, so the item that
    # names the tools leads (retriever.NAMES_BONUS).
    ans = assistant.answer("which visualization software should a data scientist know")
    assert ans.kind == "answer" and re.search(r"Tableau|Power BI", ans.text[:200]), ans.text


def test_a_what_is_question_about_a_tool_is_not_answered_with_a_roles_definition(assistant):
    # "what's X …?" reads like "what is X?"; only the section defining what it names may lead
    # (a role's "What Is …?" section ranking third is no answer about MLflow).
    ans = assistant.answer("what's mlflow used for")
    assert ans.kind == "answer" and "MLflow" in ans.text[:120], ans.text
    assert assistant.answer("what is an MLE").text.startswith("An ML Engineer is responsible")


def test_a_sentence_that_introduces_a_list_is_quoted_with_it(assistant):
    # The chunker keeps "In most companies, both roles work closely together as part of the same
    # pipeline." and the pipeline's steps in two passages; the sentence alone promises the steps.
    ans = assistant.answer("how do the two roles work together on one project")
    assert ans.kind == "answer" and "tested and validated" in ans.text, ans.text


def test_a_sentence_that_turns_against_the_lead_follows_it(assistant):
    # "At first glance, they seem similar … However, … quite different.": the turn is the point,
    # so it comes right after the sentence it answers, before any other context.
    ans = assistant.answer("honestly they sound like the same job to me, both do models no?")
    assert "quite different" in ans.text[:300], ans.text


def test_a_list_item_sharing_a_rare_word_with_the_question_leads(assistant):
    # The item's cosine barely stands out from the other overlaps; "collaborate" names it.
    ans = assistant.answer("do they actually collaborate or do they work in silos?")
    assert ans.text.startswith("**Both collaborate closely in real-world projects**"), ans.text


def test_what_a_learner_says_of_themselves_does_not_make_a_question_out_of_scope(assistant):
    # "5 years of Java" used a not-covered word ("years of experience required"); it describes
    # the learner. The same word in what is asked still counts.
    about_me = "I'm a backend developer with 5 years of Java and a lot of Docker. Which of the two roles fits me better?"
    assert assistant.answer(about_me).kind == "answer"
    assert assistant.answer("I have 5 years of experience. How much do data scientists earn?").kind == "not_found"
    # the same within one sentence
    assert assistant.answer("I have a CS degree, which one suits me?").kind == "answer"
    assert assistant.answer("I have 5 years of experience, how much do data scientists earn?").kind == "not_found"


def test_how_much_of_a_covered_thing_is_not_the_pay_question(assistant):
    # "much" comes from the not-covered "how much each role earns": it asks the amount of what
    # follows it, so "how much statistics" is the statistics FAQ's question, "how much … make" pay.
    ans = assistant.answer("how much statistics does an ml engineer need compared to a ds")
    assert ans.kind == "answer" and "statistics" in ans.text[:200].lower()
    for pay in ("how much do data scientists make?", "how much money does an ML engineer get?",
                "how many hours do ML engineers work?"):
        assert assistant.answer(pay).kind == "not_found", pay


def test_a_walk_through_a_list_by_place_and_by_next(assistant):
    history = []

    def ask(text):
        ans = assistant.answer(text, history=list(history))
        history.extend([{"role": "user", "content": text}, {"role": "assistant", "content": ans.text}])
        return ans.text

    assert ask("in a real project how do DS and MLE split the work, whats the first step").startswith(
        "**A Data Scientist analyzes data and builds a model**")
    assert "tested and validated" in ask("and after that?")[:120]
    assert "deploys the model" in ask("then what")[:120]
    assert "monitor and improve" in ask("n the last step")[:120]
    assert "A Data Scientist analyzes data and builds a model" in ask("who does the first step?")[:120]
    assert "A Data Scientist analyzes data and builds a model" in ask("sum it up in one line")[:120]  # already one line
    history.clear()
    ask("who deploys models into production?")
    assert "tested and validated" in ask("what happens right before that?")[:120]
    history.clear()
    ask("how does a typical project flow between the two roles")
    # after the step it names, not after the list: the list's last step follows deployment
    assert "monitor and improve" in ask("what comes after deployment?")[:120]


def test_a_short_why_made_of_the_last_answers_words_is_asked_beside_it(assistant):
    first = "Do ML Engineers need to know statistics like Data Scientists?"
    history = [{"role": "user", "content": first}, {"role": "assistant", "content": assistant.answer(first).text}]
    assert assistant.answer("why less focused?", history=history).kind == "answer"
    assert assistant.answer("why less focused?").kind == "not_found"  # alone it asks nothing the article answers


def test_sum_it_up_quotes_one_line_of_the_last_answer_naming_both_roles(assistant):
    history = []
    first = assistant.answer("what's the main difference between them?")
    history += [{"role": "user", "content": "what's the main difference between them?"},
                {"role": "assistant", "content": first.text}]
    gist = assistant.answer("can you sum it up in one line?", history=history)
    assert gist.kind == "answer" and len(gist.citations) == 1
    line = gist.text.split(" [1]")[0]
    assert len(line) <= 160 and "Data Scientist" in line and "ML Engineer" in line
    assert line in first.text  # from the answer being summed up, not from elsewhere


def test_a_turn_that_narrows_the_last_answer_is_read_against_it(assistant):
    """"which cloud exactly?" names no role and asks nothing the article answers on its own; after
    an answer about what ML engineers manage it asks which cloud platforms."""
    history = []
    for turn in ("how do ml engineers put models in apps", "what else do they manage"):
        history += [{"role": "user", "content": turn}, {"role": "assistant", "content": assistant.answer(turn, history=history).text}]
    narrowed = assistant.answer("which cloud exactly", history=history)
    assert narrowed.kind == "answer" and "AWS" in narrowed.text.split("\n")[0]
    assert assistant.answer("which cloud exactly").kind == "not_found"


def test_a_request_for_a_section_by_its_heading_opens_with_the_section(assistant):
    """"give me the conclusion" names a section and asks nothing else: the answer starts where a
    reader would, at the conclusion's first sentences in their order; a question naming one role
    still leads with that role's part ("skills for mle?")."""
    answer = assistant.answer("give me the conclusion of the article in short")
    assert answer.kind == "answer"
    assert answer.text.startswith("In real-world jobs, the difference between an ML Engineer and a Data Scientist becomes very clear. [1] "
                                  "A Data Scientist focuses on understanding data")
    assert not assistant.answer("skills for mle?").text.startswith("Both roles require")


def _quoted_segments(text: str):
    """(marker number, quoted text) pairs: every piece of the answer and the source it cites."""
    for match in re.finditer(r"(.+?)\s*\[(\d+)\]", text, re.S):
        quoted = match.group(1).strip()
        for line in quoted.split("\n"):
            line = re.sub(r"^\*[^*]+\?\*\s+", "", line.strip())  # a heading before a sentence that opens with "Their…"
            line = line.lstrip("- ").strip()
            if line.startswith("**") and line.endswith("**"):  # the short answer: list items in bold
                for item in line.split("; "):
                    yield int(match.group(2)), item.strip("*")
            elif line and not (line.startswith("*") and line.endswith(":*")):  # a section heading, not a quote
                yield int(match.group(2)), line


@pytest.mark.parametrize(
    "question",
    [
        "What tools do ML engineers use?",
        "what skills does a data scientist need",
        "what do ML engineers do?",
        "Do ML engineers need statistics?",
        "which role should I choose if I like coding?",
        "so which one does the system design?",
    ],
)
def test_every_quoted_piece_is_in_the_passage_it_cites(assistant, question):
    ans = assistant.answer(question)
    assert ans.kind == "answer"
    pieces = list(_quoted_segments(ans.text))
    assert pieces
    for n, piece in pieces:
        assert 1 <= n <= len(ans.citations)
        assert piece in ans.citations[n - 1].text, (piece, ans.citations[n - 1].id)


@pytest.mark.parametrize(
    "question, kind",
    [("what does a data engineer do?", "not_found"), ("what does a product manager do all day?", "not_found"),
     # the roles the article compares, however they are named, with words that make no other role
     ("what does a machine learning engineer do?", "answer"), ("what does a senior data scientist do?", "answer"),
     ("can a software engineer become an ML engineer?", "answer"),
     # asked beside a role it compares: the answer would be about the one it names, not the other
     ("what does a data engineer do and how is that different from an MLE?", "not_found"),
     ("I'm a data engineer, should I move to ML engineering?", "answer")],
)
def test_a_role_the_article_never_names_is_not_answered_for_one_it_compares(assistant, question, kind):
    assert assistant.answer(question).kind == kind


@pytest.mark.parametrize(
    "history, question, kind",
    [([], "how long does it take to learn docker?", "not_found"),
     ([], "how many months till I'm job ready?", "not_found"),
     (["what tools do ML engineers use?"], "how long does it take to learn those?", "not_found"),
     # the same words, asking for something the article states
     ([], "do ML engineers make models faster?", "answer"), ([], "what do ML engineers use docker for?", "answer")],
)
def test_a_length_of_time_is_not_answered_from_an_article_that_states_none(assistant, history, question, kind):
    turns = []
    for earlier in history:
        turns += [{"role": "user", "content": earlier}, {"role": "assistant", "content": assistant.answer(earlier).text}]
    assert assistant.answer(question, history=turns or None).kind == kind


@pytest.mark.parametrize(
    "question, kind",
    [("which role earns more, DS or MLE?", "not_found"), ("which role pays better?", "not_found"),
     # the roles and the comparison match the article well; what is asked is only a not-covered word
     ("which role is more analytical, DS or MLE?", "answer"), ("which role needs more math?", "answer")],
)
def test_a_comparison_that_asks_only_about_a_declared_topic_is_refused(assistant, question, kind):
    assert assistant.answer(question).kind == kind


@pytest.mark.parametrize(
    "question, kind",
    [("is the job market good for data scientists right now?", "not_found"), ("what are ML engineer salaries like?", "not_found"),
     # the same stem grown into another word is not the declared topic ("the job market")
     ("do data scientists need to explain their results to people in marketing or sales who aren't technical?", "answer"),
     ("how do i enroll in the data science course?", "not_found"),  # the base of a declared word ("enrollment") is it
     # "worth" says how, not what: "certifications and whether they are worth it" is about certifications
     ("is tableau or power bi worth learning if i want a data science job?", "answer"),
     ("are certifications worth it for ML engineers?", "not_found")],
)
def test_a_declared_word_is_matched_as_a_word_not_only_as_a_stem(assistant, question, kind):
    assert assistant.answer(question).kind == kind


@pytest.mark.parametrize(
    "question, kind",
    [("how does docker work?", "not_found"), ("how does kubernetes autoscaling actually work under the hood", "not_found"),
     ("what does drift actually mean, technically?", "not_found"),
     # doing what the article only names: detecting, measuring, learning it
     ("whats model drift mathematically and how do i detect it", "not_found"),
     ("latency?? what's that even, how is it measured", "not_found"), ("can u teach me probability basics", "not_found"),
     # how the roles work is what the article is about
     ("how do the two roles work together?", "answer"), ("how does an ML engineer work with data scientists?", "answer"),
     ("how do i become an ML engineer?", "answer"), ("what do ML engineers monitor models for?", "answer")],
)
def test_how_a_thing_works_inside_is_not_answered_where_the_article_only_names_it(assistant, question, kind):
    assert assistant.answer(question).kind == kind


@pytest.mark.parametrize(
    "question, kind",
    [("is pytorch better than tensorflow?", "not_found"), ("docker vs kubernetes, which is better?", "not_found"),
     ("whats the difference between airflow and mlflow", "not_found"), ("is power bi better than tableau?", "not_found"),
     ("Should I learn AWS or Azure first?", "not_found"), ("whats the diff between docker n kubernetes", "not_found"),
     ("REST or gRPC, which is better for serving models?", "not_found"),  # two things it never names
     # the same things asked about, not weighed against each other; and what the article does set apart
     ("do ML engineers use PyTorch?", "answer"), ("what are docker and kubernetes used for by ML engineers?", "answer"),
     ("is tableau more of a DS thing or an MLE thing", "answer"), ("what is the brain vs body comparison about?", "answer"),
     ("i like math and analysis, which one should i pick", "answer"),
     # "how specific algorithms work" is not covered; a question that asks for specifics is not about it
     ("which mlops tools specifically?", "answer")],
)
def test_weighing_two_things_the_article_only_lists_together_is_not_answered(assistant, question, kind):
    """"TensorFlow / PyTorch" names both and tells them apart nowhere: a question that weighs
    one against the other finds them, and the article still does not answer it."""
    assert assistant.answer(question).kind == kind


@pytest.mark.parametrize(
    "question", ["What's the weather in Paris tomorrow?", "How do I bake sourdough bread?", "what is 17 times 23?"]
)
def test_unrelated_questions_are_not_found(assistant, question):
    ans = assistant.answer(question)
    assert ans.kind == "not_found"
    assert ans.citations == []
    assert "doesn't cover" in ans.text
    assert ans.suggestions  # nearest topics to offer instead


def test_a_quote_that_opens_with_a_pronoun_names_its_section(assistant):
    """'Their work is more focused on system design' alone does not say whose work."""
    ans = assistant.answer("so which one does the system design?")
    assert ans.kind == "answer" and "system design" in ans.text
    first = ans.text.split(" [")[0]
    assert not re.match(r"(They|Their|It|Its|This|These)\b", first)
    if re.search(r"\*[^*]+\* (They|Their|It|Its|This|These)\b", first):  # opened by a pronoun: the heading says whose
        assert re.match(r"\*What Is an ML Engineer\?\* ", first), first


@pytest.mark.parametrize("question", ["are the responsibilities separated in larger organizations?",
                                      "they look the same to me, so what is different in real jobs?"])
def test_a_quote_never_opens_with_a_turn_against_a_sentence_left_out(assistant, question):
    """"However, in larger organizations, these responsibilities are clearly separated" alone
    does not say against what: the sentence it turns against comes first."""
    ans = assistant.answer(question)
    assert ans.kind == "answer" and "However, " in ans.text
    assert not re.match(r"\W*However\b", ans.text)
    before = ans.text.split("However, ")[0]
    assert before.rstrip().endswith("[1]")  # the sentence before it, from the same passage


def test_the_sentence_of_an_faq_answer_that_answers_leads_it(assistant):
    """An FAQ's answer is quoted whole, led by the sentence that answers the question; the
    sentence that first stood before it follows, from the same FAQ."""
    ans = assistant.answer("why are deployment skills so valued by companies")
    assert ans.citations[0].kind == "faq"
    assert ans.text.startswith("Professionals with deployment and scalability skills are highly valued"), ans.text[:120]
    assert "Both roles offer excellent long-term growth" in ans.text.split("[1]", 2)[1]


def test_faq_question_is_answered_by_its_faq(assistant):
    ans = assistant.answer("Is ML engineering part of data science?")
    assert ans.citations[0].kind == "faq"
    assert ans.citations[0].id.endswith("/is-ml-engineering-a-part-of-data-science/1")
    assert ans.citations[0].text in ans.text


@pytest.mark.parametrize("text", ["hi", "thanks!", "what can you do?", "bye"])
def test_smalltalk_has_no_citations(assistant, text):
    ans = assistant.answer(text)
    assert ans.kind == "smalltalk" and ans.citations == []


def test_a_remark_is_not_refused(assistant):
    """A reaction the article has no answer for gets small talk with topics to go on from, not
    "the article doesn't cover that"; a statement about an uncovered topic is still refused."""
    history = [{"role": "user", "content": "what skills does an ML engineer need?"},
               {"role": "assistant", "content": assistant.answer("what skills does an ML engineer need?").text}]
    for said in (None, history):
        ans = assistant.answer("wow that's a lot to learn haha", said)
        assert ans.kind == "smalltalk" and ans.citations == [] and "doesn't cover" not in ans.text
        assert ans.suggestions and all(s.endswith("?") for s in ans.suggestions)
    assert assistant.answer("salary of data scientists in india").kind == "not_found"


def test_whats_next_is_never_the_publishers_plug(assistant):
    """The runner-up sentence of "is data science a good start?" is followed in the article by the
    page's course advert; "and after that?" goes on from the answer's point instead."""
    history = []
    for said in ("i'm switching careers from marketing, is data science a good start?", "ok thats encouraging"):
        history += [{"role": "user", "content": said}, {"role": "assistant", "content": assistant.answer(said, list(history)).text}]
    after = assistant.answer("and after that?", history)
    assert "upGrad" not in after.text and "From there, you can transition into ML Engineering" in after.text, after.text


def test_a_remark_leaves_the_topic_where_it_was(assistant):
    """After "my head is spinning" the conversation is still about the answer before it, as after
    a "thanks!": "can you give an example?" gets that section's example."""
    history = []
    for said in ("what does a data scientist do?", "my head is spinning"):
        history += [{"role": "user", "content": said}, {"role": "assistant", "content": assistant.answer(said, list(history)).text}]
    assert history[-1]["content"].startswith("I hear you!")
    example = assistant.answer("can you give an example?", history)
    assert example.kind == "answer" and "Netflix" in example.text[:200], example.text[:200]


def test_follow_up_uses_the_history(assistant):
    history = [
        {"role": "user", "content": "What tools do ML engineers use?"},
        {"role": "assistant", "content": "TensorFlow / PyTorch ..."},
    ]
    ans = assistant.answer("and data scientists?", history=history)
    assert ans.kind == "answer"
    assert re.search(r"Jupyter|Pandas|Scikit", ans.text)
    # A self-contained question in the same chat is not dragged back to tools.
    switch = assistant.answer("Which role is better for beginners?", history=history)
    assert "beginner" in switch.text.lower()


def test_suggestions_are_offered(assistant):
    ans = assistant.answer("What tools do ML engineers use?")
    assert 2 <= len(ans.suggestions) <= 3
    assert all(isinstance(s, str) and s for s in ans.suggestions)


@pytest.mark.parametrize("question", ["What tools do ML engineers use?", "what does a data scientist produce?",
                                      "how much do data scientists earn?", "hello", "what is the conclusion?"])
def test_suggestions_are_questions_a_learner_would_click(assistant, question):
    for suggestion in assistant.answer(question).suggestions:
        assert suggestion.endswith("?"), suggestion  # never a bare heading like "Conclusion"


def test_small_talk_page_facts_and_examples_mid_conversation(assistant):
    """Small talk and page facts mid-conversation are never rewritten into the previous topic."""
    first = assistant.answer("what does an ML engineer do?")
    history = [{"role": "user", "content": "what does an ML engineer do?"}, {"role": "assistant", "content": first.text}]
    assert first.text.startswith("An ML Engineer is responsible")  # the defining sentence leads
    author = assistant.answer("who's the author?", history)
    assert author.kind == "answer" and "KnowledgeHut" in author.text and author.citations[0].kind == "document"
    assert assistant.answer("cheers mate", history).kind == "smalltalk"
    example = assistant.answer("show me a concrete case", history)
    assert "Netflix" in example.text and example.citations[0].id.endswith("real-world-example/1")


def test_an_example_after_an_faq_answer_comes_from_a_section_headed_like_one(assistant):
    """An FAQ's section is the other FAQs: "an example?" after one looks for the article's
    example sections, searched with the learner's question (the subject they asked about)."""
    first = "Can a data scientist move into ML engineering later on?"
    reply = assistant.answer(first)
    assert reply.citations[0].kind == "faq"
    history = [{"role": "user", "content": first}, {"role": "assistant", "content": reply.text}]
    example = assistant.answer("got an example of that in practice?", history)
    assert example.kind == "answer" and "example" in example.citations[0].section.lower(), example.citations[0].id
    # The FAQ that answers a question may be framed around the other role: the example is of the
    # role the learner asked about.
    first = "what fields does data science combine?"
    reply = assistant.answer(first)
    assert reply.citations[0].kind == "faq", reply.citations[0].id
    history = [{"role": "user", "content": first}, {"role": "assistant", "content": reply.text}]
    example = assistant.answer("got an example of that in practice?", history)
    assert example.citations[0].id.startswith("ml-engineer-vs-data-scientist/what-is-a-data-scientist"), example.citations[0].id


def test_a_turn_that_points_back_is_asked_again_in_the_conversations_context(assistant):
    first = "Can a data scientist move into ML engineering later on?"
    reply = assistant.answer(first)
    switch = "can-a-data-scientist-become-an-ml-engineer"
    assert reply.kind == "answer" and switch in reply.citations[0].id
    history = [{"role": "user", "content": first}, {"role": "assistant", "content": reply.text}]
    for turn in ("does that happen a lot?", "is that something people do often?"):
        assert assistant.answer(turn).kind == "not_found"  # on its own words the article cannot answer it
        in_context = assistant.answer(turn, history)
        assert in_context.kind == "answer" and switch in in_context.citations[0].id, turn
    # The conversation lends context, not evidence: what the article lacks stays unanswered.
    assert assistant.answer("how much does it pay?", history).kind == "not_found"


def test_an_opening_they_means_the_two_roles_the_article_compares(assistant):
    """With no conversation yet, "they" in a comparison article can only mean its two roles."""
    ans = assistant.answer("what do they have in common?")
    assert ans.kind == "answer" and "similarities" in ans.citations[0].id, ans.citations[0].id
    assert assistant.resolve("what do they have in common?").endswith("(ML Engineer and Data Scientist)?")
    # In a conversation "they" is whatever the conversation is about.
    first = "what does a data scientist do?"
    history = [{"role": "user", "content": first}, {"role": "assistant", "content": assistant.answer(first).text}]
    assert "ML Engineer and Data Scientist" not in assistant.resolve("what tools do they use?", history)


def test_a_fragment_is_asked_again_in_context_unless_the_article_lacks_its_words(assistant):
    first = "do companies hire these as separate jobs"
    reply = assistant.answer(first)
    assert reply.kind == "answer"
    history = [{"role": "user", "content": first}, {"role": "assistant", "content": reply.text}]
    assert assistant.answer("in a startup tho?").kind == "not_found"  # alone it asks nothing
    in_context = assistant.answer("in a startup tho?", history)
    assert in_context.kind == "answer" and "startup" in in_context.text.lower()
    assert assistant.answer("any good pizza places nearby?", history).kind == "not_found"
    # The fragment's turn is about the first question: a turn after it is rewritten against both.
    history += [{"role": "user", "content": "in a startup tho?"}, {"role": "assistant", "content": in_context.text}]
    topic = assistant.conversation.topic(history)
    assert topic.question.startswith("in a startup tho (") and first in topic.question, topic.question


def test_the_step_a_follow_up_asks_about_leads_the_list_a_sentence_introduces(assistant):
    """The pipeline's steps come with the sentence that introduces them: the step the question is
    about leads, as it would in a list quoted on its own, and "what happens after that?" goes on
    from it."""
    history = []
    for question in ("how do the two roles work together?", "who does the testing?"):
        reply = assistant.answer(question, history)
        history += [{"role": "user", "content": question}, {"role": "assistant", "content": reply.text}]
    assert reply.text.startswith("**The model is tested and validated**"), reply.text[:120]
    after = assistant.answer("what happens after that?", history)
    assert "deploys the model into production" in after.text[:120], after.text[:120]


def test_a_question_about_the_next_step_ranks_the_list_that_holds_the_step_it_names(assistant, retriever):
    # "A Data Scientist focuses on understanding data and building models…" (the conclusion)
    # talks about building models more closely than the pipeline does; the answer is a next step.
    question = "what happens after the data scientist builds the model"
    assert "The model is tested and validated" in retriever.search(question, k=1)[0].text
    assert assistant.answer(question).text.startswith("**The model is tested and validated**")


def test_what_comes_after_a_step_is_the_next_item_and_a_next_move_walks_on(assistant):
    """A "what happens after X?" question leads with the list item after the one naming X, and
    "and after that?" continues from the point of the last answer, not from its last line."""
    first = "what happens once the model has been tested?"
    reply = assistant.answer(first)
    assert reply.text.startswith("**An ML Engineer deploys the model into production**"), reply.text[:120]
    history = [{"role": "user", "content": first}, {"role": "assistant", "content": reply.text}]
    walk = assistant.answer("and after that?", history)
    assert "monitor and improve performance" in walk.text.split("[1]")[0], walk.text[:200]


def _talk(assistant, turns):
    history, replies = [], []
    for turn in turns:
        reply = assistant.answer(turn, history)
        replies.append(reply)
        history += [{"role": "user", "content": turn}, {"role": "assistant", "content": reply.text}]
    return replies


def test_a_step_question_after_a_list_of_steps_is_asked_beside_it(assistant):
    """"What happens right after the model gets built?" alone is too vague to answer (it was
    refused); after the pipeline's steps it is about them, and the topic it leaves says so: the
    next "and after that step?" walks on, and "is it the same in a startup?" still means the
    pipeline."""
    replies = _talk(assistant, ["how do the two roles actually work together on a project?",
                                "what happens right after the model gets built?", "and after that step?",
                                "is it the same setup in a startup?"])
    assert replies[1].text.startswith("**The model is tested and validated**"), replies[1].text[:120]
    assert "deploys the model into production" in replies[2].text.split("[1]")[0], replies[2].text[:200]
    assert replies[3].kind == "answer" and "one person might handle both roles" in replies[3].text


def test_them_after_a_question_about_these_two_jobs_means_the_two_roles(assistant):
    """The last question named the pair by a group word ("these two jobs"): "them" is the two
    roles, not that whole question (it was borrowed whole, and nested in the next rewrite)."""
    history = [{"role": "user", "content": "why are these two jobs so hyped right now?"},
               {"role": "assistant", "content": "Data Scientists spend most of their time experimenting with data. [1]"}]
    pair = assistant.retriever.pair
    assert assistant.resolve("why do ppl confuse them?", history) == f"why do people confuse them ({pair[0]} and {pair[1]})?"


def test_a_misspelt_role_swaps_the_role(assistant):
    """"ML enginer too?" after a question about data scientists asks it of ML engineers: the
    role word is read through the speller (only role words: the rest stays as typed)."""
    history = [{"role": "user", "content": "data scientist need statistic a lot?"},
               {"role": "assistant", "content": "Data Scientists rely heavily on statistics for modeling and insights. [1]"}]
    resolved = assistant.resolve("ML enginer too?", history)
    assert "statistic" in resolved and "engineer" in resolved.lower() and "data scientist" not in resolved.lower(), resolved
    assert assistant.conversation.spell_roles("whats differnce between ML enginer and DS") == "whats differnce between ML engineer and DS"


def test_a_role_named_by_half_its_name_is_named_whole(assistant):
    """"The engineer", "the engineering one", "the ml guys": the role of the pair that half names,
    so a role swap or a pronoun finds it ("and the ml guys?" was asked about data scientists)."""
    read = assistant.conversation.spell_roles
    assert read("or is that the engineer") == "or is that the ML engineer"
    assert read("only the engineering one?") == "only the ML engineering one?"
    assert read("and the ml guys?") == "and the ML Engineers?"
    assert read("what does the scientist do") == "what does the Data scientist do"
    for text in ("the ML engineer builds", "software engineering concepts", "the data pipeline"):
        assert read(text) == text
    history = [{"role": "user", "content": "what do data scientists produce?"},
               {"role": "assistant", "content": "Data Scientist Output: Insights, reports, dashboards, and trained models [1]"}]
    assert "data scientist" not in assistant.resolve("and the ml guys?", history).lower()


def test_a_bare_when_after_a_page_fact_asks_the_pages_date(assistant):
    """"when?" right after "who wrote this article?" asks when the page was written; after a
    question about the article's content it is no page fact."""
    replies = _talk(assistant, ["who wrote this article?", "when?", "what does a data scientist do?", "when?"])
    assert "KnowledgeHut" in replies[0].text and "2026-04-07" in replies[1].text
    assert "2026-04-07" not in replies[3].text


def test_a_sentence_that_opens_two_lists_is_never_quoted_alone(assistant):
    """"Which role fits me?" matches the section's opening sentence best ("Choosing between these
    roles depends on your interests and strengths."), which alone says nothing: the lists it
    opens follow, both halves of the pair, the one nearer the question first."""
    general = assistant.answer("which role fits me?").text
    assert "Choose Data Scientist if you:" in general and "Choose ML Engineer if you:" in general, general
    targeted = assistant.answer("which role is better if i like building apis").text
    assert targeted.index("Choose ML Engineer if you:") < targeted.index("Choose Data Scientist if you:"), targeted
    assert len(general) <= 600 and len(targeted) <= 600


def test_a_follow_up_that_names_its_own_subject_asks_it_of_the_pair(assistant):
    """"and the differences?" after "what are the similarities?" (a question that named no role)
    asks the differences of the two roles: borrowed whole, the last question's "similarities"
    brought its own answer back."""
    replies = _talk(assistant, ["what are the similarities?", "and the differences?"])
    assert "overlaps" in replies[0].text and "overlaps" not in replies[1].text.split("[1]")[0], replies[1].text[:200]
    assert "difference" in replies[1].text.split("[1]")[0].lower()


def test_which_is_easier_asks_which_of_the_two(assistant):
    """"Which is easier?" with no role named asks which of the two the article compares, opening a
    conversation or after a refused turn ("which pays better?"); it was refused both ways."""
    assert "beginner-friendly" in assistant.answer("which is easier?").text
    replies = _talk(assistant, ["whats a data scientist", "which pays better?", "ok whatever, which is harder?"])
    assert replies[1].kind == "not_found" and "beginner" in replies[2].text, replies[2].text[:200]
    # Named, the pair lifts any "which is …er?": what the article declares it lacks still counts,
    # in an irregular form too ("paid" is "pay", declared in the front matter's not_covered).
    for question in ("which is better paid?", "are ML engineers paid more?"):
        assert assistant.answer(question).kind == "not_found", question


def test_what_the_learner_says_of_themselves_lends_no_uncovered_topic(assistant):
    """"total beginner here, never coded. where should I start?" was refused: "never coded" came
    nearer the declared "programming help and code" than the article's evidence came to the whole
    message. The declared topics are now measured against what is asked, as their words were."""
    answer = assistant.answer("total beginner here, never coded. where should I start?")
    assert answer.kind == "answer" and "beginner" in answer.text.lower(), answer.text[:200]
    assert assistant.answer("never coded before. how much does an ML engineer earn?").kind == "not_found"


def test_what_comes_before_a_step_is_the_item_before_it(assistant):
    """The mirror of "what comes after X?", within the list the last answer quoted."""
    replies = _talk(assistant, ["how do the two roles actually work together on a project?",
                                "what comes right before deployment?"])
    assert replies[1].text.startswith("**The model is tested and validated**"), replies[1].text[:120]


def test_a_next_move_falls_back_to_the_first_cited_passage(assistant):
    """When nothing follows the last line of an answer's first paragraph (a runner-up passage's
    sentence at the end of its section), "what's next?" continues the first cited passage."""
    conv, passages = assistant.moves.walks, assistant.retriever.passages
    faq = next(i for i, p in enumerate(passages) if p.kind == "faq" and len(conv.units[i]) > 1)
    # The last line of the last passage whose section has nothing after it.
    end = max(i for i, p in enumerate(passages) if p.kind != "faq")
    last = (end, len(conv.units[end]) - 1, conv.units[end][-1].count("\n"))
    assert conv._after(*last) == []
    point = ((faq, 0, 0), last)
    assert conv.next(Topic("q", point, point)) == [(faq, conv.units[faq][1])]
    # A last line that something follows is continued, whichever passage it came from.
    other = next(i for i, p in enumerate(passages) if p.kind != "faq" and len(conv.units[i]) > 1 and "\n" not in conv.units[i][0])
    point = ((faq, 0, 0), (other, 0, 0))
    assert conv.next(Topic("q", point, point)) == [(other, conv.units[other][1])]


def test_a_rewritten_follow_up_favours_the_last_answers_section_not_only_its_passages(assistant):
    """'what about MLEs?' after a quote from one role's half of a section: the other half (same
    section) wins a near tie against a passage elsewhere; an FAQ's section lends nothing."""
    from rolebot.assistant import TOPIC_BONUS
    from rolebot.retriever import Scored

    ps = assistant.retriever.passages
    quoted, sibling = next((a, b) for a in range(len(ps)) for b in range(len(ps))
                           if a != b and ps[a].kind != "faq" and ps[a].section == ps[b].section)
    elsewhere = next(i for i, p in enumerate(ps) if p.section != ps[quoted].section and p.kind != "faq")
    rows = [Scored(elsewhere, 0.70, 0.70, 0.0, ()), Scored(sibling, 0.70 - TOPIC_BONUS / 2, 0.68, 0.0, ())]
    topic = Topic("q", ((quoted, 0, 0),), ((quoted, 0, 0),))
    assert [r.passage for r in assistant._near_topic(rows, topic)] == [sibling, elsewhere]
    faq = next(i for i, p in enumerate(ps) if p.kind == "faq")
    other_faq = next(i for i, p in enumerate(ps) if p.kind == "faq" and i != faq)
    rows = [Scored(elsewhere, 0.70, 0.70, 0.0, ()), Scored(other_faq, 0.70 - TOPIC_BONUS / 2, 0.68, 0.0, ())]
    topic = Topic("q", ((faq, 0, 0),), ((faq, 0, 0),))
    assert [r.passage for r in assistant._near_topic(rows, topic)] == [elsewhere, other_faq]


def test_a_repeated_opening_question_is_answered_from_the_cache(assistant, monkeypatch):
    """Opening questions repeat (FAQ traffic): the second asking reuses the whole answer, as a
    copy the caller may change; a turn with history is always answered afresh."""
    assistant.clear_cache()
    question = "What tools do data scientists use?"
    first = assistant.answer(question)
    shown = len(first.citations)
    first.citations.clear()  # Answer is frozen, its lists are not

    def no_scoring(*args, **kwargs):
        raise AssertionError("a repeated opening question was scored again")

    monkeypatch.setattr(assistant.retriever, "score", no_scoring)
    again = assistant.answer(question)
    assert again.kind == "answer" and again.text == first.text and len(again.citations) == shown > 0
    history = [{"role": "user", "content": "hello"}, {"role": "assistant", "content": "Hello!"}]
    with pytest.raises(AssertionError, match="scored again"):
        assistant.answer(question, history)
    monkeypatch.undo()
    assistant.clear_cache()
    assert assistant.answer(question).text == again.text


def test_the_answer_cache_is_bounded(assistant, monkeypatch):
    monkeypatch.setattr(assistant._answers, "size", 3)
    assistant.clear_cache()
    for n in range(6):
        assistant.answer(f"hello number {n}")
    assert len(assistant._answers) == 3
    assistant.clear_cache()


def test_a_role_swap_answers_from_the_other_roles_half_of_the_quoted_section(assistant):
    """"and where does the ML engineer come in?" after the data scientist's part of the Netflix
    example: the mirrored section ("What Is an ML Engineer? > Real-World Example") is what it asks
    for, though the ML engineer's definition matches the question better on its own."""
    history = []
    for turn in ["what does a data scientist do in the netflix example?", "and where does the ML engineer come in?"]:
        reply = assistant.answer(turn, history)
        history += [{"role": "user", "content": turn}, {"role": "assistant", "content": reply.text}]
    assert reply.kind == "answer" and reply.text.startswith("Continuing the Netflix example, an ML Engineer"), reply.text
    assert reply.citations[0].section.endswith("Real-World Example") and "ML Engineer" in reply.citations[0].section


def test_mirrored_sections_swap_one_roles_heading_for_the_others(assistant):
    from rolebot.conversation import Topic, mirrored

    pair = assistant.retriever.pair
    sections = {p.section for p in assistant.retriever.passages}
    ds, ml = (next(s for s in sections if len(s) == 2 and s[1] == "Real-World Example" and r in s[0]) for r in (pair[1], pair[0]))
    assert mirrored({ds}, sections, (pair[1], pair[0])) == {ml}
    assert mirrored({ds}, sections, (pair[0], pair[1])) == set()  # it names the other role
    shared = next(s for s in sections if len(s) == 2 and s[1].endswith("Output of Work"))
    assert mirrored({shared}, sections, (pair[1], pair[0])) == set()  # about both: its own mirror
    conv = assistant.conversation
    assert conv.swap("and the ml engineer?", Topic("what does a data scientist produce?")) == (pair[1], pair[0])
    assert conv.swap("and the ml engineer?", Topic("how do both roles compare?")) is None
    assert conv.swap("what about data scientists?", Topic("what do data scientists use?")) is None


def test_naming_the_pages_publisher_is_a_question_about_the_page(assistant):
    """The front matter's author ("KnowledgeHut"), named by the learner, mid-conversation too."""
    author = assistant.retriever.manifest["documents"][0]["author"]
    history = [{"role": "user", "content": "what is a data scientist?"},
               {"role": "assistant", "content": "A Data Scientist focuses on extracting insights from data. [1]"}]
    reply = assistant.answer(f"is this a {author.lower()} post or something else?", history)
    assert reply.kind == "answer" and reply.citations[0].kind == "document" and author in reply.text, reply.text
    pasted = assistant.answer("my pandas code throws KeyError: 'date' when i do df['date'], how do i fix it")
    assert pasted.kind == "not_found", pasted.text


def test_what_the_page_is_about_ends_with_its_own_conclusion(assistant):
    """"tl;dr of the whole article?": the sections it covers, then the start of its conclusion in
    its own words, cited to that passage; the answer stays near the length budget."""
    reply = assistant.answer("tl;dr of the whole article?")
    conclusion = next(p for p in assistant.retriever.passages if p.section and p.section[0] == "Conclusion")
    first = conclusion.text.split(". ")[0]
    assert reply.kind == "answer" and f"In short: {first}" in reply.text, reply.text
    assert [c.kind for c in reply.citations] == ["document", "passage"] and reply.citations[1].id == conclusion.id
    assert len(reply.text) <= 650


def test_more_of_a_passage_skips_the_half_about_a_role_the_answer_did_not_name(assistant):
    """"why?" after "If you enjoy math and analysis, Data Science is a better fit.": not "If you
    enjoy coding …, ML Engineering is more suitable." (the rest of that passage, about the other role)."""
    from rolebot.conversation import Topic
    from rolebot.query import roles_named

    walks, units = assistant.moves.walks, assistant.retriever.data.units
    p, u = next((p, u) for p, us in enumerate(units) for u, unit in enumerate(us)
                if len(us) == 2 and len(roles_named(unit)) == 1 and len(roles_named(us[1 - u])) == 1
                and roles_named(unit) != roles_named(us[1 - u]))
    topic = Topic("q", ((p, u, 0),), ((p, u, 0),))
    assert walks.more(topic) == []
    both = next((p, u) for p, us in enumerate(units) for u, unit in enumerate(us) if len(us) > 1 and not roles_named(unit))
    rest = walks.more(Topic("q", ((both[0], both[1], 0),), ((both[0], both[1], 0),)))
    assert len(rest) == len(units[both[0]]) - 1


def test_a_term_a_sentence_only_names_is_answered_with_the_sentence_that_explains_it(assistant):
    reply = assistant.answer("what are production systems?")
    assert reply.kind == "answer" and "real-world traffic" in reply.text[:250], reply.text


def test_a_follow_up_ending_on_then_or_instead_leans_on_the_last_answer(assistant, monkeypatch):
    """"so how do they differ then?" asks in the light of the last answer: its passages gain
    LEANS_BACK_BONUS, more than a plain rewritten follow-up's TOPIC_BONUS (query.LEANS_BACK)."""
    from rolebot.assistant import LEANS_BACK_BONUS, TOPIC_BONUS
    from rolebot.query import LEANS_BACK

    assert LEANS_BACK.search("so how do they differ then?") and LEANS_BACK.search("what do they focus on instead")
    assert not LEANS_BACK.search("and then what happens to the model?")
    assert LEANS_BACK_BONUS > TOPIC_BONUS
    given = []
    near_topic = assistant._near_topic
    monkeypatch.setattr(assistant, "_near_topic", lambda rows, topic, swapped=None, bonus=TOPIC_BONUS:
                        given.append(bonus) or near_topic(rows, topic, swapped, bonus))
    history = [{"role": "user", "content": "is ml engineering just a subset of data science?"},
               {"role": "assistant", "content": assistant.answer("is ml engineering just a subset of data science?").text}]
    for turn in ["so how do they differ then", "how do they differ"]:
        assistant.answer(turn, history)
    assert given == [LEANS_BACK_BONUS, TOPIC_BONUS], given


def test_an_faq_asked_in_other_words_is_quoted_in_its_own_order(assistant):
    """"do MLEs need stats?" is the FAQ "Do ML Engineers need to know statistics like Data
    Scientists?" in other words: its answer's first sentence is the reply, though the second
    ("Data Scientists rely heavily on statistics…") shares more words with the question."""
    faq = next(p for p in assistant.retriever.passages if p.kind == "faq" and "statistics" in p.question)
    reply = assistant.answer("do MLEs need stats?")
    assert reply.citations[0].id == faq.id and reply.text.startswith(faq.text.split(". ")[0]), reply.text
    # Not when its reply opens on the other role: "what about ML engineers' tools?" of the tools FAQ.
    tools = assistant.answer("thanks, and what about ML engineers' tools?")
    assert tools.text.startswith("ML Engineers"), tools.text


def test_words_that_point_at_the_page_are_not_read_as_the_subject(assistant):
    # "article", "mentions" and "somewhere" are no words of the knowledge: left in, they counted
    # as an unknown subject and the question was refused although its passage ranked first.
    asked = "the article mentions drift somewhere, what was that about"
    reply = assistant.answer(asked)
    assert reply.kind == "answer" and "drift" in reply.text[:200]
    assert assistant.answer("does the article mention salaries?").kind == "not_found"


def test_and_then_walks_on_to_the_next_step_and_the_last_step_by_its_place(assistant):
    history = []
    for turn in ["how do they work together on a project", "what happens after the data scientist builds the model"]:
        history += [{"role": "user", "content": turn}, {"role": "assistant", "content": assistant.answer(turn, history).text}]
    after = assistant.answer("and then?", history)
    assert "deploys the model into production" in after.text[:150] and "tested and validated" not in after.text
    history += [{"role": "user", "content": "and then?"}, {"role": "assistant", "content": after.text}]
    last = assistant.answer("whats the last step", history)
    assert last.kind == "answer" and "monitor and improve performance" in last.text[:150]


def test_the_step_a_question_names_is_matched_by_its_words_too(assistant):
    # The encoder alone put "the model gets tested" nearest "A Data Scientist analyzes data and
    # builds a model", and "the model gets built" nearest "An ML Engineer deploys the model …".
    for asked, after in [("what comes after the model gets tested?", "An ML Engineer deploys the model into production"),
                         ("what happens right after the model gets built?", "The model is tested and validated")]:
        history = []
        for turn in ["how do the two roles actually work together on a project?", asked]:
            reply = assistant.answer(turn, history)
            history += [{"role": "user", "content": turn}, {"role": "assistant", "content": reply.text}]
        assert reply.text.startswith(f"**{after}**"), reply.text[:120]

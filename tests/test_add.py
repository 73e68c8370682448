"""`rolebot add`, `list` and `remove`: captured pages become knowledge; several documents."""

import os
import shutil

import pytest

from rolebot import Assistant, Retriever
from rolebot.cli import main
from rolebot.evaluation import evaluate, load_set

from conftest import ARTICLE, ROOT

pytestmark = pytest.mark.slow

CAPTURE = ROOT / "tests" / "data" / "ingest" / "ml-engineer-vs-data-scientist.page.txt"
SECOND = ROOT / "tests" / "data" / "ingest" / "product-vs-project-manager.txt"


@pytest.fixture(scope="module")
def two_docs(tmp_path_factory, embedder):
    """The curated article plus an unrelated second article added with `rolebot add`, built as
    a user's build is (the encoder fine-tuned on both), so that the article's figures beside it
    compare with its own adapted build's."""
    root = tmp_path_factory.mktemp("kb")
    knowledge, index_dir = root / "knowledge", root / "index"
    knowledge.mkdir()
    shutil.copy(ARTICLE, knowledge / ARTICLE.name)
    args = ["--knowledge", str(knowledge), "--index", str(index_dir)]
    before = os.environ.get("ROLEBOT_ADAPT")
    os.environ["ROLEBOT_ADAPT"] = "1"
    try:
        assert main(args + ["add", str(SECOND), "--url", "https://example.org/pm"]) == 0
    finally:
        os.environ["ROLEBOT_ADAPT"] = before if before is not None else "0"
    retriever = Retriever.load(knowledge_dir=knowledge, index_dir=index_dir, embedder=embedder, auto_build=False)
    return knowledge, index_dir, args, retriever


def test_add_raw_capture_matches_the_curated_article(tmp_path, capsys):
    args = ["--knowledge", str(tmp_path / "k"), "--index", str(tmp_path / "i")]
    assert main(args + ["add", str(CAPTURE)]) == 0
    out = capsys.readouterr().out
    assert "40 passages (10 FAQ)" in out and "index rebuilt: 40 passages" in out
    written = (tmp_path / "k" / "ml-engineer-vs-data-scientist.md").read_text()
    body = lambda text: text.split("\n---\n", 1)[1]  # noqa: E731 - front matter differs by design
    assert body(written) == body(ARTICLE.read_text())
    assert main(args + ["add", str(CAPTURE)]) == 1  # no silent overwrite
    assert "already exists" in capsys.readouterr().err


def test_list_shows_documents_and_build(two_docs, capsys):
    _, _, args, _ = two_docs
    assert main(args + ["list"]) == 0
    out = capsys.readouterr().out
    assert "ml-engineer-vs-data-scientist" in out and "product-vs-project-manager" in out
    assert "<https://example.org/pm>" in out and "2 document(s); last build 20" in out


def test_hits_and_citations_name_their_document(two_docs):
    _, _, _, retriever = two_docs
    hit = retriever.search("what does a product manager own?", k=1)[0]
    assert hit.id.startswith("product-vs-project-manager/")
    assert hit.document.startswith("Product Manager or Project Manager") and hit.url == "https://example.org/pm"
    only = retriever.search("tools", k=5, documents=["ml-engineer-vs-data-scientist"])
    assert only and all(h.id.startswith("ml-engineer-vs-data-scientist/") for h in only)
    answer = Assistant(retriever).answer("What tools do ML engineers use?")
    assert answer.citations[0].document.startswith("ML Engineer vs Data Scientist")


def test_quality_holds_with_a_second_document(two_docs, assistant):
    """The original article's figures with an unrelated article beside it (README shows both)."""
    _, _, _, retriever = two_docs
    items = load_set(ROOT / "eval" / "questions.jsonl")
    alone = evaluate(assistant, items, baselines=False).rows["rolebot"]
    both = evaluate(Assistant(retriever), items, baselines=False).rows["rolebot"]
    # Questions that name neither role ("how do the two roles collaborate on a project?", "what
    # software do people in both jobs use?") have a second comparison article to answer them, and
    # each article's template questions ("What do {both} have in common?") and aspect rows
    # (aspects.py) meet them alike. Until the eleventh session this fixture built without the
    # fine-tune and was compared with the adapted article (hit@1 0.877 alone, 0.790 beside it,
    # tolerance 0.09); a shorthand expansion ("viz" -> "visualization") then moved one item of
    # that unadapted build to 0.783. Built as users build, the article scores hit@1 0.833 beside
    # the second one (0.877 alone), through the CLI and with the torch reference alike.
    for metric in ("hit@1", "hit@3", "answer_acc", "abstain_recall"):
        assert both[metric] >= alone[metric] - 0.07, (metric, alone[metric], both[metric])


def test_remove_rebuilds_without_the_document(two_docs, tmp_path, capsys):
    knowledge, _, _, _ = two_docs
    k2 = tmp_path / "k"
    shutil.copytree(knowledge, k2)
    args = ["--knowledge", str(k2), "--index", str(tmp_path / "i")]
    assert main(args + ["remove", "nope"]) == 1
    assert main(args + ["remove", "product-vs-project-manager"]) == 0
    assert "40 passages from 1 document(s)" in capsys.readouterr().out
    assert main(args + ["remove", "ml-engineer-vs-data-scientist"]) == 1  # never an empty knowledge base

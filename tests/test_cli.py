"""The `rolebot` command: real model, real index in a temporary folder, parsed JSON."""

import json
import os
import subprocess
import sys

import pytest

from rolebot.cli import main


@pytest.fixture
def env_paths(article_index, monkeypatch):
    knowledge, index_dir = article_index
    monkeypatch.setenv("ROLEBOT_KNOWLEDGE", str(knowledge))
    monkeypatch.setenv("ROLEBOT_INDEX", str(index_dir))
    return knowledge, index_dir


def test_help_does_not_import_torch():
    code = (
        "import sys\n"
        "from rolebot.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "try:\n    main(['search', '--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'sentence_transformers', 'gradio', 'faiss') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "usage: rolebot" in out and "HEAVY []" in out


@pytest.mark.slow
def test_ask_json(env_paths, capsys):
    assert main(["ask", "What tools do ML engineers use?", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["kind"] == "answer"
    assert any(t in data["text"] for t in ("Docker", "Kubernetes", "TensorFlow"))
    assert data["citations"] and {"id", "text", "score", "section", "source", "kind"} <= set(data["citations"][0])
    assert 0 < data["confidence"] <= 1


@pytest.mark.slow
def test_search_json_and_text(env_paths, capsys):
    assert main(["search", "data scientist responsibilities", "-k", "2", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert len(hits) == 2 and hits[0]["score"] >= hits[1]["score"]
    assert main(["search", "data scientist responsibilities", "-k", "1"]) == 0
    assert capsys.readouterr().out.startswith("1. [")


@pytest.mark.slow
def test_ask_not_found_text(env_paths, capsys):
    assert main(["ask", "what is the capital of australia?"]) == 0
    out = capsys.readouterr().out
    assert "doesn't cover" in out and "You could also ask" in out


@pytest.mark.slow
def test_errors_are_messages_not_tracebacks(env_paths, tmp_path, capsys):
    assert main(["search", "tools", "-k", "0"]) == 1
    err = capsys.readouterr().err
    assert "k must be a whole number from 1 to 50" in err and "Traceback" not in err
    assert main(["--knowledge", str(tmp_path / "nope"), "--index", str(tmp_path / "idx"), "ask", "hi there friend"]) == 1
    assert "knowledge folder not found" in capsys.readouterr().err


@pytest.mark.slow
def test_console_script_builds_into_a_fresh_folder(tmp_path, article_index):
    knowledge, _ = article_index
    env = dict(os.environ, ROLEBOT_KNOWLEDGE=str(knowledge), ROLEBOT_INDEX=str(tmp_path / "index"))
    exe = os.path.join(os.path.dirname(sys.executable), "rolebot")
    done = subprocess.run([exe, "build"], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "built 40 passages from 1 document(s)" in done.stdout
    assert (tmp_path / "index" / "CURRENT").is_file()


def _rolebot(cwd, *args):
    """The installed command, run the way a course author runs it: from their own folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROLEBOT_")}
    exe = os.path.join(os.path.dirname(sys.executable), "rolebot")
    return subprocess.run([exe, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_defaults_follow_the_working_folder(tmp_path):
    from conftest import ROOT

    empty = tmp_path / "empty"
    empty.mkdir()
    missing = _rolebot(empty, "list")
    assert missing.returncode == 1 and "rolebot init" in missing.stderr
    assert not (empty / "index").exists()

    course = tmp_path / "course"
    course.mkdir()
    started = _rolebot(course, "init")
    assert started.returncode == 0, started.stderr
    assert (course / "knowledge" / "ml-engineer-vs-data-scientist.md").read_bytes() == (
        ROOT / "knowledge" / "ml-engineer-vs-data-scientist.md"
    ).read_bytes()
    assert _rolebot(course, "init").returncode == 1  # never overwrites an author's knowledge

    page = ROOT / "tests" / "data" / "ingest" / "product-vs-project-manager.txt"
    added = _rolebot(course, "add", str(page))
    assert added.returncode == 0, added.stderr
    assert (course / "knowledge" / "product-vs-project-manager.md").is_file()
    assert (course / "index" / "CURRENT").is_file()
    assert not (ROOT / "knowledge" / "product-vs-project-manager.md").exists()
    listed = _rolebot(course, "list")
    assert "product-vs-project-manager" in listed.stdout and "2 document(s)" in listed.stdout


def test_add_refuses_a_name_the_loader_would_skip(tmp_path, capsys):
    page = tmp_path / "README.md"
    page.write_text("# Notes\n\nSome text about data.\n")
    args = ["--knowledge", str(tmp_path / "k"), "--index", str(tmp_path / "i")]
    assert main(args + ["add", str(page)]) == 1
    assert "never reads" in capsys.readouterr().err and not (tmp_path / "k" / "readme.md").exists()


@pytest.mark.slow
def test_add_force_restores_the_original_when_the_build_fails(tmp_path, capsys):
    from conftest import ARTICLE

    knowledge = tmp_path / "k"
    knowledge.mkdir()
    (knowledge / "ml-engineer-vs-data-scientist.md").write_bytes(ARTICLE.read_bytes())
    (knowledge / "notes.md").write_text("---\ntitle: Notes\n---\n\n# Notes\n\nSome text about data.\n")
    original = (knowledge / "notes.md").read_bytes()
    clash = tmp_path / "notes.md"  # same slug, but the title of the other document: the build fails
    clash.write_text("---\ntitle: \"ML Engineer vs Data Scientist: What’s the Real Difference in Jobs?\"\n---\n\n# X\n\nText.\n")
    args = ["--knowledge", str(knowledge), "--index", str(tmp_path / "i")]
    assert main(args + ["add", "--force", str(clash)]) == 1
    assert (knowledge / "notes.md").read_bytes() == original
    assert "restored the previous" in capsys.readouterr().err


@pytest.mark.slow
def test_allowed_origins_are_trimmed(env_paths, monkeypatch):
    import uvicorn

    import rolebot.server

    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: None)
    monkeypatch.setattr(rolebot.server, "create_app", lambda *a, **k: seen.update(k))
    monkeypatch.setenv("ROLEBOT_ALLOW_ORIGINS", " https://a.example , https://b.example,")
    assert main(["serve", "--db", os.devnull]) == 0
    assert seen["allow_origins"] == ["https://a.example", "https://b.example"]

"""Broken knowledge, broken indexes, killed and concurrent builds, a failing feedback database.

What is already covered elsewhere is not repeated here: test_knowledge.py (bad files with file
and line, no headings, duplicate titles, empty folder) and test_index.py (truncated FAISS
file, model and dimension mismatch, stale knowledge, a build that raises, threads building at
once). This file adds the same faults seen through the `rolebot` command, the corruptions not
yet covered, real `rolebot build` processes killed with SIGKILL or run side by side, and the
feedback store under locks, read-only files and missing folders.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import DATA, FakeEmbedder
from rolebot import index
from rolebot.cli import main
from rolebot.errors import IndexLoadError
from rolebot.feedback import FeedbackStore
from rolebot.retriever import Retriever

ROLEBOT = os.path.join(os.path.dirname(sys.executable), "rolebot")
FRONT = "---\ntitle: {title}\n---\n\n# {title}\n\n"
PARA = "Green tea is not oxidised, so it keeps a fresh and grassy taste for a long time."


@pytest.fixture
def fake_cli(monkeypatch):
    """`rolebot` in-process with the fake embedder: for faults that happen before embedding matters."""
    monkeypatch.setattr("rolebot.embedding.Embedder", lambda name=None: FakeEmbedder())


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


# -- knowledge faults through the CLI ------------------------------------------------------
KNOWLEDGE_FAULTS = {
    "empty folder": ({}, r"knowledge: no Markdown \(\.md\) files"),
    "only a README": ({"README.md": b"# Notes\n\nNot knowledge."}, r"no Markdown \(\.md\) files"),
    "non-UTF-8 file": ({"bad.md": b"# Title\n\nSome text.\n\ncaf\xe9 au lait"}, r"bad\.md:5: not UTF-8 text \(byte \d+\)"),
    "UTF-16 file": ({"bad.md": "# Title\n\nSome text here.".encode("utf-16")}, r"bad\.md:1: not UTF-8"),
    "malformed front matter": ({"bad.md": b"---\ntitle: x\nthis is not a pair\n---\n# x\n\ntext"}, r"bad\.md:3: front matter line is not 'key: value'"),
    "unclosed front matter": ({"bad.md": b"---\ntitle: x\n# x\n\ntext"}, r"bad\.md:1: front matter opened with '---' is never closed"),
    "front matter only": ({"bad.md": b"---\ntitle: Only meta\n---\n"}, r"bad\.md: no text to index"),
    "headings only": ({"bad.md": b"# A\n\n## B\n\n### C\n"}, r"bad\.md: no text to index"),
    "duplicate titles": ({"a.md": (FRONT.format(title="Tea") + PARA).encode(), "b.md": (FRONT.format(title="TEA") + PARA).encode()},
                         r"b\.md:1: title 'TEA' is already used by .*a\.md"),
    "duplicate slugs": ({"tea.md": (FRONT.format(title="One") + PARA).encode(), "sub/tea.md": (FRONT.format(title="Two") + PARA).encode()},
                        r"two documents have the slug 'tea'"),
}


@pytest.mark.parametrize("name", list(KNOWLEDGE_FAULTS))
def test_build_reports_knowledge_faults_with_file_and_line(tmp_path, capsys, fake_cli, name):
    files, message = KNOWLEDGE_FAULTS[name]
    knowledge = tmp_path / "knowledge"
    knowledge.mkdir()
    for rel, content in files.items():
        (knowledge / rel).parent.mkdir(parents=True, exist_ok=True)
        (knowledge / rel).write_bytes(content)
    code, out, err = run_cli(capsys, "--knowledge", str(knowledge), "--index", str(tmp_path / "index"), "build")
    assert code == 1 and out == ""
    assert err.startswith("rolebot: error: ") and re.search(message, err), err
    assert not (tmp_path / "index" / "CURRENT").exists()  # nothing half-built


def test_missing_knowledge_folder_and_documented_fallbacks(tmp_path, capsys, fake_cli):
    code, _, err = run_cli(capsys, "--knowledge", str(tmp_path / "nope"), "--index", str(tmp_path / "index"), "build")
    assert code == 1 and "knowledge folder not found" in err and str(tmp_path / "nope") in err
    # A document without headings: one intro passage, titled after its file name.
    knowledge = tmp_path / "knowledge"
    knowledge.mkdir()
    (knowledge / "plain_notes.md").write_text(PARA + "\n")
    (knowledge / "_draft.md").write_bytes(b"\xff not read: drafts start with _")
    code, out, err = run_cli(capsys, "--knowledge", str(knowledge), "--index", str(tmp_path / "index"), "build")
    assert code == 0 and out.startswith("built 1 passages from 1 document(s)"), (out, err)
    data = index.load(tmp_path / "index")
    assert data.manifest["documents"][0]["title"] == "Plain notes" and data.passages[0].id == "plain-notes/intro/1"


# -- index faults: each is detected at load with what happened, and rebuilt on its own -------
def _live(index_dir: Path) -> Path:
    return index_dir / (index_dir / "CURRENT").read_text().strip()


def _truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


INDEX_FAULTS = {
    "CURRENT names a missing build": (lambda d: (d / "CURRENT").write_text("build-gone\n"), "no index in"),
    "CURRENT is empty": (lambda d: (d / "CURRENT").write_text(""), "no index in"),
    "build folder deleted": (lambda d: shutil.rmtree(_live(d)), "no index in"),
    "manifest is not JSON": (lambda d: (_live(d) / "manifest.json").write_text("{not json"), "manifest is unreadable"),
    "manifest deleted": (lambda d: (_live(d) / "manifest.json").unlink(), "manifest is unreadable"),
    "FAISS file empty": (lambda d: (_live(d) / "vectors.faiss").write_bytes(b""), r"is corrupt \(RuntimeError\)"),
    "FAISS file is garbage": (lambda d: (_live(d) / "vectors.faiss").write_bytes(os.urandom(4096)), r"is corrupt"),
    "passages truncated mid-line": (lambda d: _truncate(_live(d) / "passages.jsonl", 0.7), r"is corrupt \(JSONDecodeError\)"),
    "a passage line missing": (
        lambda d: (_live(d) / "passages.jsonl").write_text("".join((_live(d) / "passages.jsonl").read_text().splitlines(True)[:-1])),
        "inconsistent",
    ),
    "units.npy truncated": (lambda d: _truncate(_live(d) / "units.npy", 0.6), r"is corrupt \((ValueError|EOFError|OSError)\)"),
    "view_rows.npy deleted": (lambda d: (_live(d) / "view_rows.npy").unlink(), r"is corrupt \(FileNotFoundError\)"),
    "scope.npy is text": (lambda d: (_live(d) / "scope.npy").write_text("hello"), r"is corrupt"),
    "manifest passage count edited": (
        lambda d: (_live(d) / "manifest.json").write_text(json.dumps(json.loads((_live(d) / "manifest.json").read_text()) | {"passages": 99})),
        "inconsistent",
    ),
}


@pytest.mark.parametrize("name", list(INDEX_FAULTS))
def test_index_faults_are_detected_and_rebuilt(tiny_kb, fake_embedder, name):
    knowledge, index_dir = tiny_kb
    index.build(knowledge, index_dir, fake_embedder)
    damage, message = INDEX_FAULTS[name]
    damage(index_dir)
    with pytest.raises(IndexLoadError) as err:
        index.load(index_dir, fake_embedder.name, fake_embedder.dim)
    assert re.search(message, str(err.value)) and "run `rolebot build`" in str(err.value)
    with pytest.raises(IndexLoadError):
        Retriever.load(knowledge_dir=knowledge, index_dir=index_dir, embedder=fake_embedder, auto_build=False)
    r = Retriever.load(knowledge_dir=knowledge, index_dir=index_dir, embedder=fake_embedder)
    assert len(r.notices) == 1 and r.notices[0].startswith(f"rebuilt the index from {knowledge} (")
    assert r.search("black tea", k=1)[0].id == "tea-guide/black-tea/1"
    assert index.check(index_dir, knowledge, fake_embedder.name) is None


@pytest.mark.parametrize("change", ["edited", "added", "removed"])
def test_knowledge_changed_after_the_build_is_stale(tiny_kb, fake_embedder, change):
    knowledge, index_dir = tiny_kb
    (knowledge / "extra.md").write_text(FRONT.format(title="Extra") + PARA)
    index.build(knowledge, index_dir, fake_embedder)
    if change == "edited":
        (knowledge / "extra.md").write_text(FRONT.format(title="Extra") + PARA.replace("grassy", "vegetal"))
    elif change == "added":
        (knowledge / "more.md").write_text(FRONT.format(title="More") + PARA)
    else:
        (knowledge / "extra.md").unlink()
    assert index.check(index_dir, knowledge, fake_embedder.name) == "stale: the knowledge files changed since the last build"
    r = Retriever.load(knowledge_dir=knowledge, index_dir=index_dir, embedder=fake_embedder)
    assert r.notices == [f"rebuilt the index from {knowledge} (stale: the knowledge files changed since the last build)"]


@pytest.mark.slow
def test_cli_search_on_a_corrupt_index_rebuilds_and_answers(tmp_path, capsys):
    knowledge = tmp_path / "knowledge"
    knowledge.mkdir()
    shutil.copy(DATA / "tiny.md", knowledge / "tea-guide.md")
    paths = ["--knowledge", str(knowledge), "--index", str(tmp_path / "index")]
    assert run_cli(capsys, *paths, "build")[0] == 0
    first = _live(tmp_path / "index").name
    _truncate(_live(tmp_path / "index") / "vectors.faiss")
    code, out, err = run_cli(capsys, *paths, "search", "how long does tea keep", "-k", "1")
    assert code == 0 and out.startswith("1. [") and "tea-guide/how-long-does-tea-keep/1" in out
    assert f"rolebot: rebuilt the index from {knowledge} (the index in {first} is corrupt (RuntimeError))" in err
    # Knowledge edited after the build: `ask` says it rebuilt, and answers from the new text.
    path = knowledge / "tea-guide.md"
    path.write_text(path.read_text().replace("about a year", "about eighteen months"))
    code, out, err = run_cli(capsys, *paths, "ask", "How long does tea keep?")
    assert code == 0 and "eighteen months" in out
    assert "(stale: the knowledge files changed since the last build)" in err
    # An index built with another model is an error naming the command to run, not a rebuild.
    index.build(knowledge, tmp_path / "index", FakeEmbedder())
    code, out, err = run_cli(capsys, *paths, "search", "tea")
    assert code == 1 and out == ""
    assert "built with model 'fake-hash-64'" in err and "rolebot --model bundled:all-MiniLM-L6-v2 build" in err


# -- killed and concurrent `rolebot build` processes -------------------------------------
WORDS = (
    "kettle teapot leaf brew steep water boil cup mug saucer sugar milk lemon honey spice ginger mint jasmine "
    "oolong matcha sencha assam darjeeling ceylon chai biscuit scone porcelain clay iron glass filter strainer "
    "infuser temperature minute morning evening ritual garden harvest plantation picker roast aroma flavour body "
    "tannin caffeine antioxidant storage tin jar label blend grade"
).split()


def synthetic_knowledge(folder: Path, seed: int, docs: int = 2, sections: int = 14) -> None:
    """Documents big enough for a build to take a few seconds; every seed gives new text."""
    rng = random.Random(seed)

    def sentence(n):
        words = [rng.choice(WORDS) for _ in range(n)]
        return words[0].capitalize() + " " + " ".join(words[1:]) + "."

    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for d in range(docs):
        parts = [FRONT.format(title=f"Guide {d} ({seed})")]
        for s in range(sections):
            parts.append(f"## Topic {s} {rng.choice(WORDS)}\n")
            parts += [" ".join(sentence(rng.randint(8, 16)) for _ in range(3)) + "\n" for _ in range(2)]
            parts.append("Things to know:\n" + "\n".join(f"- {sentence(6)}" for _ in range(3)) + "\n")
        (folder / f"guide-{d}.md").write_text("\n".join(parts))


def lock_holder(lock: Path) -> int | None:
    """The pid holding the build lock (flock), from /proc/locks; None if free."""
    inode = os.stat(lock).st_ino
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if "->" not in fields and "FLOCK" in fields and fields[-3].split(":")[-1] == str(inode):
            return int(fields[4])
    return None


def loaded_hash(index_dir: Path) -> str:
    """The knowledge hash of the live index, after checking it loads whole."""
    data = index.load(index_dir, "bundled:all-MiniLM-L6-v2", 384)
    assert data.faiss_index.ntotal == data.manifest["views"] and len(data.passages) == data.manifest["passages"]
    return data.manifest["knowledge_hash"]


@pytest.mark.slow
def test_killed_builds_leave_the_previous_index_and_concurrent_builds_serialise(tmp_path, embedder):
    """Five `rolebot build` processes start at once on new knowledge and queue on the lock.
    Three lock holders in turn are killed with SIGKILL: two at random points of their build,
    one while it writes its files. After each kill the previous index loads intact. The last
    two run to the end one after the other and leave the new knowledge, fresh."""
    knowledge, index_dir = tmp_path / "knowledge", tmp_path / "index"
    synthetic_knowledge(knowledge, seed=1)
    before = index.build(knowledge, index_dir, embedder)
    old_hash = before["knowledge_hash"]
    synthetic_knowledge(knowledge, seed=2)  # new text: a build must embed everything again
    new_hash = index.content_hash(knowledge)
    env = dict(os.environ, ROLEBOT_KNOWLEDGE=str(knowledge), ROLEBOT_INDEX=str(index_dir))
    logs = [open(tmp_path / f"build-{i}.log", "w+") for i in range(5)]
    procs = {}
    for log in logs:
        p = subprocess.Popen([ROLEBOT, "build"], env=env, stdout=log, stderr=subprocess.STDOUT)
        procs[p.pid] = p
    seed = random.randrange(10**6)
    rng = random.Random(seed)
    outcomes = []
    try:
        for n in range(3):
            deadline = time.time() + 180
            while True:
                holder = lock_holder(index_dir / ".lock")
                if holder is not None and holder not in [o[0] for o in outcomes]:
                    break
                if all(p.poll() is not None for pid, p in procs.items() if pid not in [o[0] for o in outcomes]):
                    break  # all done: once one build finished, the rest only reuse its vectors
                assert time.time() < deadline, "no build took the lock"
                time.sleep(0.005)
            if holder is None or holder in [o[0] for o in outcomes]:
                break
            # A build's own length varies with the machine's load, so a random point is
            # capped by the moment its build folder appears: every kill lands before the swap.
            delay = 0.0 if n == 1 else rng.uniform(0.1, 0.9 * before["build_seconds"])
            started = time.time()
            while not list(index_dir.glob(f"*-{holder}")) and procs[holder].poll() is None:
                if n != 1 and time.time() - started >= delay:
                    break
                assert time.time() < deadline, "the build never wrote its folder"
                time.sleep(0.001)
            point = "while writing" if n == 1 else f"{time.time() - started:.2f} s into its build"
            os.kill(holder, signal.SIGKILL)  # a process that has just ended is a zombie: no error
            code = procs[holder].wait(30)
            live = loaded_hash(index_dir)  # loads whole, whatever the moment of the kill
            assert live in (old_hash, new_hash)
            outcomes.append((holder, point, code, "previous index" if live == old_hash else "new index"))
            assert lock_holder(index_dir / ".lock") != holder  # the kernel released its lock
        for p in procs.values():
            p.wait(240)
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()
    print(f"kill points (seed {seed}):", outcomes)
    killed = [o for o in outcomes if o[2] == -signal.SIGKILL]
    assert len(outcomes) >= 2, outcomes
    assert any(o[3] == "previous index" for o in killed), outcomes  # a build killed mid-way changed nothing
    for pid, p in procs.items():
        log = logs[list(procs).index(pid)]
        log.seek(0)
        text = log.read()
        assert "Traceback" not in text
        if pid not in [o[0] for o in killed]:
            assert p.returncode == 0 and "built " in text, text
    assert sum(p.returncode == 0 for p in procs.values()) >= 2  # at least two ran to the end, in turn
    assert loaded_hash(index_dir) == new_hash
    assert index.check(index_dir, knowledge, "bundled:all-MiniLM-L6-v2") is None
    assert index.read_manifest(index_dir)["reused"] > 0  # the last build reused its predecessor's vectors
    r = Retriever.load(knowledge_dir=knowledge, index_dir=index_dir, embedder=embedder, auto_build=False)
    assert r.search("kettle teapot", k=1)


# -- the feedback database -----------------------------------------------------------------
def _vote(store: FeedbackStore) -> bool:
    return store.record_vote("What tools?", "Docker [1]", ["doc/tools/1"], 0.9, True)


def _count(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT COUNT(*) FROM events").fetchone()[0]


def test_locked_database_is_reported_not_saved_and_recovers(tmp_path, caplog):
    store = FeedbackStore(tmp_path / "fb.sqlite3", timeout=0.2)
    assert _vote(store)
    holder = sqlite3.connect(tmp_path / "fb.sqlite3", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with caplog.at_level(logging.WARNING, logger="rolebot"):
            started = time.perf_counter()
            assert _vote(store) is False
            assert store.record_not_found("pizza?", 0.1) is False
        assert time.perf_counter() - started < 2
        assert any("feedback not saved" in r.getMessage() and "locked" in r.getMessage() for r in caplog.records)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert _vote(store) and _count(tmp_path / "fb.sqlite3") == 2


def test_missing_folder_is_created_but_an_impossible_one_fails(tmp_path, caplog):
    store = FeedbackStore(tmp_path / "new" / "deeper" / "fb.sqlite3")
    assert _vote(store) and _count(store.path) == 1  # the documented fallback
    (tmp_path / "a-file").write_text("x")
    blocked = FeedbackStore(tmp_path / "a-file" / "fb.sqlite3")
    with caplog.at_level(logging.WARNING, logger="rolebot"):
        assert _vote(blocked) is False
    assert any("feedback not saved" in r.getMessage() for r in caplog.records)


def test_database_deleted_while_running_is_reopened(tmp_path, caplog):
    folder = tmp_path / "db"
    store = FeedbackStore(folder / "fb.sqlite3")
    assert _vote(store)
    shutil.rmtree(folder)  # e.g. a clean-up job; the open connection would write into the void
    with caplog.at_level(logging.WARNING, logger="rolebot"):
        assert _vote(store)
    assert _count(folder / "fb.sqlite3") == 1
    assert any("removed or replaced" in r.getMessage() for r in caplog.records)


def _without_root_powers():
    # Root ignores file modes; drop CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH and CAP_FOWNER from the
    # child's bounding set (it keeps uid 0), so a read-only file is read-only for it.
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2, 3):
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


READ_ONLY_SCRIPT = """
import logging, sys
logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
from rolebot.feedback import FeedbackStore
store = FeedbackStore(sys.argv[1], timeout=0.2)
print(store.record_vote("q", "a [1]", ["d/s/1"], 0.5, True), store.record_not_found("q", 0.1))
"""


@pytest.mark.parametrize("case", ["read-only file", "read-only folder", "read-only folder, no file yet"])
def test_read_only_database_is_reported_not_saved(tmp_path, case):
    folder = tmp_path / "ro"
    folder.mkdir()
    db = folder / "fb.sqlite3"
    if case != "read-only folder, no file yet":
        assert _vote(FeedbackStore(db))
        FeedbackStore(db)._conn().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        for extra in folder.glob("fb.sqlite3-*"):
            extra.unlink()
    if case == "read-only file":
        db.chmod(0o444)
    else:
        folder.chmod(0o555)
    try:
        done = subprocess.run(
            [sys.executable, "-c", READ_ONLY_SCRIPT, str(db)],
            capture_output=True, text=True, timeout=60,
            preexec_fn=_without_root_powers if os.geteuid() == 0 else None,
        )
    finally:
        folder.chmod(0o755)
        if db.exists():
            db.chmod(0o644)
    assert done.stdout.split() == ["False", "False"], (done.stdout, done.stderr)
    assert "WARNING rolebot: feedback not saved" in done.stderr and "Traceback" not in done.stderr
    if db.exists():
        assert _count(db) == (0 if case == "read-only folder, no file yet" else 1)


def test_concurrent_writes_from_many_threads_all_land(tmp_path):
    store = FeedbackStore(tmp_path / "fb.sqlite3")
    results: list[bool] = []
    lock = threading.Lock()

    def writer(n):
        mine = [store.record_vote(f"q{n}-{i}", "a", [], 0.5, i % 2 == 0) if i % 3 else store.record_not_found(f"nf{n}-{i}", 0.1)
                for i in range(40)]
        store.close()
        with lock:
            results.extend(mine)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 640 and all(results)
    assert _count(store.path) == 640


# -- the answer goes out whatever the database does ---------------------------------------------
@pytest.fixture
def locked_store(tmp_path):
    store = FeedbackStore(tmp_path / "fb.sqlite3", timeout=0.1)
    assert _vote(store)
    holder = sqlite3.connect(store.path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    yield store
    holder.execute("ROLLBACK")
    holder.close()


@pytest.mark.slow
@pytest.mark.parametrize("broken", ["locked", "folder is a file"])
def test_answers_go_out_when_feedback_fails(assistant, tmp_path, locked_store, caplog, monkeypatch, broken):
    import gradio as gr
    from fastapi.testclient import TestClient

    from rolebot.app import ChatApp
    from rolebot.server import create_app

    if broken == "locked":
        store = locked_store
    else:
        (tmp_path / "file").write_text("x")
        store = FeedbackStore(tmp_path / "file" / "fb.sqlite3")
    before = _count(locked_store.path) if broken == "locked" else 0
    warnings = []
    monkeypatch.setattr(gr, "Warning", lambda message, *a, **k: warnings.append(message))
    with caplog.at_level(logging.WARNING, logger="rolebot"):
        client = TestClient(create_app(assistant, store, rate_limit="off"))
        response = client.post("/api/ask", json={"question": "what is the best pizza topping?"})
        assert response.status_code == 200 and response.json()["kind"] == "not_found"
        chat = ChatApp(assistant, store)
        assert "doesn't cover" in chat.respond("how do I bake sourdough bread?", [])[-1].content
        answer = chat.respond("What tools do ML engineers use?", [])[-1]
        assert "[1]" in answer.content

        class Like:
            index = 1
            liked = True
            value = [{"type": "text", "text": answer.content}]

        chat.vote(Like())
    assert warnings == ["Your vote could not be saved right now."]
    assert sum("feedback not saved" in r.getMessage() for r in caplog.records) >= 3
    if broken == "locked":
        assert _count(locked_store.path) == before  # nothing claimed, nothing half-written


def test_vote_on_an_unknown_message_warns(assistant, tmp_path, monkeypatch):
    import gradio as gr

    from rolebot.app import ChatApp

    warnings = []
    monkeypatch.setattr(gr, "Warning", lambda message, *a, **k: warnings.append(message))
    store = FeedbackStore(tmp_path / "fb.sqlite3")

    class Like:
        index = 1
        liked = False
        value = "an answer from before a restart"

    ChatApp(assistant, store).vote(Like())
    assert warnings and "restarted" in warnings[0]
    assert not store.path.exists() or _count(store.path) == 0


def test_feedback_retention_sweeps_old_rows(tmp_path, monkeypatch):
    from rolebot import feedback
    from rolebot.errors import RolebotError

    store = feedback.FeedbackStore(tmp_path / "f.sqlite3", keep_days=30)
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now - 40 * 86400)
    assert store.record_not_found("an old question", 0.1)
    monkeypatch.setattr(time, "time", lambda: now - 10 * 86400)
    assert store.record_not_found("a recent question", 0.1)
    monkeypatch.setattr(time, "time", lambda: now)
    assert store.record_not_found("today's question", 0.1)
    assert [r["question"] for r in store.rows()] == ["a recent question", "today's question"]
    monkeypatch.setenv("ROLEBOT_FEEDBACK_DAYS", "off")
    assert feedback.FeedbackStore(tmp_path / "g.sqlite3").keep_days is None
    monkeypatch.setenv("ROLEBOT_FEEDBACK_DAYS", "soon")
    with pytest.raises(RolebotError, match="ROLEBOT_FEEDBACK_DAYS"):
        feedback.FeedbackStore(tmp_path / "h.sqlite3")

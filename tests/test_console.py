"""The author console over HTTP (in-process, real model and index): sign-in, sessions, CSRF,
the wrong-token limit, the dashboard's figures and the edits it writes into the knowledge."""

import logging
import re

import pytest
from fastapi.testclient import TestClient

from conftest import ARTICLE, build_article
from rolebot import admin
from rolebot.assistant import Assistant
from rolebot.authoring import file_version
from rolebot.errors import RolebotError
from rolebot.feedback import FeedbackStore
from rolebot.reload import LiveAssistant, Reloader
from rolebot.retriever import Retriever
from rolebot.server import create_app

pytestmark = pytest.mark.slow

TOKEN = "correct-horse-battery-staple"
SKILLS = "ml-engineer-vs-data-scientist/what-skills-should-i-learn-to-become-job-ready-in-these-roles/1"
ASKED = ["what languages should I learn?", "which languages should I learn?", "what language should I learn first?"]


@pytest.fixture(scope="module")
def course(tmp_path_factory, embedder):
    """The article in its own folders (the edits write into it), served with the console on."""
    root = tmp_path_factory.mktemp("console")
    knowledge, _ = build_article(root, embedder)
    retriever = Retriever.load(knowledge_dir=knowledge, index_dir=root / "index", embedder=embedder, auto_build=False)
    live = LiveAssistant(Assistant(retriever))
    store = FeedbackStore(root / "feedback.sqlite3")
    reloader = Reloader(live, knowledge, root / "index", interval=0.3)
    app = create_app(live, store, rate_limit="off", ask_timeout=120)  # a loaded 2-core CI box is slow, not wrong
    console = admin.Console(TOKEN, live, store, reloader, knowledge)
    admin.mount(app, console)
    return app, console, knowledge / ARTICLE.name


def fresh_client(course) -> TestClient:
    app, console, _ = course
    console.failures = admin.FailureLimit()  # each test starts with a clean wrong-token count
    return TestClient(app, base_url="http://127.0.0.1", follow_redirects=False)


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def sign_in(client, token=TOKEN):
    form = client.get("/admin/login")
    return client.post("/admin/login", data={"csrf": csrf_of(form.text), "token": token})


def test_no_console_without_a_token(assistant, monkeypatch):
    monkeypatch.delenv("ROLEBOT_ADMIN_TOKEN", raising=False)
    assert admin.admin_token(None) is None
    client = TestClient(create_app(assistant, rate_limit="off"), follow_redirects=False)
    for path in ("/admin/", "/admin/login", "/admin", "/admin/export.csv", "/admin/status"):
        assert client.get(path).status_code == 404, path
    assert client.post("/admin/login", data={"token": TOKEN}).status_code == 404
    with pytest.raises(RolebotError, match="at least 12"):
        admin.admin_token("short")


def test_pages_need_a_session(course):
    client = fresh_client(course)
    for path in ("/admin/", "/admin/export.csv", "/admin/status", "/admin/fix?q=x"):
        r = client.get(path)
        assert r.status_code == 303 and r.headers["location"] == "/admin/login", path
    before = course[2].read_bytes()
    r = client.post("/admin/alternate", data={"passage": SKILLS, "question": "hijack", "csrf": "x"})
    assert r.status_code == 401
    assert course[2].read_bytes() == before


def test_sign_in_sets_a_strict_http_only_signed_cookie(course):
    client = fresh_client(course)
    wrong = sign_in(client, "not-the-token-at-all")
    assert wrong.status_code == 401 and "not right" in wrong.text
    assert "rolebot_admin=" not in wrong.headers.get("set-cookie", "")
    right = sign_in(client)
    assert right.status_code == 303 and right.headers["location"] == "/admin/"
    cookie = next(c for c in right.headers.get_list("set-cookie") if c.startswith("rolebot_admin="))
    flags = [f.strip().lower() for f in cookie.split(";")]
    assert "httponly" in flags and "samesite=strict" in flags and "path=/admin" in flags
    assert any(f.startswith("max-age=") and 0 < int(f[8:]) <= 8 * 3600 for f in flags)
    assert TOKEN not in cookie
    home = client.get("/admin/")
    assert home.status_code == 200 and "Author dashboard" in home.text
    assert "frame-ancestors 'none'" in home.headers["content-security-policy"]
    # A cookie with a forged signature or a past expiry is no session.
    value = cookie.split(";")[0].split("=", 1)[1]
    expiry, nonce, sig = value.split(".")
    for forged in (f"{expiry}.{nonce}.{'0' * len(sig)}", f"{int(expiry) + 999}.{nonce}.{sig}", f"1.{nonce}.{sig}"):
        other = fresh_client(course)
        other.cookies.set("rolebot_admin", forged, domain="127.0.0.1", path="/admin")
        assert other.get("/admin/").status_code == 303


def test_state_changes_need_the_sessions_csrf_token(course):
    client = fresh_client(course)
    sign_in(client)
    page = client.get("/admin/").text
    before = course[2].read_bytes()
    token = csrf_of(page)
    # The real token with its last character changed (a token that already ends in "0" would
    # otherwise be "forged" into itself: one run in sixteen).
    near_miss = token[:-1] + ("1" if token.endswith("0") else "0")
    for csrf in (None, "", "f" * 40, near_miss):
        data = {"passage": SKILLS, "question": "forged wording"} | ({"csrf": csrf} if csrf is not None else {})
        assert client.post("/admin/alternate", data=data).status_code == 403
        assert client.post("/admin/logout", data=data).status_code == 403
    # Another session's token is refused too.
    other = fresh_client(course)
    sign_in(other)
    theirs = csrf_of(other.get("/admin/").text)
    assert theirs != csrf_of(page)
    assert client.post("/admin/alternate", data={"passage": SKILLS, "question": "x y", "csrf": theirs}).status_code == 403
    assert course[2].read_bytes() == before
    # The sign-in form has its own CSRF token.
    assert fresh_client(course).post("/admin/login", data={"token": TOKEN}).status_code == 403


def test_twenty_wrong_tokens_then_429_even_for_the_right_one(course, caplog):
    client = fresh_client(course)
    caplog.set_level(logging.INFO)
    form = client.get("/admin/login")
    csrf = csrf_of(form.text)
    codes = [client.post("/admin/login", data={"csrf": csrf, "token": f"wrong-token-{i:04d}"}).status_code for i in range(20)]
    assert codes == [401] * 20
    blocked = client.post("/admin/login", data={"csrf": csrf, "token": TOKEN})
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
    assert "rolebot_admin=" not in blocked.headers.get("set-cookie", "")
    logged = caplog.text
    assert "wrong token" in logged and "wrong-token-0001" not in logged and TOKEN not in logged


def test_empty_dashboard_is_friendly(tmp_path, course):
    app, console, _ = course
    empty = admin.Console(TOKEN, console.live, FeedbackStore(tmp_path / "empty.sqlite3"), console.reloader, console.knowledge_dir)
    bare = create_app(console.live, rate_limit="off")
    admin.mount(bare, empty)
    client = TestClient(bare, base_url="http://127.0.0.1", follow_redirects=False)
    sign_in(client)
    page = client.get("/admin/").text
    assert 'id="empty"' in page and "No questions yet" in page and '<svg id="chart"' not in page


def test_dashboard_shows_traffic_and_the_fix_goes_live(course):
    app, console, article = course
    client = fresh_client(course)
    for q in ASKED:
        r = client.post("/api/ask", json={"question": q})
        assert r.status_code == 200 and r.json()["kind"] == "not_found", q
    assert client.post("/api/ask", json={"question": "What tools do ML engineers use?"}).json()["kind"] == "answer"
    assert client.post("/api/ask", json={"question": "hello"}).json()["kind"] == "smalltalk"
    console.feedback.record_vote("what tools do they use", "Some answer [1]", [SKILLS], 0.8, False)
    sign_in(client)
    page = client.get("/admin/").text
    assert '<svg id="chart"' in page and 'class="bar-not_found"' in page and 'class="bar-smalltalk"' in page
    assert re.search(r'id="asked">(\d+)<', page).group(1) == "5"
    assert 'id="share-answered">25%<' in page  # 1 answered of 4 questions; small talk not counted
    cluster = re.search(r'<tr class="cluster"><td>3×</td><td><span class="question">([^<]+)<', page)
    assert cluster and cluster.group(1) in ASKED
    assert "what tools do they use" in page and SKILLS in page  # the downvoted answer with its passage
    assert 'class="badge fresh">fresh<' in page
    csv = client.get("/admin/export.csv")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert "unanswered" in csv.text and ASKED[0] in csv.text and "downvoted" in csv.text

    fix = client.get("/admin/fix", params={"q": ASKED[0]})
    assert fix.status_code == 200 and f'value="{SKILLS}"' in fix.text
    stale = client.post("/admin/alternate", data={"csrf": csrf_of(fix.text), "passage": SKILLS, "question": ASKED[0],
                                                   "version:ml-engineer-vs-data-scientist": "0" * 16})
    assert stale.status_code == 409 and "changed since" in stale.text
    before = console.live.current
    saved = client.post("/admin/alternate", data={"csrf": csrf_of(fix.text), "passage": SKILLS, "question": ASKED[0],
                                                  "version:ml-engineer-vs-data-scientist": file_version(article)})
    assert saved.status_code == 303 and saved.headers["location"].startswith("/admin/?saved=")
    assert f"  what-skills-should-i-learn-to-become-job-ready-in-these-roles:\n    - {ASKED[0]}\n" in article.read_text()
    assert console.reloader.check() is not None  # what the watcher thread does on its next tick
    assert console.live.current is not before
    answer = client.post("/api/ask", json={"question": ASKED[1]})
    assert answer.json()["kind"] == "answer" and answer.json()["citations"][0]["id"] == SKILLS
    assert answer.headers["x-rolebot-build"] == client.get("/healthz").json()["build"] == console.reloader.status()["build"]

"""The Gradio handler and the HTTP API, in-process (the real browser tests live elsewhere)."""

import sqlite3

import pytest
from fastapi.testclient import TestClient

from rolebot.app import ChatApp, to_messages
from rolebot.feedback import FeedbackStore
from rolebot.server import create_app

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return FeedbackStore(tmp_path_factory.mktemp("db") / "feedback.sqlite3")


@pytest.fixture(scope="module")
def client(assistant, store):
    return TestClient(create_app(assistant, store))


def test_handler_returns_sources_panel_and_answer_with_options(assistant):
    chat = ChatApp(assistant)
    messages = chat.respond("What tools do ML engineers use?", [])
    assert len(messages) == 2
    sources, answer = messages
    assert sources.metadata["title"].startswith("Sources") and sources.metadata["status"] == "done"
    assert "[1]" in sources.content and "`ml-engineer-vs-data-scientist/" in sources.content
    assert "[1]" in answer.content and answer.options
    assert all(o["value"] == o["label"] for o in answer.options)


def test_handler_not_found_and_smalltalk_have_no_sources(assistant):
    chat = ChatApp(assistant)
    (reply,) = chat.respond("how do I bake sourdough bread?", [])
    assert "doesn't cover" in reply.content and not reply.metadata
    (hello,) = chat.respond("hello", [])
    assert hello.content.startswith("Hello")


def test_handler_uses_history(assistant):
    chat = ChatApp(assistant)
    history = [{"role": "user", "content": "What tools do ML engineers use?"}, {"role": "assistant", "content": "..."}]
    answer = chat.respond("and data scientists?", history)[-1]
    assert any(t in answer.content for t in ("Jupyter", "Pandas", "Scikit"))


def test_healthz(client):
    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["passages"] == 40 and body["index_loaded"] is True


def test_api_search_and_ask(client):
    hits = client.get("/api/search", params={"q": "MLE tools", "k": 2}).json()["hits"]
    assert len(hits) == 2 and {"id", "text", "score", "section", "source", "kind"} <= set(hits[0])
    answer = client.post("/api/ask", json={"question": "and data scientists?", "history": [
        {"role": "user", "content": "what tools do ML engineers use?"}, {"role": "assistant", "content": "…"}]}).json()
    assert answer["kind"] == "answer" and answer["citations"]


@pytest.mark.parametrize("params", [{"q": "tools", "k": 0}, {"q": "tools", "k": -1}, {"q": "tools", "k": 10**9}, {"q": "tools", "k": "x"}, {"q": ""}, {}])
def test_api_search_bad_parameters_are_4xx_json(client, params):
    response = client.get("/api/search", params=params)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/json")


def test_api_ask_not_found_is_recorded(client, store):
    client.post("/api/ask", json={"question": "what is the best pizza topping?"})
    rows = [r for r in store.rows() if r["kind"] == "not_found"]
    assert any(r["question"] == "what is the best pizza topping?" for r in rows)


def test_embed_script_and_root(client):
    js = client.get("/embed.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert "rolebot-button" in js.text and "/chat/?compact=1" in js.text
    root = client.get("/", follow_redirects=False)
    assert root.status_code in (302, 307) and root.headers["location"] == "/chat/"


def test_frame_ancestors_header(assistant):
    open_app = TestClient(create_app(assistant))
    assert "frame-ancestors *" in open_app.get("/healthz").headers["content-security-policy"]
    locked = TestClient(create_app(assistant, allow_origins=["https://courses.example.org"]))
    csp = locked.get("/chat/").headers["content-security-policy"]
    assert "frame-ancestors 'self' https://courses.example.org" in csp
    preflight = locked.options("/api/search", headers={"Origin": "https://courses.example.org", "Access-Control-Request-Method": "GET"})
    assert preflight.headers["access-control-allow-origin"] == "https://courses.example.org"


def test_votes_are_stored(assistant, store):
    chat = ChatApp(assistant, store)
    answer = chat.respond("What tools do ML engineers use?", [])[-1]

    class Like:
        index = 1
        liked = False
        value = [{"type": "text", "text": answer.content}]

    chat.vote(Like())
    with sqlite3.connect(store.path) as db:
        row = db.execute("SELECT question, vote, citations FROM events WHERE kind='vote' ORDER BY id DESC").fetchone()
    assert row[0] == "What tools do ML engineers use?" and row[1] == -1 and "ml-engineer-vs-data-scientist/" in row[2]


@pytest.mark.parametrize("path", ["/", "/healthz", "/embed.js", "/chat/", "/api/search?q=tools"])
def test_head_answers_like_get_without_a_body(client, path):
    got = client.get(path, follow_redirects=False)
    head = client.head(path, follow_redirects=False)
    assert head.status_code == got.status_code != 405
    assert head.content == b""
    assert head.headers.get("content-type") == got.headers.get("content-type")


def test_votes_are_filed_by_message_once_each(assistant, tmp_path):
    """Two learners get the same answer text: each vote lands under its own question, a changed
    vote replaces the first, and a vote on a message the session was never sent is refused."""
    store = FeedbackStore(tmp_path / "votes.sqlite3")
    chat = ChatApp(assistant, store)

    class Request:
        def __init__(self, session):
            self.session_hash = session

    class Like:
        def __init__(self, index, liked):
            self.index, self.liked, self.value = index, liked, "ignored: votes are keyed by message"

    chat.respond("What tools do ML engineers use?", [], Request("alice"))
    chat.respond("what tools do MLEs use", [], Request("bob"))
    for liked in (True, False, False, True, False):  # bob changes his mind five times
        chat.vote(Like(2, liked), Request("bob"))
    chat.vote(Like(2, True), Request("alice"))
    chat.vote(Like(40, True), Request("alice"))  # never sent: refused
    chat.vote(Like(2, True), Request("mallory"))  # another session's message: refused
    with sqlite3.connect(store.path) as db:
        rows = db.execute("SELECT question, vote FROM events WHERE kind='vote' ORDER BY question").fetchall()
    assert rows == [("What tools do ML engineers use?", 1), ("what tools do MLEs use", -1)]


def test_the_api_answers_while_the_chat_is_built_after_start(assistant, monkeypatch):
    """`rolebot serve` builds the chat after start-up (chat_later): /chat/ waits for it, and the
    guard still stands in front of it."""
    import threading

    import rolebot.app

    built, release = threading.Event(), threading.Event()
    real = rolebot.app.build_demo

    def slow_build(*args, **kwargs):
        release.wait(30)  # hold the chat back until the API has answered
        built.set()
        return real(*args, **kwargs)

    monkeypatch.setattr(rolebot.app, "build_demo", slow_build)
    with TestClient(create_app(assistant, rate_limit="off", chat_later=True)) as client:
        starting = client.get("/healthz")  # not ready for a load balancer yet; the API already answers
        assert starting.status_code == 503 and starting.json()["chat"] == "starting"
        assert client.post("/api/ask", json={"question": "What does an ML engineer do?"}).json()["kind"] == "answer"
        assert not built.is_set()
        release.set()
        page = client.get("/chat/")  # waits for the chat
        assert page.status_code == 200 and "gradio" in page.text.lower()
        ready = client.get("/healthz")
        assert ready.status_code == 200 and ready.json()["status"] == "ok" and ready.json()["chat"] == "ready"
        assert client.post("/chat/gradio_api/upload", files={"files": ("a.txt", b"x")}).status_code == 404


def test_a_chat_that_cannot_be_built_leaves_the_api_answering(assistant, monkeypatch, caplog):
    import rolebot.app

    def broken(*args, **kwargs):
        raise RuntimeError("no theme")

    monkeypatch.setattr(rolebot.app, "build_demo", broken)
    with TestClient(create_app(assistant, rate_limit="off", chat_later=True)) as client:
        page = client.get("/chat/")
        assert page.status_code == 503 and "unavailable" in page.json()["error"] and "no theme" not in page.text
        degraded = client.get("/healthz")
        assert degraded.status_code == 200 and degraded.json()["status"] == "degraded"
        assert client.post("/api/ask", json={"question": "What does an ML engineer do?"}).status_code == 200
    assert "the chat could not be started" in caplog.text

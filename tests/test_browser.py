"""Real browser tests: Debian's Chromium driven by Playwright against a real `rolebot serve`.

The server runs as its own process on a free loopback port with a temporary SQLite file; the
course page is served from a second port, as it would be from a course site.
"""

import functools
import http.server
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest

from conftest import ROOT

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
QUESTION = "What tools do ML engineers use?"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_events(db: Path, sql: str, args=()) -> list:
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        try:
            return conn.execute(sql, args).fetchall()
        except sqlite3.OperationalError:  # table not created yet
            return []


def start_server(article_index, tmp_path, *extra) -> tuple[subprocess.Popen, str, Path]:
    knowledge, index_dir = article_index
    port = free_port()
    db = tmp_path / f"feedback-{port}.sqlite3"
    env = dict(os.environ, ROLEBOT_KNOWLEDGE=str(knowledge), ROLEBOT_INDEX=str(index_dir), ROLEBOT_DB=str(db))
    exe = os.path.join(os.path.dirname(sys.executable), "rolebot")
    log = open(tmp_path / f"server-{port}.log", "w")
    proc = subprocess.Popen([exe, "serve", "--port", str(port), *extra], env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return proc, base, db
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError("rolebot serve did not start: " + (tmp_path / f"server-{port}.log").read_text())


def serve_course_page(tmp_path, chat_base: str) -> tuple[http.server.ThreadingHTTPServer, str]:
    """The example course page, its script tag pointed at the test server, on another port."""
    site = tmp_path / f"site-{free_port()}"
    site.mkdir()
    page = (ROOT / "examples" / "course-page.html").read_text()
    (site / "index.html").write_text(page.replace("http://127.0.0.1:7860", chat_base))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    handler.log_message = lambda *a: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}/index.html"


@pytest.fixture(scope="module")
def server(article_index, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("server")
    proc, base, db = start_server(article_index, tmp)
    yield base, db
    print("server log:", *(p.read_text() for p in tmp.glob("server-*.log")))
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield b
        b.close()


@pytest.fixture
def page_watch(browser):
    """A fresh page plus the list of every URL it requested."""
    requests: list[str] = []
    context = browser.new_context()
    page = context.new_page()
    page.on("request", lambda r: requests.append(r.url))
    yield page, requests
    context.close()


# Scrolls the chat from top to bottom and, at every step, asks the browser which element is on
# top at points of each message's text: any toolbar button there covers the text. Gradio's
# transient "Scroll down" arrow (shown only while scrolled up) is not a toolbar.
COVERED_TEXT_JS = """async () => {
  const covered = new Set();
  const wrap = document.querySelector('#chatbot .bubble-wrap');
  const view = wrap.getBoundingClientRect();
  const check = () => {
    for (const m of document.querySelectorAll('#chatbot [data-testid="bot"], #chatbot [data-testid="user"]')) {
      const walker = document.createTreeWalker(m, NodeFilter.SHOW_TEXT);
      let n;
      while ((n = walker.nextNode())) {
        if (!n.textContent.trim()) continue;
        const range = document.createRange();
        range.selectNodeContents(n);
        for (const r of range.getClientRects()) {
          if (r.width < 2 || r.height < 2) continue;
          for (const fx of [0.02, 0.5, 0.98]) {
            const x = r.left + r.width * fx, y = r.top + r.height / 2;
            if (y < view.top || y > view.bottom || x < view.left || x > view.right) continue;
            const e = document.elementFromPoint(x, y);
            if (e && !m.contains(e) && e.closest('button, .icon-button-wrapper') && !e.closest('button[aria-label="Scroll down"]')) {
              covered.add(n.textContent.trim().slice(0, 40) + ' | ' + (e.closest('button')?.getAttribute('aria-label') || e.className));
            }
          }
        }
      }
    }
  };
  for (let top = 0; top <= wrap.scrollHeight; top += 15) {
    wrap.scrollTop = top;
    await new Promise(requestAnimationFrame);
    check();
  }
  wrap.scrollTop = wrap.scrollHeight;
  return [...covered];
}"""


def covered_text(chat) -> list[str]:
    return chat.locator("#chatbot").evaluate("(el, body) => (new Function('return ' + body))()()", COVERED_TEXT_JS)


def only_loopback(urls: list[str]) -> list[str]:
    return [u for u in urls if urlparse(u).scheme in ("http", "https", "ws", "wss") and urlparse(u).hostname not in ("127.0.0.1", "localhost")]


def ask(chat, question: str, answers_before: int):
    chat.locator("#msg textarea").fill(question)
    chat.locator("#msg textarea").press("Enter")
    bots = chat.locator('[data-testid="bot"]')
    # Each reply is a sources panel plus the answer (or a single message).
    deadline = time.time() + 60
    while time.time() < deadline and bots.count() <= answers_before:
        time.sleep(0.2)
    time.sleep(0.5)
    return bots


def test_plain_chat_page_answers_with_citations(server, page_watch):
    base, _ = server
    page, requests = page_watch
    page.goto(base + "/")
    page.wait_for_selector("#msg textarea", timeout=60_000)
    bots = ask(page, QUESTION, 0)
    answer = bots.last
    answer.wait_for()
    assert "[1]" in answer.inner_text()
    assert any(t in answer.inner_text() for t in ("Docker", "Kubernetes", "TensorFlow"))
    snippet = page.get_by_text("ml-engineer-vs-data-scientist/", exact=False)
    assert snippet.count() == 0  # the Sources panel starts collapsed
    page.locator(".thought-group").first.click()
    snippet.first.wait_for(state="visible", timeout=5000)
    # A suggestion button asks its question.
    option = page.locator("#chatbot .option").first
    suggestion = option.inner_text()
    before = page.locator('[data-testid="user"]').count()
    option.click()
    page.wait_for_function(f"document.querySelectorAll('[data-testid=user]').length > {before}", timeout=30_000)
    assert suggestion.strip()[:20] in page.locator('[data-testid="user"]').last.inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "chat-page.png"), full_page=True)
    assert only_loopback(requests) == []


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 800}, {"width": 375, "height": 667}], ids=["desktop", "phone"])
def test_widget_on_course_page_answers_and_records_a_vote(server, browser, tmp_path, viewport):
    base, db = server
    httpd, page_url = serve_course_page(tmp_path, base)
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    try:
        page.goto(page_url)
        button = page.locator(".rolebot-button")
        button.wait_for()
        button.click()
        panel = page.locator(".rolebot-panel")
        assert panel.is_visible()
        box = panel.bounding_box()
        assert box["width"] <= viewport["width"] and box["x"] >= 0
        chat = page.frame_locator("iframe#rolebot-frame")
        chat.locator("#msg textarea").wait_for(timeout=60_000)
        bots = ask(chat, QUESTION, 0)
        assert "[1]" in bots.last.inner_text()
        chat.locator(".thought-group").first.click()
        chat.get_by_text("ml-engineer-vs-data-scientist/", exact=False).first.wait_for(state="visible", timeout=5000)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"widget-{viewport['width']}.png"))

        sql = "SELECT question, vote, citations FROM events WHERE kind='vote' AND question=?"
        before = len(read_events(db, sql, (QUESTION,)))
        dislike = chat.locator('#chatbot button[aria-label="Dislike"]').last
        dislike.wait_for(state="visible")
        page.wait_for_timeout(500)  # let the chat finish rendering the reply before voting
        dislike.click()
        deadline = time.time() + 15
        rows = []
        while time.time() < deadline and len(rows) <= before:
            rows = read_events(db, sql, (QUESTION,))
            time.sleep(0.3)
        assert len(rows) > before, "the vote never reached the database"
        assert rows[-1][1] == -1 and "ml-engineer-vs-data-scientist/" in rows[-1][2]
        ask(chat, "which role should I choose?", bots.count())
        assert covered_text(chat) == []

        # Esc closes the panel; opening it again keeps the conversation.
        page.keyboard.press("Escape")
        page.mouse.click(5, 5)
        page.keyboard.press("Escape")
        assert not panel.is_visible()
        button.click()
        assert QUESTION in chat.locator('[data-testid="user"]').first.inner_text()
        page.locator(".rolebot-close").click()
        assert not panel.is_visible()
        assert only_loopback(requests) == []
    finally:
        context.close()
        httpd.shutdown()


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, {"width": 375, "height": 667}], ids=["desktop", "phone"])
def test_no_message_text_is_covered_by_a_toolbar(server, browser, viewport):
    base, _ = server
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    try:
        page.goto(base + "/chat/")
        page.wait_for_selector("#msg textarea", timeout=60_000)
        for question in (QUESTION, "and data scientists?", "which role should I choose?", "what does a data scientist do?"):
            ask(page, question, page.locator('[data-testid="bot"]').count())
        assert covered_text(page) == []
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"chat-{viewport['width']}.png"))
    finally:
        context.close()


def test_question_html_is_shown_as_text_and_never_runs(server, page_watch):
    base, _ = server
    page, requests = page_watch
    page.goto(base + "/chat/")
    page.wait_for_selector("#msg textarea", timeout=60_000)
    hostile = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2"> ![t](http://203.0.113.9/t.png) tools?'
    ask(page, hostile, 0)
    page.wait_for_timeout(800)
    assert page.evaluate("window.__xss") is None
    assert not any("203.0.113.9" in u for u in requests)


def test_allow_origin_blocks_other_sites(article_index, browser, tmp_path):
    allowed_site = free_port()
    proc, base, _ = start_server(article_index, tmp_path, "--allow-origin", f"http://127.0.0.1:{allowed_site}")
    try:
        results = {}
        for name in ("allowed", "other"):
            site = tmp_path / name
            site.mkdir()
            (site / "index.html").write_text(f'<iframe id="chat" src="{base}/chat/" width="600" height="500"></iframe>')
            handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
            handler.log_message = lambda *a: None
            port = allowed_site if name == "allowed" else 0
            httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
            threading.Thread(target=httpd.serve_forever, daemon=True).start()
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{httpd.server_address[1]}/index.html")
            page.wait_for_timeout(4000)
            frame = page.frame_locator("iframe#chat")
            results[name] = frame.locator("#msg textarea").count()
            page.close()
            httpd.shutdown()
        assert results == {"allowed": 1, "other": 0}
    finally:
        proc.terminate()
        proc.wait(10)


def test_widget_script_in_head_waits_for_the_body(server, browser, tmp_path):
    base, _ = server
    site = tmp_path / "head-site"
    site.mkdir()
    (site / "index.html").write_text(f'<!doctype html><html><head><script src="{base}/embed.js"></script></head>'
                                     "<body><h1>Course</h1></body></html>")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    handler.log_message = lambda *a: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(f"http://127.0.0.1:{httpd.server_address[1]}/index.html")
        page.locator(".rolebot-button").wait_for(timeout=10_000)
        assert errors == []
    finally:
        page.close()
        httpd.shutdown()

"""The author's loop in Debian's Chromium against a real `rolebot serve`: learners' questions
go unanswered, the author signs in (a wrong token first), sees them on the dashboard,
attaches one as another wording of an FAQ, waits for the live reload, and the chat then
answers it from that FAQ. Screenshots of the dashboard land in test-artifacts/."""


import httpx
import pytest

from conftest import ARTICLE, build_article
from test_browser import ARTIFACTS, CHROMIUM, LAUNCH_ARGS, ask, only_loopback, start_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TOKEN = "author-token-for-the-browser-test"
SKILLS = "ml-engineer-vs-data-scientist/what-skills-should-i-learn-to-become-job-ready-in-these-roles/1"
ASKED = ["what languages should I learn?", "which languages should I learn?", "what language should I learn first?"]


@pytest.fixture
def course_server(tmp_path, embedder, monkeypatch):
    knowledge, _ = build_article(tmp_path, embedder)
    monkeypatch.setenv("ROLEBOT_ADMIN_TOKEN", TOKEN)
    proc, base, _ = start_server((knowledge, tmp_path / "index"), tmp_path)
    yield base, knowledge / ARTICLE.name
    proc.terminate()
    proc.wait(10)
    log = "\n".join(p.read_text() for p in tmp_path.glob("server-*.log"))
    assert TOKEN not in log  # the token never reaches the server's log


def test_author_fixes_an_unanswered_question_in_the_browser(course_server):
    from playwright.sync_api import sync_playwright

    base, article = course_server
    for q in ASKED:
        r = httpx.post(base + "/api/ask", json={"question": q}, timeout=30)
        assert r.json()["kind"] == "not_found", q
    assert httpx.post(base + "/api/ask", json={"question": "What tools do ML engineers use?"}).json()["kind"] == "answer"
    first_build = httpx.get(base + "/healthz").json()["build"]
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))

        # A learner votes an answer down in the chat.
        learner = context.new_page()
        learner.goto(base + "/chat/")
        learner.wait_for_selector("#msg textarea", timeout=60_000)
        ask(learner, "What tools do ML engineers use?", 0)
        dislike = learner.locator('#chatbot button[aria-label="Dislike"]').last
        dislike.wait_for(state="visible")
        learner.wait_for_timeout(500)  # let the chat finish rendering the reply before voting
        dislike.click()
        learner.wait_for_timeout(1500)
        learner.close()

        page.goto(base + "/admin/")
        assert page.url.endswith("/admin/login")  # no session: to the sign-in form
        page.fill("#token", "a-wrong-token-typed-in")
        page.click("#sign-in")
        assert "not right" in page.locator("#login-error").inner_text()
        assert "token" not in page.url.split("/admin/")[-1]
        page.fill("#token", TOKEN)
        page.click("#sign-in")
        page.wait_for_url(base + "/admin/")
        assert page.locator("#chart rect.bar-not_found").count() >= 1
        assert page.locator("#chart rect.bar-answer").count() >= 1
        cluster = page.locator("tr.cluster").first
        assert cluster.locator("td").first.inner_text() == "3×"
        assert cluster.locator(".question").inner_text() in ASKED
        assert page.locator("#share-answered").inner_text() == "40%"  # 2 answered of 5 questions
        assert "What tools do ML engineers use?" in page.locator("tr.downvoted").first.inner_text()
        page.screenshot(path=str(ARTIFACTS / "console-dashboard-1280.png"), full_page=True)
        page.set_viewport_size({"width": 375, "height": 812})
        page.screenshot(path=str(ARTIFACTS / "console-dashboard-375.png"), full_page=True)
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= 375, f"the dashboard is {wide} px wide on a 375 px screen"
        page.set_viewport_size({"width": 1280, "height": 900})

        cluster.locator("a.btn").click()
        page.wait_for_selector("#alternate-form")
        asked = page.locator("#fix-question").inner_text()
        page.check(f'input[name="passage"][value="{SKILLS}"]')
        page.screenshot(path=str(ARTIFACTS / "console-fix-1280.png"), full_page=True)
        page.click("#attach")
        page.wait_for_selector("#notice")
        assert SKILLS in page.locator("#notice").inner_text()
        # The status badge turns to the new build without a page reload.
        page.wait_for_function(f"document.getElementById('index-state').dataset.live && "
                               f"document.getElementById('index-state').dataset.live !== '{first_build}' && "
                               "document.getElementById('index-state').textContent.includes('fresh')", timeout=120_000)
        assert httpx.get(base + "/healthz").json()["build"] != first_build
        assert f"- {asked}" in article.read_text()

        chat = context.new_page()
        chat.on("request", lambda r: requests.append(r.url))
        chat.goto(base + "/chat/")
        chat.wait_for_selector("#msg textarea", timeout=60_000)
        bots = ask(chat, asked, 0)
        assert "doesn't cover" not in bots.last.inner_text()
        chat.locator(".thought-group").first.click()
        chat.get_by_text(SKILLS, exact=False).first.wait_for(state="visible", timeout=5000)
        chat.screenshot(path=str(ARTIFACTS / "console-chat-after-fix.png"))
        browser.close()
    assert not only_loopback(requests)
    answer = httpx.post(base + "/api/ask", json={"question": asked}).json()
    assert answer["kind"] == "answer" and answer["citations"][0]["id"] == SKILLS

"""Live reload under load: a real `rolebot serve` answers 20 clients for at least 20 s while
three knowledge edits are rebuilt and swapped in. Every answer must be 200 and come wholly
from one build: each build's FAQ names its own secret code, so a request that mixed two
builds (or reported the wrong build) would pair a build id with a code from another."""

import re
import threading
import time
from collections import defaultdict

import httpx
import pytest

from conftest import ARTICLE
from test_browser import start_server

pytestmark = pytest.mark.slow

CLIENTS = 20
MIN_SECONDS = 20.0
REBUILDS = 3
QUESTION = "What is the secret code of this course?"


def with_code(text: str, n: int) -> str:
    faq = f"\n### What is the secret code of this course?\n\nThe secret code of this course is zebra-{n}.\n"
    return re.sub(r"\n### What is the secret code of this course\?\n\n[^\n]+\n", "", text).rstrip("\n") + "\n" + faq


def test_rebuilds_swap_in_under_load_without_a_failed_or_mixed_request(tmp_path, monkeypatch):
    from rolebot import index
    from rolebot.embedding import Embedder

    knowledge = tmp_path / "knowledge"
    knowledge.mkdir()
    article = knowledge / ARTICLE.name
    article.write_text(with_code(ARTICLE.read_text(), 0))
    index.build(knowledge, tmp_path / "index", Embedder())
    monkeypatch.setenv("ROLEBOT_RATE_LIMIT", "off")
    proc, base, _ = start_server((knowledge, tmp_path / "index"), tmp_path)
    seen: dict[str, set[int]] = defaultdict(set)  # build id -> codes answered under it
    failures: list[str] = []
    answered = [0]
    stop = threading.Event()
    lock = threading.Lock()

    def client():
        with httpx.Client(base_url=base, timeout=30) as http:
            while not stop.is_set():
                try:
                    r = http.post("/api/ask", json={"question": QUESTION})
                except httpx.HTTPError as exc:
                    failures.append(f"{type(exc).__name__}: {exc}")
                    continue
                codes = {int(c) for c in re.findall(r"zebra-(\d+)", r.text)}
                with lock:
                    if r.status_code != 200 or len(codes) != 1:
                        failures.append(f"{r.status_code} {r.text[:200]}")
                    else:
                        seen[r.headers["x-rolebot-build"]].update(codes)
                        answered[0] += 1

    try:
        first = httpx.get(base + "/healthz").json()["build"]
        threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
        started = time.time()
        for t in threads:
            t.start()
        builds = [first]
        for n in range(1, REBUILDS + 1):
            time.sleep(2)
            article.write_text(with_code(article.read_text(), n))  # a hand edit; the server notices
            deadline = time.time() + 120
            while httpx.get(base + "/healthz").json()["build"] == builds[-1]:
                assert time.time() < deadline, f"rebuild {n} was not swapped in within 120 s"
                time.sleep(0.2)
            builds.append(httpx.get(base + "/healthz").json()["build"])
        while time.time() - started < MIN_SECONDS:
            time.sleep(0.2)
        stop.set()
        for t in threads:
            t.join(60)
        elapsed = time.time() - started
    finally:
        stop.set()
        proc.terminate()
        proc.wait(10)
    print(f"{answered[0]} answers in {elapsed:.1f} s from builds {builds}: codes {dict(seen)}")
    assert not failures, failures[:5]
    assert len(set(builds)) == REBUILDS + 1
    assert set(seen) <= set(builds)
    for build, codes in seen.items():
        assert codes == {builds.index(build)}, (build, codes)  # one build, one code: never mixed
    assert {builds.index(b) for b in seen} == set(range(REBUILDS + 1))  # every build answered some
    assert answered[0] > CLIENTS * 5

"""Start and stop `rolebot serve`, and drive it over HTTP: latency, memory, concurrent users."""

from __future__ import annotations

import os
import random
import resource
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from common import BIN, offline_env, proc_status, timed

PROBE = "what is the main job of an ML engineer, in short?"  # never one of the timed questions


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`rolebot serve` on a free port, timed to its first answer; backend None = the shipped default."""

    def __init__(self, work: Path, knowledge: Path, index: Path, backend: str | None = None):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        cmd = self.command(backend)
        # Every request comes from 127.0.0.1, so the per-client rate limit is turned off.
        env = offline_env(ROLEBOT_DB=work / f"feedback-{self.port}.sqlite3", ROLEBOT_INDEX=index, ROLEBOT_RATE_LIMIT="off",
                          ROLEBOT_KNOWLEDGE=knowledge)
        self.log = open(work / f"server-{self.port}.log", "w")
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd=work)

    def command(self, backend: str | None) -> list[str]:
        return [str(BIN / "rolebot"), *(["--backend", backend] if backend else []), "serve", "--port", str(self.port)]

    def wait_first_answer(self, timeout: float = 300) -> float:
        """Seconds from launch to the first successful /api/ask."""
        with httpx.Client(timeout=30) as client:
            while time.perf_counter() - self.started < timeout:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"server exited with {self.proc.returncode}; see {self.log.name}")
                try:
                    if client.post(self.base + "/api/ask", json={"question": PROBE}).status_code == 200:
                        return time.perf_counter() - self.started
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
        raise TimeoutError(f"no answer from {self.base} in {timeout}s")

    def wait_chat(self, timeout: float = 300) -> float:
        """Seconds from launch to the chat page (/chat/ 200): Gradio is built after the first answer."""
        with httpx.Client(timeout=timeout) as client:
            client.get(self.base + "/chat/").raise_for_status()  # waits while the chat is starting
        return time.perf_counter() - self.started

    def memory(self) -> dict:
        return proc_status(self.proc.pid)

    def cpu_seconds(self) -> float:
        """User + system CPU the server process has used so far."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        stop_process(self.proc)
        self.log.close()


class FloorServer(Server):
    """bench/floorchat.py: Gradio and uvicorn with nothing to answer, served like rolebot's chat."""

    def command(self, backend: str | None) -> list[str]:
        return [sys.executable, str(Path(__file__).with_name("floorchat.py")), str(self.port)]


def stop_process(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def http_latency(base: str, questions: list[tuple[str, list]], floor_ms) -> dict:
    """POST each question once (the first time the server sees it: uncached), alternating with
    the bench's own in-process answer of the same question (floor_ms(q, history) -> ms). Then, to
    see where the time goes: GET /healthz, a small-talk question (no model) and the same questions
    again (cached)."""
    ms = {"http": [], "floor": [], "healthz": [], "smalltalk": [], "repeated": []}
    with httpx.Client(timeout=60) as client:
        ask = lambda q, h=(): client.post(base + "/api/ask", json={"question": q, "history": list(h)}).raise_for_status()  # noqa: E731
        for n in range(3):  # warm the connection and the server's code paths
            ask(f"warm-up question {n} about data scientists")
        for i, (q, history) in enumerate(questions):
            steps = [lambda: ms["http"].append(timed(lambda: ask(q, history))), lambda: ms["floor"].append(floor_ms(q, history))]
            for step in steps[:: 1 if i % 2 else -1]:
                step()
                time.sleep(0.01)  # let the other process's idle threads settle
        for q, history in questions:
            ms["healthz"].append(timed(lambda: client.get(base + "/healthz").raise_for_status()))
            ms["smalltalk"].append(timed(lambda: ask("hello")))
            ms["repeated"].append(timed(lambda: ask(q, history)))
    return ms


def question_mix(pool: list[str], n: int, distinct_share: float, seed: int = 3) -> list[str]:
    """n questions: repeats of the eval questions, and (distinct_share of them) never-seen variants."""
    rng = random.Random(seed)
    return [f"{rng.choice(pool)} (variant {i})" if rng.random() < distinct_share else rng.choice(pool) for i in range(n)]


def memory_growth(server: Server, pool: list[str], n: int, samples: int = 10) -> dict:
    """RSS before and after n /api/ask requests (one third distinct, the rest repeated)."""
    start = server.memory()
    curve = [(0, start["VmRSS"])]
    t0 = time.perf_counter()
    with httpx.Client(timeout=60) as client:
        for i, q in enumerate(question_mix(pool, n, 1 / 3), 1):
            client.post(server.base + "/api/ask", json={"question": q}).raise_for_status()
            if i % max(1, n // samples) == 0:
                curve.append((i, server.memory()["VmRSS"]))
    end = server.memory()
    half = curve[len(curve) // 2]
    return {"last_half_growth_mb": round(end["VmRSS"] - half[1], 1), "last_half_from": half[0],"questions": n, "distinct_share": round(1 / 3, 3), "rss_before_run_mb": start["VmRSS"], "rss_end_mb": end["VmRSS"],
            "growth_mb": round(end["VmRSS"] - start["VmRSS"], 1), "peak_mb": end["VmHWM"], "curve": curve,
            "seconds": round(time.perf_counter() - t0, 1)}


def load_test(base: str, pool: list[str], users: int, seconds: float, gradio: bool) -> dict:
    """Closed loop, no think time: every user POSTs /api/ask, or with gradio half of them chat
    through the Gradio queue."""
    from gradio_client import Client

    records: list[tuple[str, str, float]] = []  # (endpoint, "ok" or what went wrong, ms)
    lock = threading.Lock()
    questions = question_mix(pool, 100_000, 0.5, seed=9)
    clients = [Client(base + "/chat/", verbose=False, download_files=False, analytics_enabled=False)
               if gradio and u % 2 else httpx.Client(timeout=120) for u in range(users)]
    go = threading.Event()
    deadline = [0.0]
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)

    def user(u: int) -> None:
        rng, client = random.Random(u), clients[u]
        go.wait()
        while time.perf_counter() < deadline[0]:
            q = rng.choice(questions)
            t = time.perf_counter()
            kind = "api" if isinstance(client, httpx.Client) else "gradio"
            try:
                if kind == "api":
                    status = client.post(base + "/api/ask", json={"question": q}).status_code
                    outcome = "ok" if status == 200 else f"HTTP {status}"
                else:
                    outcome = "ok" if client.predict(q, api_name="/chat") else "empty reply"
            except Exception as exc:
                outcome = type(exc).__name__
            with lock:
                records.append((kind, outcome, (time.perf_counter() - t) * 1000))

    threads = [threading.Thread(target=user, args=(u,), daemon=True) for u in range(users)]
    for th in threads:
        th.start()
    t0 = time.perf_counter()
    deadline[0] = t0 + seconds
    go.set()
    for th in threads:
        th.join(seconds + 180)
    elapsed = time.perf_counter() - t0
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    for c in clients:
        c.close()
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    return {"users": users, "seconds": seconds, "elapsed": round(elapsed, 1), "records": records,
            "load_generator_cpu_s": round(cpu, 1),
            "unfinished_users": sum(th.is_alive() for th in threads)}

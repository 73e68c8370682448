"""Answers a second from 1, 2 and 3 replicas behind HAProxy (deploy/haproxy.cfg), and from one
replica with 1 vs 2 ONNX threads: what another process buys, and what another core would.

    .venv/bin/python bench/replicas.py [--seconds 15] [--users 16]

Closed loop, no think time: `users` clients POST /api/ask with questions the server has not seen
(so no answer comes from a cache) for `seconds`. Feedback goes to a SQLite file per replica and
the rate limit is off: this measures answering, not the shared servers. Prints a Markdown table
and writes bench/out/replicas.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from common import ARTICLE, BIN, HERE, ROOT, offline_env, stats, wait_quiet
from serverctl import free_port, question_mix, stop_process as stop

POOL = ["What tools do ML engineers use?", "What does a data scientist do?", "Which role pays more?",
        "What skills does an ML engineer need?", "Do ML engineers deploy models?", "Is SQL needed for data science?"]
CONFIGS = [  # (replicas, ONNX threads per replica)
    (1, 1), (1, 2), (2, 1), (3, 1),
]


def start_replicas(work: Path, knowledge: Path, index: Path, n: int, threads: int) -> list[tuple[subprocess.Popen, int]]:
    procs = []
    for _ in range(n):
        port = free_port()
        env = offline_env(ROLEBOT_KNOWLEDGE=knowledge, ROLEBOT_INDEX=index, ROLEBOT_DB=work / f"fb-{port}.sqlite3",
                          ROLEBOT_RATE_LIMIT="off", ROLEBOT_BACKEND="onnx", ROLEBOT_ONNX_THREADS=threads)
        log = open(work / f"replica-{port}.log", "w")
        procs.append((subprocess.Popen([str(BIN / "rolebot"), "serve", "--port", str(port)], env=env, stdout=log,
                                       stderr=subprocess.STDOUT), port))
    for proc, port in procs:
        deadline = time.monotonic() + 300
        while True:
            try:
                if httpx.post(f"http://127.0.0.1:{port}/api/ask", json={"question": "warm-up: what is MLOps?"},
                              timeout=30).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"replica on {port} did not start; see {work}")
            time.sleep(0.3)
    return procs


def start_haproxy(work: Path, ports: list[int]) -> tuple[subprocess.Popen, int]:
    port = free_port()
    # Three server lines in the shipped config: with fewer replicas, lines repeat a replica.
    env = dict(os.environ, ROLEBOT_LB_BIND=f"127.0.0.1:{port}",
               **{f"ROLEBOT_REPLICA_{i + 1}": f"127.0.0.1:{ports[i % len(ports)]}" for i in range(3)})
    exe = shutil.which("haproxy") or "/usr/sbin/haproxy"
    proc = subprocess.Popen([exe, "-db", "-f", str(ROOT / "deploy" / "haproxy.cfg")], env=env,
                            stdout=open(work / "haproxy.log", "w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200:
                return proc, port
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"haproxy did not start; see {work / 'haproxy.log'}")
        time.sleep(0.2)


def load(base: str, users: int, seconds: float, seed: int) -> dict:
    questions = question_mix(POOL, users * 2000, 1.0, seed=seed)  # all distinct: no cached answers
    ms: list[float] = []
    errors = [0]
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def user(u: int) -> None:
        with httpx.Client(timeout=60) as client:
            for q in questions[u::users]:
                if time.perf_counter() >= deadline:
                    return
                t = time.perf_counter()
                ok = client.post(base + "/api/ask", json={"question": q}).status_code == 200
                with lock:
                    if ok:
                        ms.append((time.perf_counter() - t) * 1000)
                    else:
                        errors[0] += 1

    threads = [threading.Thread(target=user, args=(u,)) for u in range(users)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.perf_counter() - started
    return {"answers": len(ms), "errors": errors[0], "answers_per_s": round(len(ms) / took, 1), **stats(ms)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=15.0)
    p.add_argument("--users", type=int, default=16)
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="rolebot-replicas-"))
    knowledge, index = work / "knowledge", work / "index"
    knowledge.mkdir()
    shutil.copy(ARTICLE, knowledge / ARTICLE.name)
    subprocess.run([str(BIN / "rolebot"), "--knowledge", str(knowledge), "--index", str(index), "build"],
                   env=offline_env(), check=True, stdout=subprocess.DEVNULL)
    rows = []
    try:
        for n, threads in CONFIGS:
            replicas = start_replicas(work, knowledge, index, n, threads)
            lb = None
            try:
                lb, port = start_haproxy(work, [p for _, p in replicas])
                quiet = wait_quiet(max_wait=30)
                result = load(f"http://127.0.0.1:{port}", args.users, args.seconds, seed=n * 10 + threads)
                rows.append({"replicas": n, "onnx_threads": threads, **result, **quiet})
                print(f"{n} replica(s), {threads} thread(s): {result['answers_per_s']} answers/s", file=sys.stderr)
            finally:
                if lb is not None:
                    stop(lb)
                for proc, _ in replicas:
                    stop(proc)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out = HERE / "out"
    out.mkdir(exist_ok=True)
    (out / "replicas.json").write_text(json.dumps({"cores": os.cpu_count(), "users": args.users, "seconds": args.seconds,
                                                   "rows": rows}, indent=2))
    print(f"| replicas | ONNX threads each | answers/s | p50 ms | p95 ms | errors | CPU pressure from others (avg10 %) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['replicas']} | {r['onnx_threads']} | {r['answers_per_s']} | {r.get('p50')} | {r.get('p95')} | "
              f"{r['errors']} | {r['cpu_pressure_avg10']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

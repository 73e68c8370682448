"""Query encoders side by side: torch, ONNX fp32 and ONNX int8, measured in one run.

    .venv/bin/python bench/backends.py [--rounds 3]

Builds the article into a temporary index (torch + ONNX export), then reports
- single-query latency (encoder alone, and Retriever.search with the query cache cleared),
- 16 concurrent callers through the micro-batcher (queries per second, encoder calls),
- a fresh process per backend: import, load, first answer and resident memory.
Prints a Markdown table; nothing here is a pass/fail test.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ARTICLE, eval_questions, offline_env, stats, timed, wait_quiet  # noqa: E402

os.environ.update(offline_env())
BACKENDS = ("torch", "onnx", "onnx-int8")

COLD = """
import json, resource, sys, time
t0 = time.perf_counter()
from rolebot import Assistant, Retriever
t1 = time.perf_counter()
r = Retriever.load(knowledge_dir={knowledge!r}, index_dir={index!r}, backend={backend!r}, auto_build=False)
t2 = time.perf_counter()
answer = Assistant(r).answer("What does an ML engineer do?")
t3 = time.perf_counter()
rss = [l for l in open("/proc/self/status") if l.startswith(("VmRSS", "VmHWM"))]
print(json.dumps({{"import_s": t1 - t0, "load_s": t2 - t1, "first_answer_s": t3 - t2, "total_s": t3 - t0,
    "rss_mb": {{l.split(":")[0]: int(l.split()[1]) / 1024 for l in rss}}, "torch_imported": "torch" in sys.modules}}))
"""


def cold_start(knowledge: Path, index: Path, backend: str) -> dict:
    script = COLD.format(knowledge=str(knowledge), index=str(index), backend=backend)
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return json.loads(out.stdout) | {"process_s": time.perf_counter() - started}


def concurrent(retriever, queries: list[str], threads: int = 16) -> dict:
    embedder = retriever.embedder
    embedder._cache.clear()
    calls = embedder._batcher.calls
    chunks = [queries[i::threads] for i in range(threads)]
    barrier = threading.Barrier(threads)

    def worker(chunk):
        barrier.wait()
        for q in chunk:
            embedder.encode_queries([q])

    pool = [threading.Thread(target=worker, args=(c,)) for c in chunks]
    started = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    seconds = time.perf_counter() - started
    return {"qps": len(queries) / seconds, "encoder_calls": embedder._batcher.calls - calls, "queries": len(queries)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3, help="passes over the eval questions per backend")
    args = ap.parse_args()
    from rolebot import embedding, index
    from rolebot.retriever import Retriever

    questions = list(dict.fromkeys(q for q, _ in eval_questions()))
    work = Path(tempfile.mkdtemp(prefix="rolebot-backends-"))
    try:
        knowledge = work / "knowledge"
        knowledge.mkdir()
        shutil.copy(ARTICLE, knowledge / ARTICLE.name)
        reference = embedding.Embedder()
        t = time.perf_counter()
        index.build(knowledge, work / "index", reference)
        build_s = time.perf_counter() - t
        pressure = wait_quiet()
        rows = {}
        for backend in BACKENDS:
            r = Retriever.load(knowledge_dir=knowledge, index_dir=work / "index", backend=backend,
                               auto_build=False, embedder=reference if backend == "torch" else None)
            enc = r.embedder.encoder
            for q in questions[:5]:  # warm up
                enc.encode([q])
            encode_ms, search_ms = [], []
            for _ in range(args.rounds):
                for q in questions:
                    encode_ms.append(timed(lambda: enc.encode([q])))
                    r.embedder._cache.clear()
                    search_ms.append(timed(lambda: r.search(q, k=5)))
            rows[backend] = {"encode": stats(encode_ms), "search": stats(search_ms),
                             "concurrent": concurrent(r, questions * 2)}
        for backend in BACKENDS:
            rows[backend]["cold"] = cold_start(knowledge, work / "index", backend)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"build (torch passages + ONNX export): {build_s:.1f} s; CPU pressure before timing: {pressure}")
    print(f"{len(questions)} distinct eval questions × {args.rounds} rounds, one at a time; "
          f"ONNX threads {os.environ.get('ROLEBOT_ONNX_THREADS', 'default')}\n")
    print("| backend | encode p50 ms | encode p95 ms | search p50 ms | search p95 ms | 16 threads q/s (encoder calls / queries) "
          "| import s | load s | first answer s | process wall s | RSS MB (peak) | torch imported |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for b, row in rows.items():
        c, cold = row["concurrent"], row["cold"]
        print(f"| {b} | {row['encode']['p50']:.2f} | {row['encode']['p95']:.2f} | {row['search']['p50']:.2f} | "
              f"{row['search']['p95']:.2f} | {c['qps']:.0f} ({c['encoder_calls']}/{c['queries']}) | "
              f"{cold['import_s']:.2f} | {cold['load_s']:.2f} | {cold['first_answer_s']:.3f} | {cold['process_s']:.2f} | "
              f"{cold['rss_mb']['VmRSS']:.0f} ({cold['rss_mb']['VmHWM']:.0f}) | {cold['torch_imported']} |")


if __name__ == "__main__":
    main()

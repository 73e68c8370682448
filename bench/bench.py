"""Performance and scale of rolebot, each figure measured beside its floor in the same run.

    .venv/bin/python bench/bench.py [--quick] [--out bench/out]

Writes <out>/results.json, <out>/RESULTS.md and <out>/scale.png. --quick runs tiny sizes only
(a smoke test). Everything it builds lives in a temporary folder that is removed at the end.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ARTICLE, BIN, HERE, ROOT, eval_questions, offline_env, stats, timed, wait_quiet  # noqa: E402

os.environ.update(offline_env())
import render  # noqa: E402
import serverctl  # noqa: E402
from scale import run_scale  # noqa: E402
from serverctl import Server  # noqa: E402

FULL_SIZES, QUICK_SIZES = [1_000, 10_000, 100_000], [40, 120]
SECTIONS: dict = {}


def run_seconds(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, env=offline_env(), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return round(time.perf_counter() - t, 3)


@contextmanager
def section(name: str, quiet: bool = False):
    """Time a section and note the machine's load around it (the machine is shared); with quiet,
    first wait a little for other people's CPU-bound work to pass."""
    before = wait_quiet() if quiet else {}
    t, load = time.perf_counter(), os.getloadavg()[0]
    print(f"[bench] {name} …", file=sys.stderr, flush=True)
    yield
    SECTIONS[name] = {"seconds": round(time.perf_counter() - t, 1), "load_before": round(load, 2),
                      "load_after": round(os.getloadavg()[0], 2), **before}


def machine() -> dict:
    import faiss, gradio, sentence_transformers, torch  # noqa: E401

    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    mem = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal"))
    return {"nproc": len(os.sched_getaffinity(0)), "cpu": cpu, "ram_gb": round(mem / 2**20, 1),
            "python": platform.python_version(), "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "sentence_transformers": sentence_transformers.__version__, "faiss": faiss.__version__,
            "gradio": gradio.__version__, "load_start": round(os.getloadavg()[0], 2)}


# -- 1, 2, 4a: in the bench process --------------------------------------------------------
def article_build(work: Path, embedder, quick: bool) -> tuple[Path, Path, dict]:
    from rolebot import index

    knowledge, idx = work / "knowledge", work / "index"
    knowledge.mkdir()
    shutil.copy(ARTICLE, knowledge / ARTICLE.name)
    t = time.perf_counter()
    m = index.build(knowledge, idx, embedder)
    out = {"article_build_seconds_in_process": round(time.perf_counter() - t, 3), "article_passages": m["passages"],
           "article_texts_embedded": m["embedded"]}
    if not quick:  # the command a course author runs: imports and model load included
        out["article_rolebot_build_cli_seconds"] = run_seconds(
            [str(BIN / "rolebot"), "--knowledge", str(knowledge), "--index", str(work / "index-cli"), "build"])
    return knowledge, idx, out


def answer_latency(assistant, qs: list, rounds: int) -> dict:
    """Assistant.answer (query cache cleared each time) interleaved with bare model.encode."""
    import torch

    emb = assistant.retriever.embedder
    floor_ms = lambda q: timed(lambda: emb.model.encode([q], normalize_embeddings=True))  # noqa: E731

    def answer_ms(q, h):
        emb._cache.clear()
        return timed(lambda: assistant.answer(q, h))

    for q, h in qs[:5]:
        answer_ms(q, h), floor_ms(q)
    res = {"answer": [], "floor": [], "answer_1thread": [], "floor_1thread": []}
    diff = []
    for r in range(rounds):
        for i, (q, h) in enumerate(qs):
            if (i + r) % 2:
                a, f = answer_ms(q, h), floor_ms(q)
            else:
                f, a = floor_ms(q), answer_ms(q, h)
            res["answer"].append(a)
            res["floor"].append(f)
            diff.append(a - f)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # what one torch thread would give, on the same questions
    try:
        for q, h in qs:
            res["floor_1thread"].append(floor_ms(q))
            res["answer_1thread"].append(answer_ms(q, h))
    finally:
        torch.set_num_threads(threads)
    out = {k: stats(v) for k, v in res.items()}
    out["answer_minus_floor_paired"] = stats(diff)
    return out


def contention(embedder, qs: list) -> dict:
    """Bare encode with one other CPU-bound process running (as on this shared machine), at
    torch's default thread count and at one thread."""
    import torch

    threads, out = torch.get_num_threads(), {}
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        for n in dict.fromkeys((threads, 1)):
            torch.set_num_threads(n)
            ms = [timed(lambda: embedder.model.encode([q], normalize_embeddings=True)) for q, _ in qs[:60]]
            out[f"encode floor, {n} torch thread{'s' * (n > 1)}, 1 busy process beside"] = stats(ms)
    finally:
        hog.kill()
        hog.wait()
        torch.set_num_threads(threads)
    return out


def code_state() -> dict:
    """Which code was measured: other people edit src/ while this runs."""
    files = sorted((ROOT / "src" / "rolebot").glob("*.py"))
    git = lambda *a: subprocess.run(["git", "-C", str(ROOT), *a], capture_output=True, text=True).stdout  # noqa: E731
    return {"git_head": git("rev-parse", "--short", "HEAD").strip(),
            "src_sha256": hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()[:12],
            "src_uncommitted": [line[3:] for line in git("status", "--porcelain", "src").splitlines()]}


def cached_latency(assistant, qs: list) -> dict:
    """The same question twice: the second answer (query vector from the LRU cache), and its parts."""
    ret = assistant.retriever
    parts = {k: [] for k in ("answer_cached", "normalize", "encode_queries_cached", "score", "bm25", "faiss")}
    for q, h in qs:
        assistant.answer(q, h)
        parts["answer_cached"].append(timed(lambda: assistant.answer(q, h)))
        query = ret.normalize(assistant.resolve(q, h))
        parts["normalize"].append(timed(lambda: ret.normalize(assistant.resolve(q, h))))
        parts["encode_queries_cached"].append(timed(lambda: ret.embedder.encode_queries([query])))
        vec = ret.embedder.encode_queries([query])
        parts["score"].append(timed(lambda: ret.score([query], None, vec)))
        parts["bm25"].append(timed(lambda: ret._lexical(query, None, 64)))
        parts["faiss"].append(timed(lambda: ret.data.faiss_index.search(vec, 64)))
    return {k: stats(v) for k, v in parts.items()}


# -- 3: start-up ---------------------------------------------------------------------------
def cold_start(work: Path, knowledge: Path, idx: Path, runs: int) -> tuple[dict, Server]:
    """Launch-to-first-answer of `rolebot serve`, alternating with `import sentence_transformers`.
    The last server is left running for the HTTP and memory sections."""
    samples = {"import sentence_transformers": [], "rolebot serve → first /api/ask": [],
               "rolebot --help": [], "rolebot search --help": []}
    server = None
    for _ in range(runs):
        if server:
            server.stop()
        samples["import sentence_transformers"].append(run_seconds([sys.executable, "-c", "import sentence_transformers"]))
        server = Server(work, knowledge, idx)
        samples["rolebot serve → first /api/ask"].append(round(server.wait_first_answer(), 3))
    for _ in range(max(3, runs + 2)):
        samples["rolebot --help"].append(run_seconds([str(BIN / "rolebot"), "--help"]))
        samples["rolebot search --help"].append(run_seconds([str(BIN / "rolebot"), "search", "--help"]))
    return {"samples": samples, "median": {k: float(np.median(v)) for k, v in samples.items()},
            "importtime_top10": importtime()}, server


def importtime() -> list[dict]:
    err = subprocess.run([sys.executable, "-X", "importtime", "-c", "import rolebot.server"], env=offline_env(),
                         capture_output=True, text=True, check=True).stderr
    rows = []
    for line in err.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) == 3 and parts[0].strip().isdigit():
            rows.append({"module": parts[2].strip(), "self_ms": round(int(parts[0]) / 1000, 1),
                         "cumulative_ms": round(int(parts[1]) / 1000, 1)})
    return sorted(rows, key=lambda r: -r["cumulative_ms"])[:10]


def queue_env_check() -> dict:
    """Does GRADIO_DEFAULT_CONCURRENCY_LIMIT override an explicit queue(default_concurrency_limit=2)?"""
    code = ("import gradio as gr\nfor arg in (2, 'not_set'):\n with gr.Blocks() as d:\n  gr.Button().click(lambda: None)\n"
            " d.queue(default_concurrency_limit=arg)\n print(d._queue.default_concurrency_limit)")
    out = subprocess.run([sys.executable, "-c", code], env=offline_env(GRADIO_DEFAULT_CONCURRENCY_LIMIT=7),
                         capture_output=True, text=True, check=True).stdout.split()
    return {"env_var_set_to": 7, "explicit_2_gives": out[0], "not_set_gives": out[1], "env_overrides_explicit": out[0] == "7"}


# -- 6: concurrent users -------------------------------------------------------------------
def shipped_setting() -> str:
    """What `rolebot serve` does today, read from the source (others may change it)."""
    import re

    import rolebot.server
    import torch

    queue = re.search(r"default_concurrency_limit=(\w+)", Path(rolebot.server.__file__).read_text())
    return (f"as shipped (queue {queue.group(1) if queue else '?'}, {getattr(rolebot.server, 'ANSWER_WORKERS', '?')} "
            f"answer threads, torch {torch.get_num_threads()} threads)")


LOAD_SETTINGS = {  # label -> bench/serve_patched.py settings ({} = `rolebot serve` as shipped)
    "shipped": {},
    "queue 1": {"BENCH_QUEUE_LIMIT": "1"},
    "queue 4": {"BENCH_QUEUE_LIMIT": "4"},
    "queue unlimited": {"BENCH_QUEUE_LIMIT": "none"},
    "queue 1, 1 answer thread, torch 1 thread": {"BENCH_QUEUE_LIMIT": "1", "BENCH_ANSWER_WORKERS": "1", "BENCH_TORCH_THREADS": "1"},
}


def load_section(work: Path, knowledge: Path, idx: Path, pool: list[str], quick: bool, running: Server | None = None) -> dict:
    """Each setting on a fresh server; --quick runs only the shipped one, on `running`."""
    users, seconds = (4, 3) if quick else (50, 30)
    runs = []
    for label, settings in list(LOAD_SETTINGS.items())[: 1 if quick else None]:
        server = running if quick else Server(work, knowledge, idx, settings)
        server.wait_first_answer()
        raw = serverctl.load_test(server.base, pool, users, seconds)
        rss = server.memory()
        if server is not running:
            server.stop()
        by_kind = {}
        for kind in ("api", "gradio", "all"):
            recs = [r for r in raw["records"] if kind in ("all", r[0])]
            ok = [ms for _, outcome, ms in recs if outcome == "ok"]
            by_kind[kind] = stats(ok) | {"throughput": round(len(ok) / raw["elapsed"], 2), "errors": len(recs) - len(ok),
                                         "error_kinds": dict(Counter(o for _, o, _ in recs if o != "ok"))}
        runs.append({"setting": shipped_setting() if label == "shipped" else label, "by_kind": by_kind, "rss_after_mb": rss,
                     "elapsed": raw["elapsed"], "unfinished_users": raw["unfinished_users"]})
    env_check = queue_env_check()
    return {"users": users, "seconds": seconds, "runs": runs, "queue_env_check": env_check,
            "note": f"{users} users ({users // 2} POST /api/ask with httpx, {users - users // 2} gradio_client "
                    f"`predict(q, api_name='/chat')`), {seconds} s each, half the questions never seen before (uncached). "
                    "Settings other than the shipped ones were run through bench/serve_patched.py: GRADIO_DEFAULT_CONCURRENCY_LIMIT "
                    "does not override the explicit `queue(default_concurrency_limit=2)` in server.py (checked: "
                    f"{env_check}). /api/ask does not go through the Gradio queue: it runs on the server's own answer "
                    "threads. The rate limit is off (every user is 127.0.0.1). The load generator shares the 2 cores with the server."}


# -- targets and main ----------------------------------------------------------------------
def target(name, measured, floor, comparison, goal, met) -> dict:
    return {"name": name, "measured": measured, "floor": floor, "comparison": comparison, "target": goal,
            "met": None if met is None else bool(met)}


def targets(r: dict) -> list[dict]:
    lat, http, cs, sc = r["latency"]["summaries"], r["http"], r["cold_start"]["median"], r["scale"]["sizes"]
    a, f = lat["Assistant.answer (uncached)"]["p50"], lat["model.encode floor"]["p50"]
    hp, hf = http["http"]["p50"], http["floor"]["p50"]
    serve, imp = cs["rolebot serve → first /api/ask"], cs["import sentence_transformers"]
    b = sc[0]
    out = [target("answer p50 (ms)", a, f, f"{a / f:.2f}×", "≤ 1.3× floor", a <= 1.3 * f),
           target("answer p95 (ms)", lat["Assistant.answer (uncached)"]["p95"], lat["model.encode floor"]["p95"],
                  f"{lat['Assistant.answer (uncached)']['p95'] / lat['model.encode floor']['p95']:.2f}×", "(reported)", None),
           target("POST /api/ask p50 (ms)", hp, hf, f"+{hp - hf:.1f} ms", "≤ floor + 5 ms", hp <= hf + 5),
           target("repeated question p50 (ms)", lat["answer, repeated question"]["p50"], None, "—", "< 1 ms",
                  lat["answer, repeated question"]["p50"] < 1),
           target("cold start to first answer (s)", serve, imp, f"{serve / imp:.2f}×", "≤ 1.5× import", serve <= 1.5 * imp),
           target("`rolebot --help` (s)", cs["rolebot --help"], None, "—", "< 0.5 s", cs["rolebot --help"] < 0.5),
           target("`rolebot search --help` (s)", cs["rolebot search --help"], None, "—", "< 0.5 s", cs["rolebot search --help"] < 0.5),
           target(f"build throughput, {b['passages']} passages (texts/s)", b["build_texts_per_s"], b["bare_encode_texts_per_s"],
                  f"{b['build_vs_bare_throughput']:.2f}×", "≥ 0.9× bare encode", b["build_vs_bare_throughput"] >= 0.9),
           target("rebuild after changing one document (texts embedded)", b["rebuild_one"]["embedded"],
                  b["rebuild_one"]["document_texts"], "of that document's texts", "only that document",
                  b["rebuild_one"]["only_that_document"])]
    for s in sc:
        if s["index_type"] != "FlatIP":
            out.append(target(f"HNSW recall@10 at {s['passages']} passages", s["recall_at_10"], 1.0, "vs exact", "≥ 0.95",
                              s["recall_at_10"] >= 0.95))
    big = sc[-1]
    out.append(target(f"FAISS search at {big['passages']} passages (ms)", big["faiss_p50_ms"], big["exact_p50_ms"],
                      "vs exact FlatIP", "≤ 2 ms", big["faiss_p50_ms"] <= 2))
    return out


def in_process(r: dict, work: Path, quick: bool, embedder) -> tuple[Path, Path, list]:
    """Sections 1, 2 and the article build: the model loaded once, in this process."""
    from rolebot import Assistant, Retriever

    with section("article build"):
        knowledge, idx, r["build"] = article_build(work, embedder, quick)
    assistant = Assistant(Retriever.load(knowledge_dir=knowledge, index_dir=idx, embedder=embedder, auto_build=False))
    qs = eval_questions(quick)
    with section("answer latency", quiet=True):
        lat, cached = answer_latency(assistant, qs, 1 if quick else 2), cached_latency(assistant, qs)
        busy = contention(assistant.retriever.embedder, qs)
    r["latency"] = {"summaries": {
        "Assistant.answer (uncached)": lat["answer"], "model.encode floor": lat["floor"],
        "answer − floor, paired": lat["answer_minus_floor_paired"], "answer, 1 torch thread": lat["answer_1thread"],
        "encode floor, 1 torch thread": lat["floor_1thread"], "answer, repeated question": cached["answer_cached"],
        **{f"repeated: {k}": v for k, v in cached.items() if k != "answer_cached"}, **busy},
        "note": f"{len(qs)} eval questions (small talk left out: no model call), warm process. Uncached rows clear the "
                "query LRU cache before each call and alternate with bare `model.encode([q], normalize_embeddings=True)`; "
                "'1 torch thread' rows rerun both with torch.set_num_threads(1). 'repeated' rows: the second ask of the "
                "same question, and its parts (normalize, cached encode_queries, Retriever.score, BM25, FAISS). 'busy process "
                "beside' rows: bare encode while a `while True: pass` process runs. HTTP rows: "
                "the real `rolebot serve`, httpx keep-alive client, each question's first ask alternating with the bench's "
                "own encode; then /healthz, a small-talk ask and the same questions again (cached)."}
    return knowledge, idx, qs


def through_server(r: dict, work: Path, knowledge: Path, idx: Path, qs: list, quick: bool, embedder) -> None:
    """Sections 3, 7 and the HTTP half of 1: one `rolebot serve` kept from the cold-start runs."""
    with section("cold start", quiet=True):
        r["cold_start"], server = cold_start(work, knowledge, idx, 1 if quick else 3)
    try:
        with section("http latency", quiet=True):
            r["server_rss_after_start_mb"] = server.memory()
            ms = serverctl.http_latency(server.base, qs, lambda q: timed(lambda: embedder.model.encode([q], normalize_embeddings=True)))
            r["http"] = {k: stats(v) for k, v in ms.items()}
            r["latency"]["summaries"] |= {
                "POST /api/ask (uncached)": r["http"]["http"], "encode floor, beside HTTP": r["http"]["floor"],
                "GET /healthz": r["http"]["healthz"], "POST /api/ask small talk (no model)": r["http"]["smalltalk"],
                "POST /api/ask repeated (cached)": r["http"]["repeated"]}
        with section("memory"):
            r["memory"] = serverctl.memory_growth(server, [q for q, _ in qs], 200 if quick else 10_000)
            r["memory"]["rss_start_mb"] = r["server_rss_after_start_mb"]["VmRSS"]  # before the HTTP latency questions
            r["memory"]["growth_mb"] = round(r["memory"]["rss_end_mb"] - r["memory"]["rss_start_mb"], 1)
        if quick:  # saves a server start; the full run gives each queue limit a fresh server
            with section("load test"):
                r["load"] = load_section(work, knowledge, idx, [q for q, _ in qs], quick, server)
    finally:
        server.stop()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes only, a few seconds each (smoke test)")
    p.add_argument("--out", type=Path, default=HERE / "out", help="where results.json, RESULTS.md, scale.png go")
    args = p.parse_args(argv)
    from rolebot.embedding import Embedder

    t0, quick = time.perf_counter(), args.quick
    r: dict = {"quick": quick, "started": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": machine(), "code": code_state()}
    work = Path(tempfile.mkdtemp(prefix="rolebot-bench-"))
    try:
        embedder = Embedder()
        knowledge, idx, qs = in_process(r, work, quick, embedder)
        through_server(r, work, knowledge, idx, qs, quick, embedder)
        with section("scale"):
            r["scale"] = run_scale(work, QUICK_SIZES if quick else FULL_SIZES, 20 if quick else 200,
                                   embedder if quick else None)
        b = r["scale"]["sizes"][0]
        r["build"]["table"] = dict(r["build"]) | {
            f"{b['passages']}-passage corpus: {k}": b.get(k) for k in
            ("build_seconds", "embedded", "build_texts_per_s", "bare_encode_texts_per_s", "build_vs_bare_throughput", "rebuild_one")}
        if not quick:
            with section("load test", quiet=True):
                r["load"] = load_section(work, knowledge, idx, [q for q, _ in qs], quick)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    r["targets"], r["sections"], r["code_at_end"] = targets(r), SECTIONS, code_state()
    r["load_end"], r["total_seconds"] = round(os.getloadavg()[0], 2), round(time.perf_counter() - t0, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(r, indent=2, ensure_ascii=False, default=str))
    (args.out / "RESULTS.md").write_text(render.markdown(r) + "\n")
    render.plot(r, args.out / "scale.png")
    print(render.markdown(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())

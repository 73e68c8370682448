"""Performance and scale of rolebot, each figure measured beside its floor in the same run.

    .venv/bin/python bench/bench.py [--quick] [--out bench/out] [--seconds 30] [--questions 10000]
                                    [--sizes 1000,100000] [--ef-sweep]

The served backend is the shipped default (config.DEFAULT_BACKEND, or ROLEBOT_BACKEND); its
floors are the torch reference measured in the same run. Writes <out>/results.json,
<out>/RESULTS.md and <out>/scale.png, and prints the targets with PASS/MISS. --quick runs tiny
sizes only (a smoke test). Everything it builds lives in a temporary folder removed at the end.
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
import quality  # noqa: E402
import render  # noqa: E402
import serverctl  # noqa: E402
from scale import run_scale  # noqa: E402
from serverctl import FloorServer, Server  # noqa: E402

FULL_SIZES, QUICK_SIZES = [1_000, 100_000], [40, 120]
SECTIONS: dict = {}
FLOOR = "gradio-floor"  # the load test's no-op chat, bench/floorchat.py
QUICK = False  # --quick: no waiting for a quieter machine


def run_seconds(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, env=offline_env(), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return round(time.perf_counter() - t, 3)


@contextmanager
def section(name: str, quiet: bool = False):
    """Time a section and note the machine's load around it (the machine is shared); with quiet,
    first wait a little for other people's CPU-bound work to pass."""
    before = wait_quiet() if quiet and not QUICK else {}
    t, load = time.perf_counter(), os.getloadavg()[0]
    print(f"[bench] {name} …", file=sys.stderr, flush=True)
    yield
    SECTIONS[name] = {"seconds": round(time.perf_counter() - t, 1), "load_before": round(load, 2),
                      "load_after": round(os.getloadavg()[0], 2), **before}


def machine() -> dict:
    import faiss, gradio, onnxruntime, sentence_transformers, torch  # noqa: E401

    from rolebot import config

    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    mem = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal"))
    return {"nproc": len(os.sched_getaffinity(0)), "cpu": cpu, "ram_gb": round(mem / 2**20, 1),
            "python": platform.python_version(), "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "sentence_transformers": sentence_transformers.__version__, "faiss": faiss.__version__,
            "gradio": gradio.__version__, "onnxruntime": onnxruntime.__version__, "backend": config.backend(),
            "onnx_threads": config.onnx_threads(), "load_start": round(os.getloadavg()[0], 2)}


# -- in the bench process: build, answer latency --------------------------------------------
def article_build(work: Path, embedder, quick: bool) -> tuple[Path, Path, dict]:
    from rolebot import config, index

    knowledge, idx = work / "knowledge", work / "index"
    knowledge.mkdir()
    shutil.copy(ARTICLE, knowledge / ARTICLE.name)
    t = time.perf_counter()
    # As `rolebot build` does: the served encoder is the one adapted to the knowledge (when on).
    m = index.build(knowledge, idx, embedder, adapt=config.adapt())
    out = {"article_build_seconds_in_process": round(time.perf_counter() - t, 3), "article_passages": m["passages"],
           "article_texts_embedded": m["embedded"], "article_adapted": bool(m.get("adapted")),
           "article_adapt_seconds": (m.get("adapted") or {}).get("seconds")}
    if not quick:  # the command a course author runs: imports, model load and ONNX export included
        out["article_rolebot_build_cli_seconds"] = run_seconds(
            [str(BIN / "rolebot"), "--knowledge", str(knowledge), "--index", str(work / "index-cli"), "build"])
    return knowledge, idx, out


def answer_ms(assistant):
    """ms of one Assistant.answer with the answer and query vector caches cleared first (an
    unseen question)."""
    def run(q, h=()):
        assistant.clear_cache()
        assistant.retriever.embedder._cache.clear()
        return timed(lambda: assistant.answer(q, list(h)))
    return run


def answer_latency(assistant, reference, qs: list, rounds: int) -> dict:
    """Assistant.answer on the served backend, interleaved with the torch reference's bare
    model.encode of the same question (the floor), and the served encoder alone."""
    answer = answer_ms(assistant)
    floor = lambda q: timed(lambda: reference.model.encode([q], normalize_embeddings=True))  # noqa: E731
    served = assistant.retriever.embedder.encoder
    for q, h in qs[:5]:
        answer(q, h), floor(q), served.encode([q])
    res = {"answer": [], "floor": [], "encode": []}
    for r in range(rounds):
        for i, (q, h) in enumerate(qs):
            steps = [lambda: res["answer"].append(answer(q, h)), lambda: res["floor"].append(floor(q)),
                     lambda: res["encode"].append(timed(lambda: served.encode([q])))]
            for step in steps[:: 1 if (i + r) % 2 else -1]:
                step()
    return {k: stats(v) for k, v in res.items()}


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


def code_state() -> dict:
    """Which code was measured: other people edit src/ while this runs."""
    files = sorted((ROOT / "src" / "rolebot").rglob("*.py"))
    git = lambda *a: subprocess.run(["git", "-C", str(ROOT), *a], capture_output=True, text=True).stdout  # noqa: E731
    return {"git_head": git("rev-parse", "--short", "HEAD").strip(),
            "src_sha256": hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()[:12],
            "src_uncommitted": [line[3:] for line in git("status", "--porcelain", "src").splitlines()]}


# -- start-up ------------------------------------------------------------------------------
def cold_start(work: Path, knowledge: Path, idx: Path, runs: int) -> tuple[dict, Server]:
    """Launch-to-first-answer of `rolebot serve` and `rolebot ask`, alternating with
    `import sentence_transformers`. The last server is left running for the HTTP and memory sections."""
    samples = {"import sentence_transformers": [], "rolebot serve → first /api/ask": [],
               "rolebot serve → chat page ready": [], "rolebot ask (one-shot)": [],
               "rolebot --help": [], "rolebot search --help": []}
    ask = [str(BIN / "rolebot"), "--knowledge", str(knowledge), "--index", str(idx), "ask", "what does an ML engineer do?"]
    server = None
    for _ in range(runs):
        if server:
            server.stop()
        samples["import sentence_transformers"].append(run_seconds([sys.executable, "-c", "import sentence_transformers"]))
        samples["rolebot ask (one-shot)"].append(run_seconds(ask))
        server = Server(work, knowledge, idx)
        samples["rolebot serve → first /api/ask"].append(round(server.wait_first_answer(), 3))
        samples["rolebot serve → chat page ready"].append(round(server.wait_chat(), 3))
    for _ in range(max(3, runs + 2)):
        samples["rolebot --help"].append(run_seconds([str(BIN / "rolebot"), "--help"]))
        samples["rolebot search --help"].append(run_seconds([str(BIN / "rolebot"), "search", "--help"]))
    return {"samples": samples, "median": {k: float(np.median(v)) for k, v in samples.items()},
            "importtime_top10": importtime()}, server


def importtime() -> list[dict]:
    err = subprocess.run([sys.executable, "-X", "importtime", "-c", "import rolebot.server, gradio"], env=offline_env(),
                         capture_output=True, text=True, check=True).stderr
    rows = []
    for line in err.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) == 3 and parts[0].strip().isdigit():
            rows.append({"module": parts[2].strip(), "self_ms": round(int(parts[0]) / 1000, 1),
                         "cumulative_ms": round(int(parts[1]) / 1000, 1)})
    return sorted(rows, key=lambda r: -r["cumulative_ms"])[:10]


# -- concurrent users ----------------------------------------------------------------------
def summarise(raw: dict) -> dict:
    by_kind = {}
    for kind in ("api", "gradio", "all"):
        recs = [r for r in raw["records"] if kind in ("all", r[0])]
        if not recs and kind == "gradio":
            continue
        ok = [ms for _, outcome, ms in recs if outcome == "ok"]
        by_kind[kind] = stats(ok) | {"throughput": round(len(ok) / raw["elapsed"], 2), "errors": len(recs) - len(ok),
                                     "error_kinds": dict(Counter(o for _, o, _ in recs if o != "ok"))}
    return by_kind


def load_section(work: Path, knowledge: Path, idx: Path, pool: list[str], users: int, seconds: float,
                 backends: list[str], running: Server | None = None) -> dict:
    """Each mix (all users on /api/ask; half of them on the Gradio chat) against a fresh server
    per backend; with `running`, that one server serves every run (--quick)."""
    runs = []
    for mix in ("api", "mixed"):
        # The mixed load also runs against a chat that answers nothing (FLOOR): Gradio's own cost.
        for backend in backends + [FLOOR] * (mix == "mixed"):
            server = (FloorServer(work, knowledge, idx) if backend == FLOOR else running
                      or Server(work, knowledge, idx, backend))
            server.wait_first_answer()
            server.wait_chat()  # gradio_client gives up on a chat still starting after 5 s
            cpu = server.cpu_seconds()
            raw = serverctl.load_test(server.base, pool, users, seconds, gradio=mix == "mixed")
            rss, cpu = server.memory(), server.cpu_seconds() - cpu
            if server is not running:
                server.stop()
            runs.append({"mix": mix, "backend": backend, "by_kind": summarise(raw), "rss_after_mb": rss,
                         "elapsed": raw["elapsed"], "unfinished_users": raw["unfinished_users"],
                         "server_cpu_s": round(cpu, 1), "load_generator_cpu_s": raw["load_generator_cpu_s"]})
    return {"users": users, "seconds": seconds, "runs": runs,
            "note": f"{users} closed-loop users, no think time, {seconds} s per run, a fresh `rolebot --backend B serve` per "
                    f"run. 'api': every user POSTs /api/ask (httpx); 'mixed': {users - users // 2} of them chat through "
                    "gradio_client `predict(q, api_name='/chat')` instead. Half the questions never seen before (uncached). "
                    "The rate limit is off (every user is 127.0.0.1). The load generator shares the 2 cores with the server: "
                    "its CPU seconds and the server's are recorded per run. The mixed load runs a third time against "
                    f"'{FLOOR}' (bench/floorchat.py): a Gradio chat that returns its input, with rolebot's queue settings, "
                    "beside a POST /api/ask that returns a fixed reply — the floor the chat's figures are read against."}


# -- targets and main ----------------------------------------------------------------------
def target(name, measured, floor, comparison, goal, met) -> dict:
    return {"name": name, "measured": measured, "floor": floor, "comparison": comparison, "target": goal,
            "met": None if met is None else bool(met)}


def load_targets(r: dict, backend: str) -> list[dict]:
    out = []
    for mix, label in (("api", "50 users on /api/ask"), ("mixed", "50 users, half on the Gradio chat")):
        runs = {x["backend"]: x["by_kind"]["all"] for x in r["load"]["runs"] if x["mix"] == mix}
        label = label.replace("50", str(r["load"]["users"]))
        me, ref = runs.get(backend), runs.get("torch")
        if ref is not None and backend != "torch":
            ratio = me["throughput"] / ref["throughput"] if ref["throughput"] else float("inf")
            out.append(target(f"{label}: answers/s", me["throughput"], ref["throughput"], f"{ratio:.2f}× torch",
                              "≥ 4× torch", ratio >= 4))
        out += [target(f"{label}: p95 (ms)", me["p95"], ref and ref["p95"], "torch p95 beside", "≤ 250 ms",
                       me["p95"] is not None and me["p95"] <= 250),
                target(f"{label}: errors", me["errors"], ref and ref["errors"], "torch errors beside", "0", me["errors"] == 0)]
        floor = next((x for x in r["load"]["runs"] if x["mix"] == mix and x["backend"] == FLOOR), None)
        if floor is not None and floor["by_kind"]["all"]["throughput"] and floor["by_kind"]["all"]["p95"]:
            f = floor["by_kind"]["all"]
            cores = floor["load_generator_cpu_s"] / floor["elapsed"]
            out += [target(f"{label}, a chat that answers nothing: answers/s", f["throughput"], None,
                           f"rolebot {me['throughput'] / f['throughput']:.2f}× of it", "(reported: Gradio's floor)", None),
                    target(f"{label}, a chat that answers nothing: p95 (ms)", f["p95"], None,
                           f"rolebot {me['p95'] / f['p95']:.2f}× of it; load generator {cores:.1f} cores",
                           "(reported: Gradio's floor)", None)]
    return out


def targets(r: dict) -> list[dict]:
    lat, http, cs, sc, mem = r["latency"]["summaries"], r["http"], r["cold_start"]["median"], r["scale"]["sizes"], r["memory"]
    backend = r["machine"]["backend"]
    a, f = lat["Assistant.answer (uncached)"], lat["torch model.encode floor"]
    hp, hf = http["http"]["p50"], http["floor"]["p50"]
    serve, imp, ask = cs["rolebot serve → first /api/ask"], cs["import sentence_transformers"], cs["rolebot ask (one-shot)"]
    half_start = next(v for n, v in mem["curve"] if n == mem["last_half_from"])
    b = sc[0]
    out = [target(f"answer p50 (ms), {backend}", a["p50"], f["p50"], f"{a['p50'] / f['p50']:.2f}×", "≤ 0.5× torch encode",
                  a["p50"] <= 0.5 * f["p50"]),
           target("answer p95 (ms)", a["p95"], f["p95"], f"{a['p95'] / f['p95']:.2f}×", "(reported)", None),
           target("POST /api/ask p50 (ms)", hp, hf, f"+{hp - hf:.1f} ms", "≤ answer + 3 ms", hp <= hf + 3),
           target("repeated question p50 (ms)", lat["answer, repeated question"]["p50"], None, "—", "< 1 ms",
                  lat["answer, repeated question"]["p50"] < 1),
           target("`rolebot serve` → first answer (s)", serve, imp, f"{serve / imp:.2f}× import", "≤ 0.3× import sentence_transformers",
                  serve <= 0.3 * imp),
           target("`rolebot serve` → chat page ready (s)", cs["rolebot serve → chat page ready"], imp,
                  f"{cs['rolebot serve → chat page ready'] / imp:.2f}× import", "(reported: Gradio loads after the first answer)", None),
           target("`rolebot ask` one-shot (s)", ask, None, "—", "< 1.5 s", ask < 1.5),
           target("`rolebot --help` (s)", cs["rolebot --help"], None, "—", "< 0.5 s", cs["rolebot --help"] < 0.5)]
    out += load_targets(r, backend)
    out += [target(f"server RSS after {mem['questions']} questions (MB)", mem["rss_end_mb"], mem["rss_start_mb"],
                   "RSS at start", "≤ 300 MB", mem["rss_end_mb"] <= 300),
            target(f"RSS growth over the last half ({mem['last_half_from']} → {mem['questions']}) (MB)",
                   mem["last_half_growth_mb"], half_start, "RSS at the half", "flat: ≤ 2% of it",
                   mem["last_half_growth_mb"] <= 0.02 * half_start)]
    for name, q in r["quality"].items():
        out.append(target(f"quality, {name} set: largest gap to torch", q["max_gap"], 0.0, q["max_gap_metric"] or "—",
                          "≤ 0.01 on every figure", None if q["max_gap"] is None else q["max_gap"] <= quality.TOLERANCE))
    out += [target(f"build throughput, {b['passages']} passages (texts/s)", b["build_texts_per_s"], b["bare_encode_texts_per_s"],
                   f"{b['build_vs_bare_throughput']:.2f}×", "≥ 0.9× bare encode", b["build_vs_bare_throughput"] >= 0.9),
            target("rebuild after changing one document (texts embedded)", b["rebuild_one"]["embedded"],
                   b["rebuild_one"]["document_texts"], "of that document's texts", "only that document",
                   b["rebuild_one"]["only_that_document"])]
    for s in sc:
        if s["index_type"] != "FlatIP":
            out.append(target(f"{s['index_type'].split('(')[0]} recall@10 at {s['passages']} passages", s["recall_at_10"], 1.0, "vs exact", "≥ 0.95",
                              s["recall_at_10"] >= 0.95))
    big = sc[-1]
    out += [target(f"FAISS search at {big['passages']} passages (ms)", big["faiss_p50_ms"], big["exact_p50_ms"],
                   "vs exact FlatIP", "≤ 2 ms", big["faiss_p50_ms"] <= 2),
            target(f"index load at {big['passages']} passages (s)", big["load_seconds"], None, "—", "(reported)", None)]
    return out


def in_process(r: dict, work: Path, quick: bool, reference) -> tuple[Path, Path, list, object]:
    """The article build (torch reference) and the served backend's answers, in this process."""
    from rolebot import Assistant, Retriever

    with section("article build"):
        knowledge, idx, r["build"] = article_build(work, reference, quick)
    assistant = Assistant(Retriever.load(knowledge_dir=knowledge, index_dir=idx, auto_build=False))
    qs = eval_questions(quick)
    with section("answer latency", quiet=True):
        lat, cached = answer_latency(assistant, reference, qs, 1 if quick else 2), cached_latency(assistant, qs)
    r["latency"] = {"summaries": {
        "Assistant.answer (uncached)": lat["answer"], "torch model.encode floor": lat["floor"],
        f"{r['machine']['backend']} encoder alone": lat["encode"], "answer, repeated question": cached["answer_cached"],
        **{f"repeated: {k}": v for k, v in cached.items() if k != "answer_cached"}},
        "note": f"{len(qs)} eval questions (small talk left out: no model call), warm process, served backend "
                f"{r['machine']['backend']}. Uncached rows clear the query LRU cache before each call and alternate with "
                "the torch reference's bare `model.encode([q], normalize_embeddings=True)` and the served encoder alone. "
                "'repeated' rows: the second ask of the same question, and its parts (normalize, cached encode_queries, "
                "Retriever.score, BM25, FAISS). HTTP rows: the real `rolebot serve`, httpx keep-alive client, each "
                "question's first ask alternating with the same answer in the bench process (the floor: the answer "
                "itself); then /healthz, a small-talk ask and the same questions again (cached)."}
    return knowledge, idx, qs, assistant


def through_server(r: dict, work: Path, knowledge: Path, idx: Path, qs: list, quick: bool, assistant, n_questions: int) -> None:
    """Start-up, the HTTP half of the latency and the memory soak: one `rolebot serve` kept from the cold-start runs."""
    with section("cold start", quiet=True):
        r["cold_start"], server = cold_start(work, knowledge, idx, 1 if quick else 3)
    try:
        with section("http latency", quiet=True):
            r["server_rss_after_start_mb"] = server.memory()
            r["http"] = {k: stats(v) for k, v in serverctl.http_latency(server.base, qs, answer_ms(assistant)).items()}
            r["latency"]["summaries"] |= {
                "POST /api/ask (uncached)": r["http"]["http"], "Assistant.answer in the bench, beside HTTP": r["http"]["floor"],
                "GET /healthz": r["http"]["healthz"], "POST /api/ask small talk (no model)": r["http"]["smalltalk"],
                "POST /api/ask repeated (cached)": r["http"]["repeated"]}
        with section("memory"):
            r["memory"] = serverctl.memory_growth(server, [q for q, _ in qs], n_questions)
            r["memory"]["rss_start_mb"] = r["server_rss_after_start_mb"]["VmRSS"]  # before the HTTP latency questions
            r["memory"]["growth_mb"] = round(r["memory"]["rss_end_mb"] - r["memory"]["rss_start_mb"], 1)
        if quick:  # saves server starts: one backend, this server
            with section("load test"):
                r["load"] = load_section(work, knowledge, idx, [q for q, _ in qs], 4, 3, [r["machine"]["backend"]], server)
    finally:
        server.stop()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes only, a few seconds each (smoke test)")
    p.add_argument("--out", type=Path, default=HERE / "out", help="where results.json, RESULTS.md, scale.png go")
    p.add_argument("--seconds", type=float, default=30, help="length of each load-test run (default 30)")
    p.add_argument("--users", type=int, default=50, help="closed-loop users in the load test (default 50)")
    p.add_argument("--questions", type=int, default=10_000, help="questions in the memory soak (default 10,000)")
    p.add_argument("--sizes", default=",".join(map(str, FULL_SIZES)),
                   help="scale sizes in passages (default %(default)s; the issue-era run also had 10000)")
    p.add_argument("--ef-sweep", action="store_true", help="also sweep HNSW efConstruction/efSearch at scale")
    args = p.parse_args(argv)
    from rolebot.embedding import Embedder

    global QUICK
    t0, quick = time.perf_counter(), args.quick
    QUICK = quick
    r: dict = {"quick": quick, "started": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": machine(), "code": code_state(),
               "settings": {"seconds": args.seconds, "users": args.users, "questions": args.questions, "sizes": args.sizes}}
    backend = r["machine"]["backend"]
    work = Path(tempfile.mkdtemp(prefix="rolebot-bench-"))
    try:
        reference = Embedder()  # torch: builds every index, and is the floor
        knowledge, idx, qs, assistant = in_process(r, work, quick, reference)
        pool = [q for q, _ in qs]
        with section("quality"):
            # --quick skips the torch eval process (its import alone is ~10 s): no gap, no verdict.
            r["quality"] = quality.compare(knowledge, idx, list(dict.fromkeys([backend] + ["torch"] * (not quick))),
                                           ["dev"] if quick else ["dev", "test"])
        through_server(r, work, knowledge, idx, qs, quick, assistant, 200 if quick else args.questions)
        if not quick:
            with section("load test", quiet=True):
                r["load"] = load_section(work, knowledge, idx, pool, args.users, args.seconds, list(dict.fromkeys([backend, "torch"])))
        with section("scale"):
            sizes = QUICK_SIZES if quick else [int(x) for x in args.sizes.split(",")]
            r["scale"] = run_scale(work, sizes, 20 if quick else 200, reference if quick else None, args.ef_sweep)
        b = r["scale"]["sizes"][0]
        r["build"]["table"] = dict(r["build"]) | {
            f"{b['passages']}-passage corpus: {k}": b.get(k) for k in
            ("build_seconds", "embedded", "build_texts_per_s", "bare_encode_texts_per_s", "build_vs_bare_throughput", "rebuild_one")}
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

"""results.json -> RESULTS.md (tables) and scale.png (build time, search latency, memory vs size)."""

from __future__ import annotations

from pathlib import Path


def _f(x, nd=1) -> str:
    if x is None:
        return "—"
    if isinstance(x, bool):
        return "yes" if x else "**no**"
    if isinstance(x, float):
        return f"{x:.3g}" if abs(x) < 100 else f"{x:.0f}"
    return str(x)


def _table(header: list[str], rows: list[list]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(_f(c) if not isinstance(c, str) else c for c in row) + " |" for row in rows]
    return out + [""]


def markdown(r: dict) -> str:
    m = r["machine"]
    lines = [f"# rolebot benchmark{' (--quick)' if r['quick'] else ''}", "",
             f"Run {r['started']} on {m['nproc']} cores ({m['cpu']}), {m['ram_gb']} GB RAM, Python {m['python']}, "
             f"torch {m['torch']} ({m['torch_threads']} threads), sentence-transformers {m['sentence_transformers']}, "
             f"onnxruntime {m['onnxruntime']} ({m['onnx_threads']} threads), faiss {m['faiss']}, gradio {m['gradio']}. "
             f"Served backend: **{m['backend']}**; floors: the torch reference in the same run. Shared machine: load average {m['load_start']} at the start, "
             f"{r.get('load_end', '?')} at the end; total {r.get('total_seconds', '?')} s.", "",
             _code_line(r), "", "Load average (1 min) before → after each section, and CPU pressure from other "
             "processes (PSI some avg10, %) where the bench waited for a quieter moment: " + "; ".join(
                 f"{k} {v['load_before']}→{v['load_after']}" + (f" (PSI {v['cpu_pressure_avg10']})" if "cpu_pressure_avg10" in v else "")
                 for k, v in r.get("sections", {}).items()) + ".", "",
             _settings_line(r), "", "## Targets, each beside its floor measured in the same run", ""]
    verdict = {True: "PASS", False: "**MISS**", None: "—"}
    rows = [[t["name"], t["measured"], t["floor"], t["comparison"], t["target"], verdict[t["met"]]] for t in r["targets"]]
    lines += _table(["what", "measured", "floor", "vs floor", "target", "result"], rows)

    lat = r["latency"]
    lines += ["## Answer latency (ms)", ""]
    rows = [[name, s["n"], s["p50"], s["p95"], s["p99"]] for name, s in lat["summaries"].items()]
    lines += _table(["path", "n", "p50", "p95", "p99"], rows)
    lines += [lat["note"], ""]

    lines += ["## Quality by backend (`rolebot --backend B eval --set S --no-baselines`, totals only)", ""]
    for name, q in r["quality"].items():
        metrics = list(next(iter(q["backends"].values())))
        lines += _table(["set", "backend", *metrics], [[name, b, *(row.get(k) for k in metrics)] for b, row in q["backends"].items()])

    cs = r["cold_start"]
    lines += ["## Start-up (s, median of runs)", ""]
    lines += _table(["what", "runs", "median", "all"], [[k, len(v), _med(v), ", ".join(f"{x:.2f}" for x in v)]
                                                      for k, v in cs["samples"].items()])
    lines += ["`python -X importtime -c \"import rolebot.server, gradio\"`, top 10 by cumulative time:", ""]
    lines += _table(["module", "cumulative ms", "self ms"], [[f"`{x['module']}`", x["cumulative_ms"], x["self_ms"]]
                                                           for x in cs["importtime_top10"]])

    b = r["build"]
    lines += ["## Index build", ""]
    lines += _table(["what", "value"], [[k, v if not isinstance(v, dict) else str(v)] for k, v in b["table"].items()])

    lines += ["## Scale (synthetic knowledge bases)", ""]
    rows = [[s["passages"], s["documents"], s["vectors"], s["index_type"], s["embedding"].split(":")[0],
             s["build_seconds"], s["build_peak_rss_mb"], s["index_mb"], s["rss_mb"], s["load_seconds"],
             s["search_p50_ms"], s["encode_p50_ms"], s["no_encode_p50_ms"], s["faiss_p50_ms"], s["exact_p50_ms"],
             s["recall_at_10"]] for s in r["scale"]["sizes"]]
    lines += _table(["passages", "docs", "FAISS rows", "index", "embedding", "build s", "build peak RSS MB",
                     "index MB", "serving RSS MB", "load s", "search p50 ms", "encode p50 ms",
                     "search w/o encode p50 ms", "FAISS p50 ms", "exact FlatIP p50 ms", "recall@10"], rows)
    lines += [r["scale"]["note"], ""]
    sweeps = [s for s in r["scale"]["sizes"] if s.get("ef_sweep")]
    if sweeps:
        shipped = f"{sweeps[0]['index_type']}, efConstruction={sweeps[0]['ef_sweep'][0]['ef_construction']}"
        lines += [f"HNSW settings on the same vectors (shipped: {shipped}); recall@10 / FAISS p50 ms for one query at k=64:", ""]
        efs = sorted({e["ef_search"] for s in sweeps for e in s["ef_sweep"]})
        rows = [[s["passages"], e_c] + [next((f"{e['recall_at_10']:.3f} / {e['faiss_p50_ms']:.2f}" for e in s["ef_sweep"]
                                               if e["ef_construction"] == e_c and e["ef_search"] == ef), "—") for ef in efs]
                for s in sweeps for e_c in dict.fromkeys(e["ef_construction"] for e in s["ef_sweep"])]
        lines += _table(["passages", "efConstruction"] + [f"efSearch {ef}" for ef in efs], rows)
    for s in r["scale"]["sizes"]:
        if s["embedding"] != "real":
            lines += [f"{s['passages']} passages — {s['embedding']} (embedding all "
                      f"{s['views'] + s['units']} texts for real was estimated at {s.get('real_embedding_estimate_s')} s).", ""]

    lines += ["## Concurrent users (loopback, closed loop, no think time)", ""]
    rows = []
    for run in r["load"]["runs"]:
        for kind, s in run["by_kind"].items():
            kinds = ", ".join(f"{k}: {v}" for k, v in s.get("error_kinds", {}).items())
            cpu = [f"{run[k] / run['elapsed']:.2f}" if kind == "all" and k in run else "" for k in ("server_cpu_s", "load_generator_cpu_s")]
            rows.append([run["mix"], run["backend"], kind, s["n"], s["throughput"], s["p50"], s["p95"], s["p99"],
                         f"{s['errors']}{f' ({kinds})' if kinds else ''}", run["rss_after_mb"].get("VmRSS"), *cpu])
    lines += _table(["mix", "backend", "endpoint", "ok requests", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors",
                     "server RSS after (MB)", "server cores", "load generator cores"], rows)
    lines += [r["load"]["note"], ""]

    mem = r["memory"]
    lines += ["## Server memory", ""]
    lines += _table(["what", "value"], [["RSS after start (MB)", mem["rss_start_mb"]],
                                        [f"RSS after {mem['questions']} /api/ask (MB)", mem["rss_end_mb"]],
                                        ["growth (MB)", mem["growth_mb"]], ["peak VmHWM (MB)", mem["peak_mb"]],
                                        [f"growth over the last half, from question {mem['last_half_from']} (MB)",
                                         mem["last_half_growth_mb"]],
                                        ["RSS curve (questions, MB)", ", ".join(f"{n}: {v}" for n, v in mem["curve"])]])
    return "\n".join(lines)


def _settings_line(r: dict) -> str:
    s = r.get("settings", {})
    if r["quick"]:
        return "--quick: tiny sizes, a smoke test; the figures mean nothing."
    return (f"Durations: load test {s.get('seconds')} s per run with {s.get('users')} users, memory soak "
            f"{s.get('questions')} questions, scale sizes {s.get('sizes')} (flags --seconds, --users, --questions, --sizes).")


def _code_line(r: dict) -> str:
    c, end = r["code"], r.get("code_at_end", r["code"])
    text = (f"Code measured: git {c['git_head']}" + (f" plus uncommitted changes to {', '.join(c['src_uncommitted'])}"
            if c["src_uncommitted"] else "") + f" (src fingerprint {c['src_sha256']}).")
    if end["src_sha256"] != c["src_sha256"]:
        text += f" **src/ changed during the run** (fingerprint {end['src_sha256']} at the end)."
    return text


def _med(xs):
    xs = sorted(xs)
    return round(xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2, 2) if xs else None


def plot(r: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = r["scale"]["sizes"]
    x = [s["passages"] for s in sizes]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for ax, key, label in zip(axes, ["build_seconds", "search_p50_ms", "rss_mb"],
                              ["index build (s)", "Retriever.search p50 (ms)", "RSS after load + 200 searches (MB)"]):
        ax.plot(x, [s[key] for s in sizes], "o-")
        for s in sizes:
            if s["embedding"] != "real":
                ax.annotate("pooled vectors", (s["passages"], s[key]), fontsize=7, xytext=(-60, 6), textcoords="offset points")
        ax.set_xscale("log")
        ax.set_xlabel("passages")
        ax.set_title(label, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
    pooled = [s for s in sizes if s["embedding"] != "real" and s.get("real_embedding_estimate_s")]
    if pooled:  # the measured build skipped the model: show what embedding for real would add
        axes[0].plot([s["passages"] for s in pooled], [s["build_seconds"] + s["real_embedding_estimate_s"] for s in pooled],
                     "o", mfc="none", label="+ estimated real embedding")
        axes[0].set_yscale("log")
        axes[0].legend(fontsize=8)
    axes[1].plot(x, [s["faiss_p50_ms"] for s in sizes], "s--", label="FAISS only")
    axes[1].plot(x, [s["encode_p50_ms"] for s in sizes], "^:", label="query encode only")
    axes[1].legend(fontsize=8)
    fig.suptitle(f"rolebot scale ({r['machine']['nproc']} cores, shared machine)", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

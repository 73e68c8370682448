"""Index build and search at growing sizes. Each case runs in its own process (so its RSS is
its own):  python bench/scale.py build SIZE DIR [--floor] [--rebuild-one] [--pool INDEX_DIR]
           python bench/scale.py search DIR N_QUERIES [--ef-sweep]
Each prints one JSON line. bench.py calls them through run_scale().
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from common import ARTICLE, eval_questions, offline_env, proc_status, stats, timed

os.environ.update(offline_env())
import synth  # noqa: E402

REAL_EMBED_BUDGET_S = 900  # the largest size is embedded for real only if that fits in ~15 minutes
ALT_EF_CONSTRUCTION = (80, 200)  # HNSW graphs built beside the shipped one, to compare recall and speed


def build_case(size: int, d: Path, floor: bool, rebuild_one: bool, pool: Path | None, embedder=None) -> dict:
    from rolebot import index
    from rolebot.embedding import Embedder
    from rolebot.knowledge import load_documents

    knowledge, idx = d / "knowledge", d / "index"
    synth.make_corpus(ARTICLE, knowledge, size)
    real = embedder or Embedder()
    emb = synth.PoolEmbedder(real, pool) if pool else real
    texts, bare_ms = [], 0.0
    if floor:  # the texts build() embeds, in random order: half encoded before the build, half after
        passages = [p for doc in load_documents(knowledge) for p in doc.passages]
        texts = index._views(passages)[0] + [f"{p.heading}: {t}" for p in passages for _, t in p.pieces()]
        random.Random(1).shuffle(texts)
        bare_ms += timed(lambda: real.model.encode(texts[::2], batch_size=64, normalize_embeddings=True))
    m = index.build(knowledge, idx, emb)
    build_dir = idx / (idx / "CURRENT").read_text().strip()
    out = {k: m[k] for k in ("passages", "views", "units", "index_type", "embedded", "build_seconds")}
    out |= {"documents": len(m["documents"]), "vectors": m["views"],
            "build_peak_rss_mb": proc_status(os.getpid())["VmHWM"],
            "index_mb": round(sum(f.stat().st_size for f in build_dir.iterdir()) / 2**20, 1),
            "texts_per_passage": round((m["views"] + m["units"]) / m["passages"], 2),
            "build_texts_per_s": round(m["embedded"] / m["build_seconds"], 1),
            "embedding": "real" if not pool else
            f"pooled: {emb.exact} texts got their real vector from the {pool.parent.name} build (same documents), "
            f"{emb.approximated} got the real vector of one of its {len(emb.vectors)} texts picked by hashing the "
            f"text, plus N(0, {emb.sigma}²) noise per component, re-normalised"}
    if floor:
        bare_ms += timed(lambda: real.model.encode(texts[1::2], batch_size=64, normalize_embeddings=True))
        out["bare_encode_texts_per_s"] = round(len(texts) / (bare_ms / 1000), 1)
        out["build_vs_bare_throughput"] = round(out["build_texts_per_s"] / out["bare_encode_texts_per_s"], 3)
    if rebuild_one:
        name = synth.touch_one(knowledge)
        m2 = index.build(knowledge, idx, emb)
        ps = [p for doc in load_documents(knowledge) if doc.path.name == name for p in doc.passages]
        doc_texts = len(index._views(ps)[0]) + sum(len(p.pieces()) for p in ps)
        out["rebuild_one"] = {"changed": name, "embedded": m2["embedded"], "reused": m2["reused"],
                              "document_texts": doc_texts, "seconds": m2["build_seconds"],
                              "only_that_document": 0 < m2["embedded"] <= doc_texts}
    return out


def search_case(d: Path, n_queries: int, embedder=None, ef_sweep: bool = False) -> dict:
    import faiss

    from rolebot import index
    from rolebot.embedding import Embedder
    from rolebot.retriever import DENSE_POOL, Retriever

    emb = embedder or Embedder()
    t = time.perf_counter()
    ret = Retriever(index.load(d / "index", emb.name, emb.dim), emb)
    load_s = time.perf_counter() - t
    qs = synth.queries([q for q, h in eval_questions() if not h], n_queries)
    ms = {k: [] for k in ("search", "encode", "no_encode", "faiss", "exact")}
    vecs = []
    for q in qs[:5]:
        ret.search(q)
    for q in qs:
        emb._cache.clear()
        ms["search"].append(timed(lambda: ret.search(q, k=5)))
        query = ret.normalize(q)
        ms["encode"].append(timed(lambda: emb.model.encode([query], normalize_embeddings=True)))
        vec = emb.encode_queries([query])
        vecs.append(vec[0])
        ms["no_encode"].append(timed(lambda: ret.score([query], None, vec)))
    rss = proc_status(os.getpid())["VmRSS"]  # before the exact index below adds a copy of the vectors
    views = np.load(ret.data.path / "views.npy")
    flat = faiss.IndexFlatIP(views.shape[1])
    flat.add(views)
    Q = np.stack(vecs).astype("float32")
    # FAISS alone, in its own pass like the exact search: timed right after each question's torch
    # encode (the loop above) it also measured torch's OpenMP threads still spinning, which the
    # torch-free server never has (2.5 ms in make bench against 0.9-1.4 ms alone, the same vectors).
    for v in Q:
        ms["faiss"].append(timed(lambda: ret.data.faiss_index.search(v[None], DENSE_POOL)))
    for v in Q:
        ms["exact"].append(timed(lambda: flat.search(v[None], DENSE_POOL)))
    exact_sims, _ = flat.search(Q, 10)

    def recall(index) -> float:
        """Tie-aware (the corpus repeats texts): a hit counts if it scores at least the exact 10th best."""
        _, approx = index.search(Q, 10)
        found = [(views[row[row >= 0]] @ q >= ex[-1] - 1e-5).sum() for q, row, ex in zip(Q, approx, exact_sims)]
        return round(float(np.mean(found)) / 10, 4)

    out = {"load_seconds": round(load_s, 2), "rss_mb": rss, "queries": len(qs), "recall_at_10": recall(ret.data.faiss_index),
           "search_p95_ms": stats(ms["search"])["p95"], **{f"{k}_p50_ms": stats(v)["p50"] for k, v in ms.items()}}
    if ef_sweep and isinstance(ret.data.faiss_index, faiss.IndexHNSW):  # what other HNSW settings would give
        shipped = ret.data.faiss_index.hnsw.efConstruction
        graphs = [(shipped, ret.data.faiss_index)]
        for ef_c in [e for e in ALT_EF_CONSTRUCTION if e != shipped]:  # the same vectors, another graph
            t = time.perf_counter()
            other = faiss.IndexHNSWFlat(views.shape[1], ret.data.faiss_index.hnsw.nb_neighbors(1),
                                        faiss.METRIC_INNER_PRODUCT)
            other.hnsw.efConstruction = ef_c
            other.add(views)
            out[f"hnsw_ef_construction_{ef_c}_build_s"] = round(time.perf_counter() - t, 1)
            graphs.append((ef_c, other))
        out["ef_sweep"] = []
        for ef_c, hnsw in graphs:
            for ef in (64, 128, 256, 512, 1024):
                hnsw.hnsw.efSearch = ef
                t_ms = [timed(lambda: hnsw.search(v[None], DENSE_POOL)) for v in Q]
                out["ef_sweep"].append({"ef_construction": ef_c, "ef_search": ef, "recall_at_10": recall(hnsw),
                                        "faiss_p50_ms": stats(t_ms)["p50"]})
    return out


def _call(args: list[str], work: Path) -> dict:
    with open(work / "scale-workers.log", "a") as log:
        out = subprocess.run([sys.executable, __file__, *args], env=offline_env(), stdout=subprocess.PIPE,
                             stderr=log, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def run_scale(work: Path, sizes: list[int], n_queries: int, embedder=None, ef_sweep: bool = False) -> dict:
    """Build and search each size. With an embedder (--quick) the cases run in this process.
    The largest size reuses the previous size's real vectors if embedding it would take too long
    (always in --quick, to exercise that path)."""
    rows, prev = [], None
    for i, size in enumerate(sizes):
        d, pool, first = work / f"scale-{size}", None, i == 0
        if i == len(sizes) - 1 and prev is not None:
            estimate = size * rows[-1]["texts_per_passage"] / rows[-1]["build_texts_per_s"]
            pool = prev / "index" if embedder is not None or estimate > REAL_EMBED_BUDGET_S else None
        if embedder is not None:
            row = build_case(size, d, first, first, pool, embedder) | search_case(d, n_queries, embedder, ef_sweep)
        else:
            flags = ["--floor", "--rebuild-one"] * first + (["--pool", str(pool)] if pool else [])
            row = (_call(["build", str(size), str(d), *flags], work)
                   | _call(["search", str(d), str(n_queries), *["--ef-sweep"] * ef_sweep], work))
        if pool:
            row["real_embedding_estimate_s"] = round(estimate)
        rows.append(row | {"size_asked": size})
        print(f"[bench]   {size} passages: {json.dumps(rows[-1])[:400]}", file=sys.stderr, flush=True)
        if prev is not None:
            shutil.rmtree(prev, ignore_errors=True)
        prev = d
    note = ("Build: `rolebot.index.build` into a fresh folder (model already loaded). Serving RSS: the search process "
            f"after loading the index and {n_queries} searches, model included"
            f"{' (in --quick: the bench process itself)' if embedder is not None else ''}. Search: `Retriever.search(q, k=5)`, "
            "query cache cleared, over distinct eval questions with the roles swapped; 'w/o encode' is `Retriever.score` given "
            "the query vector; FAISS and exact are one query at k=64 (DENSE_POOL). recall@10: the index's top 10 against "
            "exact `IndexFlatIP` search on the same vectors (tie-aware).")
    return {"sizes": rows, "note": note}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["build", "search"])
    p.add_argument("args", nargs=2)
    p.add_argument("--floor", action="store_true")
    p.add_argument("--rebuild-one", action="store_true")
    p.add_argument("--pool", type=Path)
    p.add_argument("--ef-sweep", action="store_true")
    a = p.parse_args()
    if a.mode == "build":
        res = build_case(int(a.args[0]), Path(a.args[1]), a.floor, a.rebuild_one, a.pool)
    else:
        res = search_case(Path(a.args[0]), int(a.args[1]), ef_sweep=a.ef_sweep)
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())

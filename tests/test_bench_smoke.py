"""bench/bench.py --quick runs end to end and writes the results the full run writes."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_bench_quick_writes_results(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench.py"), "--quick", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=280, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    r = json.loads((tmp_path / "results.json").read_text())

    assert {"machine", "latency", "http", "cold_start", "build", "scale", "load", "memory", "quality", "targets"} <= set(r)
    assert {"nproc", "cpu", "ram_gb"} <= set(r["machine"])
    summaries = r["latency"]["summaries"]
    for row in ("Assistant.answer (uncached)", "torch model.encode floor", "answer, repeated question", "POST /api/ask (uncached)"):
        assert {"p50", "p95"} <= set(summaries[row]) and summaries[row]["n"] > 0
    assert set(r["cold_start"]["median"]) == {"import sentence_transformers", "rolebot serve → first /api/ask",
                                              "rolebot serve → chat page ready",
                                              "rolebot ask (one-shot)", "rolebot --help", "rolebot search --help"}
    assert len(r["cold_start"]["importtime_top10"]) == 10
    sizes = r["scale"]["sizes"]
    assert len(sizes) >= 2
    for s in sizes:
        assert {"passages", "build_seconds", "index_mb", "rss_mb", "search_p50_ms", "faiss_p50_ms",
                "recall_at_10", "index_type", "embedding"} <= set(s)
        assert 0.0 <= s["recall_at_10"] <= 1.0
    assert sizes[0]["rebuild_one"]["only_that_document"]
    assert {"bare_encode_texts_per_s", "build_vs_bare_throughput"} <= set(sizes[0])
    assert [(x["mix"], set(x["by_kind"])) for x in r["load"]["runs"]] == [
        ("api", {"api", "all"}), ("mixed", {"api", "gradio", "all"}), ("mixed", {"api", "gradio", "all"})]
    floor = r["load"]["runs"][-1]  # the no-op Gradio chat, bench/floorchat.py
    assert floor["backend"] == "gradio-floor" and floor["by_kind"]["gradio"]["errors"] == 0
    assert floor["by_kind"]["gradio"]["n"] > 0 and floor["load_generator_cpu_s"] > 0 and floor["server_cpu_s"] > 0
    assert {"throughput", "p50", "p95", "p99", "errors"} <= set(r["load"]["runs"][1]["by_kind"]["all"])
    assert {"rss_start_mb", "rss_end_mb", "growth_mb", "last_half_growth_mb"} <= set(r["memory"])
    assert set(r["quality"]["dev"]["backends"]) == {r["machine"]["backend"]}
    assert all({"name", "measured", "target", "met"} <= set(t) for t in r["targets"])
    assert any(t["name"].startswith("`rolebot ask` one-shot") for t in r["targets"])

    assert (tmp_path / "RESULTS.md").read_text().startswith("# rolebot benchmark")
    assert (tmp_path / "scale.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

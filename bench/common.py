"""Small helpers shared by the benchmark modules."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent  # the venv's bin: rolebot, python
# The article only: others may add documents to knowledge/ while this runs.
ARTICLE = ROOT / "knowledge" / "ml-engineer-vs-data-scientist.md"


def wait_quiet(max_wait: float = 90, threshold: float = 25.0) -> dict:
    """Wait (up to max_wait s) until CPU pressure from other processes is low: the machine is
    shared. Returns the pressure seen (/proc/pressure/cpu "some avg10", %) and the wait."""
    t = time.perf_counter()
    while True:
        try:
            psi = float(Path("/proc/pressure/cpu").read_text().split()[1].split("=")[1])
        except (OSError, IndexError, ValueError):
            return {"cpu_pressure_avg10": None, "waited_s": 0.0}
        if psi < threshold or time.perf_counter() - t > max_wait:
            return {"cpu_pressure_avg10": psi, "waited_s": round(time.perf_counter() - t, 1)}
        time.sleep(2)


def offline_env(**extra) -> dict:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False",
               HF_HUB_DISABLE_PROGRESS_BARS="1", TRANSFORMERS_VERBOSITY="error", TOKENIZERS_PARALLELISM="false")
    env.update({k: str(v) for k, v in extra.items()})
    return env


def proc_status(pid: int) -> dict:
    """VmRSS and VmHWM (peak) of a process, in MB, from /proc/PID/status."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = round(int(value.split()[0]) / 1024, 1)
    return out


def timed(fn) -> float:
    """Milliseconds one call of fn takes."""
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000


def stats(ms: list[float]) -> dict:
    a = np.asarray(ms, dtype=float)
    if not len(a):
        return {"n": 0, "mean": None, "p50": None, "p95": None, "p99": None}
    return {"n": len(a), "mean": round(float(a.mean()), 3),
            **{f"p{p}": round(float(np.percentile(a, p)), 3) for p in (50, 95, 99)}}


def eval_questions(quick: bool = False) -> list[tuple[str, list]]:
    """The eval set's questions with their history as chat messages. Small talk is left out:
    it is answered without the model, so it says nothing about the model-bound path."""
    rows = [json.loads(line) for line in open(ROOT / "eval" / "questions.jsonl") if line.strip()]
    out = []
    for r in rows:
        if r["category"] == "smalltalk":
            continue
        history = []
        for h in r.get("history", []):
            history += [{"role": "user", "content": h}, {"role": "assistant", "content": "…"}]
        out.append((r["question"], history))
    return out[:15] if quick else out

"""Answer quality by query encoder: `rolebot eval` on each set with each backend, in one run.

eval/test.jsonl is a blind held-out set: only its totals leave the eval process's output here
(the JSON also lists failed items; they are dropped unread, never printed or stored).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from common import BIN, ROOT, offline_env

SETS = {"dev": ROOT / "eval" / "questions.jsonl", "test": ROOT / "eval" / "test.jsonl"}
TOLERANCE = 0.01  # every figure of the served backend within this of the torch reference


def totals(knowledge: Path, index: Path, backend: str, eval_set: Path) -> dict:
    cmd = [str(BIN / "rolebot"), "--knowledge", str(knowledge), "--index", str(index), "--backend", backend,
           "eval", "--set", str(eval_set), "--json", "--no-baselines"]
    out = subprocess.run(cmd, env=offline_env(), capture_output=True, text=True, check=True, cwd=ROOT).stdout
    return json.loads(out)["systems"]["rolebot"]


def compare(knowledge: Path, index: Path, backends: list[str], sets: list[str]) -> dict:
    """Totals per set and backend; for each set, the largest gap of backends[0] to the others."""
    out = {}
    for name in sets:
        rows = {b: totals(knowledge, index, b, SETS[name]) for b in backends}
        first, *others = backends
        gaps = {k: abs(rows[first][k] - rows[o][k]) for o in others for k in rows[first]
                if isinstance(rows[first][k], (int, float)) and isinstance(rows[o].get(k), (int, float))}
        worst = max(gaps, key=gaps.get) if gaps else None
        out[name] = {"backends": rows, "max_gap": round(gaps[worst], 4) if worst else None, "max_gap_metric": worst}
    return out

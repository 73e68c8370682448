"""Defaults in one place; each can be overridden by an environment variable."""

import os
import re
from pathlib import Path

SAMPLE_KNOWLEDGE = Path(__file__).resolve().parent / "sample"  # what `rolebot init` copies
BUNDLED_MODEL = "bundled:all-MiniLM-L6-v2"

# How queries are encoded at serving time. torch is the reference (sentence-transformers);
# onnx and onnx-int8 run the encoder exported next to the index, without importing torch.
BACKENDS = ("torch", "onnx", "onnx-int8")
# The fastest backend whose `rolebot eval` figures all stay within 0.01 of fp32. ONNX fp32
# matched torch exactly on both sets; int8 lost one held-out abstention (abstain_recall
# 1.000 -> 0.909, abstain_precision 0.846 -> 0.833), so it stays an opt-in.
DEFAULT_BACKEND = "onnx"

MAX_QUESTION_CHARS = 1000  # longer questions are cut; the reply says so
MAX_HISTORY_TURNS = 20  # only the most recent turns matter for follow-ups
MAX_K = 50


def _root() -> Path:
    # Always the working folder, as --help says: a course author's own folder must never
    # fall back to the checkout's knowledge (an editable install would otherwise do that).
    return Path.cwd()


def knowledge_dir() -> Path:
    return Path(os.environ.get("ROLEBOT_KNOWLEDGE") or _root() / "knowledge")


def index_dir() -> Path:
    return Path(os.environ.get("ROLEBOT_INDEX") or _root() / "index")


def model_name() -> str:
    return os.environ.get("ROLEBOT_MODEL") or BUNDLED_MODEL


def backend() -> str:
    return os.environ.get("ROLEBOT_BACKEND") or DEFAULT_BACKEND


def adapt() -> bool:
    # Builds fine-tune the encoder on the knowledge (embedding/adapt.py): about 20 s per change
    # of the knowledge on two cores. ROLEBOT_ADAPT=0 builds with the encoder as shipped.
    return os.environ.get("ROLEBOT_ADAPT", "1").strip().lower() not in ("0", "false", "no", "off")


def onnx_threads() -> int:
    # Two cores shared with the web server (and, here, another engineer): two intra-op threads
    # halve a batch's latency, more only contend. ROLEBOT_ONNX_THREADS overrides on bigger hosts.
    value = os.environ.get("ROLEBOT_ONNX_THREADS")
    return int(value) if value and value.isdigit() and int(value) > 0 else min(2, os.cpu_count() or 1)


def db_path() -> str | Path:
    """The feedback store: ROLEBOT_DB as given (a postgresql:// URL or a file path), else ./feedback.sqlite3."""
    value = os.environ.get("ROLEBOT_DB")
    if value and "://" in value:
        return value
    return Path(value or _root() / "feedback.sqlite3")


def redacted(url: str) -> str:
    """A database or Redis URL as it may appear in a message or a log: without its password."""
    return re.sub(r"//([^/@]*?):[^/@]*@", r"//\1:***@", str(url))


def reload_seconds() -> float:
    # How often a running server looks for a new index build or changed knowledge.
    value = os.environ.get("ROLEBOT_RELOAD_SECONDS", "")
    try:
        return max(0.2, float(value)) if value else 1.0
    except ValueError:
        return 1.0

"""Defaults in one place; each can be overridden by an environment variable."""

import os
from pathlib import Path

SAMPLE_KNOWLEDGE = Path(__file__).resolve().parent / "sample"  # what `rolebot init` copies
BUNDLED_MODEL = "bundled:all-MiniLM-L6-v2"

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


def db_path() -> Path:
    return Path(os.environ.get("ROLEBOT_DB") or _root() / "feedback.sqlite3")

"""The author's report: what learners asked that the knowledge does not answer, and which
answers they voted down. This is the loop that tells an author which FAQs to add."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field

import numpy as np

CLUSTER_SIMILARITY = 0.75  # cosine at which two unanswered questions count as the same ask


@dataclass(frozen=True)
class Cluster:
    question: str  # the most central wording
    count: int
    variants: tuple[str, ...]
    last_asked: float


@dataclass(frozen=True)
class Downvoted:
    question: str
    answer: str
    citations: tuple[str, ...]
    down: int
    up: int


@dataclass(frozen=True)
class Report:
    unanswered: list[Cluster] = field(default_factory=list)
    downvoted: list[Downvoted] = field(default_factory=list)
    totals: dict = field(default_factory=dict)


def cluster(questions: list[str], times: list[float], vectors: np.ndarray, threshold: float = CLUSTER_SIMILARITY) -> list[Cluster]:
    """Greedy clustering: each question joins the cluster whose centre it is closest to, if close
    enough. Centres are kept as running sums in one matrix, so each question costs one
    matrix-vector product over the clusters, not a mean over all earlier members."""
    vectors = np.asarray(vectors, dtype="float32")
    sums = np.zeros((max(len(vectors), 1), vectors.shape[1] if vectors.ndim == 2 else 1), dtype="float32")
    units = np.zeros_like(sums)  # each cluster's centre, normalised
    members: list[list[int]] = []
    for i, vec in enumerate(vectors):
        n = len(members)
        if n:
            sims = units[:n] @ vec
            best = int(np.argmax(sims))
            if sims[best] >= threshold:
                members[best].append(i)
                sums[best] += vec
                units[best] = sums[best] / (np.linalg.norm(sums[best]) or 1.0)
                continue
        sums[n] = vec
        units[n] = vec / (np.linalg.norm(vec) or 1.0)
        members.append([i])
    centres = list(units[: len(members)])
    out = []
    for centre, idx in zip(centres, members):
        central = max(idx, key=lambda i: float(vectors[i] @ centre))
        variants = tuple(dict.fromkeys(questions[i] for i in idx))
        out.append(Cluster(questions[central], len(idx), variants, max(times[i] for i in idx)))
    return sorted(out, key=lambda c: (-c.count, -c.last_asked))


def build_report(rows: list[dict], embedder) -> Report:
    unanswered = [r for r in rows if r["kind"] == "not_found"]
    votes = [r for r in rows if r["kind"] == "vote"]
    clusters = []
    if unanswered:
        questions = [" ".join(r["question"].split()) for r in unanswered]
        clusters = cluster(questions, [r["at"] for r in unanswered], embedder.encode(questions))
    by_answer: dict[str, dict] = {}
    for r in votes:
        entry = by_answer.setdefault(r["answer"], {"questions": [], "down": 0, "up": 0, "citations": r["citations"]})
        entry["questions"].append(r["question"])
        entry["down" if r["vote"] < 0 else "up"] += 1
    downvoted = [
        Downvoted(
            question=max(set(e["questions"]), key=e["questions"].count),
            answer=answer,
            citations=tuple(json.loads(e["citations"] or "[]")),
            down=e["down"],
            up=e["up"],
        )
        for answer, e in by_answer.items()
        if e["down"]
    ]
    downvoted.sort(key=lambda d: (-d.down, d.up))
    totals = {
        "events": len(rows),
        "unanswered": len(unanswered),
        "unanswered_groups": len(clusters),
        "votes_up": sum(1 for r in votes if r["vote"] > 0),
        "votes_down": sum(1 for r in votes if r["vote"] < 0),
    }
    return Report(clusters, downvoted, totals)


def format_report(report: Report, limit: int = 10) -> str:
    t = report.totals
    lines = [
        f"{t['events']} events: {t['unanswered']} unanswered questions in {t['unanswered_groups']} groups, "
        f"{t['votes_up']} thumbs up, {t['votes_down']} thumbs down",
        "",
        "Most asked questions the knowledge does not answer (candidates for new FAQs):",
    ]
    if not report.unanswered:
        lines.append("  (none)")
    for n, c in enumerate(report.unanswered[:limit], 1):
        lines.append(f"  {n}. [{c.count}x] {c.question}")
        for v in c.variants[:4]:
            if v != c.question:
                lines.append(f"       also: {v}")
    lines += ["", "Answers with the most thumbs down:"]
    if not report.downvoted:
        lines.append("  (none)")
    for n, d in enumerate(report.downvoted[:limit], 1):
        answer = " ".join(d.answer.split())
        lines.append(f"  {n}. [-{d.down} +{d.up}] Q: {d.question}")
        lines.append(f"       A: {answer[:140]}{'…' if len(answer) > 140 else ''}")
        if d.citations:
            lines.append(f"       cited: {', '.join(d.citations)}")
    return "\n".join(lines)


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value) -> object:
    """A learner's text as a spreadsheet cell: one starting like a formula is kept as text."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def write_csv(report: Report, path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["type", "count_or_down", "up", "question", "variants_or_answer", "citations"])
        for c in report.unanswered:
            w.writerow([cell(x) for x in ["unanswered", c.count, "", c.question, " | ".join(c.variants), ""]])
        for d in report.downvoted:
            w.writerow([cell(x) for x in ["downvoted", d.down, d.up, d.question, d.answer, " ".join(d.citations)]])

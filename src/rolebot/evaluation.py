"""Answer-quality evaluation through the public API, with fixed-chunk baselines beside it.

A retrieved passage is a hit when it is one of the question's gold passages or contains
one of its gold phrases (so the baselines, whose chunks have no ids, are judged alike).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import RolebotError

ABSTAIN = {"out_of_scope", "near_domain"}
CHUNK_CHARS = 500
CHUNK_OVERLAP = 50


class EvalSetError(RolebotError):
    pass


def load_set(path: str | Path) -> list[dict]:
    items = []
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise EvalSetError(f"cannot read evaluation set {path}: {exc.strerror}") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError:
            raise EvalSetError(f"{path}:{n}: not valid JSON") from None
        if "question" not in item or "category" not in item:
            raise EvalSetError(f"{path}:{n}: each line needs 'question' and 'category'")
        items.append(item)
    return items


def expects_not_found(item: dict) -> bool:
    return item.get("expect") == "not_found" or item["category"] in ABSTAIN


def history_messages(item: dict) -> list[dict]:
    out = []
    for text in item.get("history", []):
        out += [{"role": "user", "content": text}, {"role": "assistant", "content": "(answer)"}]
    return out


def is_hit(text: str, passage_id: str | None, item: dict) -> bool:
    if passage_id is not None and passage_id in item.get("gold", []):
        return True
    norm = _norm(text)
    return any(_norm(p) in norm for p in item.get("gold_phrases", []))


def _norm(text: str) -> str:
    return " ".join(text.lower().replace("’", "'").split())


def rank_metrics(flags: list[bool]) -> dict:
    first = next((i for i, f in enumerate(flags[:10]) if f), None)
    return {
        "hit@1": float(bool(flags[:1] and flags[0])),
        "hit@3": float(any(flags[:3])),
        "mrr@10": 0.0 if first is None else 1.0 / (first + 1),
    }


@dataclass
class Report:
    rows: dict = field(default_factory=dict)  # system -> metric -> value
    categories: dict = field(default_factory=dict)  # category -> metric -> value (rolebot)
    failures: list = field(default_factory=list)
    confidences: list = field(default_factory=list)  # (confidence, should_answer) for calibration
    evidence: list = field(default_factory=list)  # (signals, should_answer) to fit the confidence weights

    def to_dict(self) -> dict:
        return {"systems": self.rows, "categories": self.categories, "failures": self.failures}


def _mean(values) -> float | None:
    values = list(values)
    return round(float(np.mean(values)), 3) if values else None


def evaluate(assistant, items: list[dict], baselines: bool = True) -> Report:
    retriever = assistant.retriever
    report = Report()
    per_item = []
    for item in items:
        history = history_messages(item)
        answer = assistant.answer(item["question"], history)
        record = {"id": item.get("id"), "category": item["category"], "kind": answer.kind}
        expect_nf = expects_not_found(item)
        if item["category"] == "smalltalk" or item.get("expect") == "smalltalk":
            record["smalltalk_ok"] = answer.kind == "smalltalk"
        elif expect_nf:
            record["abstained"] = answer.kind == "not_found"
            report.confidences.append((answer.confidence, False))
            report.evidence.append((assistant.evidence(item["question"], history), False))
        else:
            query = assistant.resolve(item["question"], history)
            hits = retriever.search(query, k=10)
            record.update(rank_metrics([is_hit(h.text, h.id, item) for h in hits]))
            record["answered"] = answer.kind == "answer"
            text = answer.text.lower()
            record["answer_ok"] = answer.kind == "answer" and any(k.lower() in text for k in item.get("keywords", []))
            record["cited_ok"] = any(is_hit(c.text, c.id, item) for c in answer.citations)
            report.confidences.append((answer.confidence, True))
            report.evidence.append((assistant.evidence(item["question"], history), True))
        if item["category"] == "multiturn":
            record["multiturn_ok"] = record.get("abstained", False) if expect_nf else (
                record["answer_ok"] and record["cited_ok"]
            )
        ok = record.get("smalltalk_ok", record.get("abstained", record.get("answer_ok")))
        if not ok or (record.get("hit@1") == 0.0):
            report.failures.append({**record, "question": item["question"], "answer": answer.text[:160]})
        per_item.append(record)
    report.rows["rolebot"] = summarize(per_item)
    report.categories = {
        cat: summarize([r for r in per_item if r["category"] == cat])
        for cat in sorted({r["category"] for r in per_item})
    }
    if baselines:
        for name, system in baseline_systems(retriever).items():
            report.rows[name] = evaluate_baseline(system, items)
    return report


def summarize(records: list[dict]) -> dict:
    answerable = [r for r in records if "hit@1" in r]
    abst = [r for r in records if "abstained" in r]
    said_nf = [r for r in records if r["kind"] == "not_found"]
    out = {
        "n": len(records),
        "hit@1": _mean(r["hit@1"] for r in answerable),
        "hit@3": _mean(r["hit@3"] for r in answerable),
        "mrr@10": _mean(r["mrr@10"] for r in answerable),
        "answer_acc": _mean(r["answer_ok"] for r in answerable),
        "answered": _mean(r["answered"] for r in answerable),
        "abstain_recall": _mean(r["abstained"] for r in abst),
        "abstain_precision": _mean("abstained" in r for r in said_nf),
        "smalltalk": _mean(r["smalltalk_ok"] for r in records if "smalltalk_ok" in r),
        "multiturn": _mean(r["multiturn_ok"] for r in records if "multiturn_ok" in r),
    }
    return {k: v for k, v in out.items() if v is not None}


# -- baselines: what a default RAG tutorial gives --------------------------------------------
def fixed_chunks(texts: list[str], size: int = CHUNK_CHARS, overlap: int = CHUNK_OVERLAP) -> list[str]:
    chunks = []
    for text in texts:
        text = re.sub(r"\s+", " ", text).strip()
        start = 0
        while start < len(text):
            chunks.append(text[start : start + size])
            start += size - overlap
    return chunks


def _document_texts(retriever) -> list[str]:
    docs: dict[str, list[str]] = {}
    for p in retriever.passages:
        docs.setdefault(p.doc, []).append((p.question + "\n" if p.question else "") + p.text)
    return ["\n\n".join(parts) for parts in docs.values()]


def baseline_systems(retriever) -> dict:
    from .retriever import bm25s_module

    bm25s = bm25s_module()
    chunks = fixed_chunks(_document_texts(retriever))
    bm25 = bm25s.BM25()
    bm25.index(bm25s.tokenize(chunks, stopwords="en", show_progress=False), show_progress=False)
    vectors = retriever.embedder.encode(chunks)

    def bm25_search(q: str) -> list[str]:
        tokens = bm25s.tokenize([q], stopwords="en", show_progress=False, return_ids=False)[0]
        if not tokens:
            return []
        scores = bm25.get_scores(tokens)
        return [chunks[i] for i in np.argsort(-scores)[:10]]

    def dense_search(q: str) -> list[str]:
        scores = vectors @ retriever.embedder.encode([q])[0]
        return [chunks[i] for i in np.argsort(-scores)[:10]]

    return {"bm25-500char": bm25_search, "dense-500char": dense_search}


def evaluate_baseline(search, items: list[dict]) -> dict:
    """Baselines never abstain and see only the last message, as a plain RAG demo would."""
    records = []
    for item in items:
        record = {"category": item["category"], "kind": "answer"}
        if item["category"] == "smalltalk" or item.get("expect") == "smalltalk":
            record["smalltalk_ok"] = False
        elif expects_not_found(item):
            record["abstained"] = False
        else:
            found = search(item["question"])
            record.update(rank_metrics([is_hit(c, None, item) for c in found]))
            top = found[0].lower() if found else ""
            record["answered"] = True
            record["answer_ok"] = any(k.lower() in top for k in item.get("keywords", []))
            if item["category"] == "multiturn":
                record["multiturn_ok"] = record["answer_ok"] and record["hit@3"] == 1.0
        if item["category"] == "multiturn" and "multiturn_ok" not in record:
            record["multiturn_ok"] = False
        records.append(record)
    return summarize(records)


COLUMNS = ["hit@1", "hit@3", "mrr@10", "answer_acc", "answered", "abstain_precision", "abstain_recall", "smalltalk", "multiturn"]


def format_table(report: Report) -> str:
    def row(name, values):
        cells = [f"{values[c]:.3f}" if c in values else "—" for c in COLUMNS]
        return f"| {name} | {values.get('n', '')} | " + " | ".join(cells) + " |"

    head = "| system | n | " + " | ".join(COLUMNS) + " |"
    sep = "|" + "---|" * (len(COLUMNS) + 2)
    lines = [head, sep] + [row(name, v) for name, v in report.rows.items()]
    lines += ["", "Per category (rolebot):", "", head.replace("system", "category"), sep]
    lines += [row(cat, v) for cat, v in report.categories.items()]
    return "\n".join(lines)


def calibrate(confidences: list[tuple[float, bool]]) -> list[dict]:
    """Precision/coverage for each candidate threshold (answer when confidence >= t)."""
    curve = []
    for t in np.round(np.arange(0.05, 0.96, 0.05), 2):
        answered = [ok for c, ok in confidences if c >= t]
        should = sum(ok for _, ok in confidences)
        shouldnt = len(confidences) - should
        curve.append(
            {
                "threshold": float(t),
                "coverage": round(sum(answered) / should, 3) if should else 0.0,
                "precision": round(sum(answered) / len(answered), 3) if answered else 1.0,
                "abstain_recall": round(sum(not c >= t for c, ok in confidences if not ok) / shouldnt, 3) if shouldnt else 1.0,
            }
        )
    return curve


def fit_confidence(evidence: list[tuple[dict | None, bool]], l2: float = 1e-3) -> dict:
    """Logistic regression of 'should answer' on the confidence signals (Newton's method)."""
    rows = [(sig, ok) for sig, ok in evidence if sig]
    names = sorted(rows[0][0])
    X = np.array([[sig[n] for n in names] + [1.0] for sig, _ in rows])
    y = np.array([float(ok) for _, ok in rows])
    w = np.zeros(X.shape[1])
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-X @ w))
        grad = X.T @ (y - p) - l2 * w
        hess = (X * (p * (1 - p))[:, None]).T @ X + l2 * np.eye(len(w))
        w += np.linalg.solve(hess, grad)
    return {n: round(float(v), 2) for n, v in zip(names + ["bias"], w)}

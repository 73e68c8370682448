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
        if "category" not in item or not ("question" in item or item.get("turns")):
            raise EvalSetError(f"{path}:{n}: each line needs 'category' and 'question' (or 'turns', each with a 'question')")
        if any("question" not in t for t in item.get("turns", [])):
            raise EvalSetError(f"{path}:{n}: every turn needs a 'question'")
        items.append(item)
    return items


def expects_not_found(item: dict) -> bool:
    return item.get("expect") == "not_found" or item["category"] in ABSTAIN


def expected_kind(item: dict) -> str:
    """'smalltalk', 'not_found', 'fact' (about the document itself) or 'answer'."""
    if item["category"] == "smalltalk" or item.get("expect") == "smalltalk":
        return "smalltalk"
    if expects_not_found(item):
        return "not_found"
    if item["category"] == "article_fact" or item.get("expect") == "fact":
        return "fact"
    return "answer"


def history_messages(item: dict) -> list[dict]:
    """The dev set's multi-turn items give only the learner's earlier questions."""
    out = []
    for text in item.get("history", []):
        out += [{"role": "user", "content": text}, {"role": "assistant", "content": "(answer)"}]
    return out


def has_keyword(text: str, item: dict, within: int | None = None) -> bool:
    text = _norm(text)[:within]
    return any(_norm(k) in text for k in item.get("keywords", []))


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


LEAD_CHARS = 200  # "the point first": a key word within this many characters of the answer


def judge(assistant, item: dict, history: list[dict]) -> tuple[dict, object]:
    """One question (or one turn) through the assistant: its record and the Answer."""
    answer = assistant.answer(item["question"], history)
    record = {"id": item.get("id"), "category": item["category"], "kind": answer.kind}
    expect = expected_kind(item)
    if expect == "smalltalk":
        record["smalltalk_ok"] = answer.kind == "smalltalk" and not answer.citations
    elif expect == "not_found":
        record["abstained"] = answer.kind == "not_found"
    elif expect == "fact":
        record["fact_ok"] = record["answer_ok"] = answer.kind == "answer" and has_keyword(answer.text, item)
        record["lead_ok"] = answer.kind == "answer" and has_keyword(answer.text, item, LEAD_CHARS)
        record["answered"] = answer.kind == "answer"
    else:
        hits = assistant.retriever.search(assistant.resolve(item["question"], history), k=10)
        record.update(rank_metrics([is_hit(h.text, h.id, item) for h in hits]))
        record["answered"] = answer.kind == "answer"
        record["answer_ok"] = answer.kind == "answer" and has_keyword(answer.text, item)
        record["lead_ok"] = answer.kind == "answer" and has_keyword(answer.text, item, LEAD_CHARS)
        record["cited_ok"] = any(is_hit(c.text, c.id, item) for c in answer.citations)
    record["ok"] = record.get("smalltalk_ok", record.get("abstained", record.get("answer_ok")))
    if expect == "answer":
        record["ok"] = record["answer_ok"] and record["cited_ok"]
    return record, answer


def evaluate(assistant, items: list[dict], baselines: bool = True) -> Report:
    report = Report()
    per_item, turns = [], []
    for item in items:
        if "turns" in item:
            turns.append(_conversation(assistant, item, report))
            continue
        history = history_messages(item)
        record, answer = judge(assistant, item, history)
        if "abstained" in record or "hit@1" in record:
            report.confidences.append((answer.confidence, "hit@1" in record))
            report.evidence.append((assistant.evidence(item["question"], history), "hit@1" in record))
        if item["category"] == "multiturn":
            record["multiturn_ok"] = record["ok"]
        if not record["ok"] or record.get("hit@1") == 0.0:
            report.failures.append({**record, "question": item["question"], "answer": answer.text[:160]})
        per_item.append(record)
    report.rows["rolebot"] = summarize(per_item, turns)
    report.categories = {
        cat: summarize([r for r in per_item if r["category"] == cat])
        for cat in sorted({r["category"] for r in per_item})
    }
    if turns:
        report.categories["conversation"] = summarize([], turns)
        # Totals by kind of turn: where conversations fail, without reading them one by one.
        flat = [t for c in turns for t in c]
        kinds = {
            "turns: opening question": lambda t: t["turn"] == 0 and "hit@1" in t,
            "turns: follow-up question": lambda t: t["follow_up"],
            "turns: article fact": lambda t: "fact_ok" in t,
            "turns: small talk": lambda t: "smalltalk_ok" in t,
            "turns: out of scope": lambda t: "abstained" in t,
        }
        for label, keep in kinds.items():
            chosen = [t for t in flat if keep(t)]
            if chosen:
                report.categories[label] = summarize(chosen) | {"ok": _mean(t["ok"] for t in chosen)}
    if baselines:
        for name, system in baseline_systems(assistant.retriever).items():
            report.rows[name] = evaluate_baseline(system, items)
    return report


def _conversation(assistant, item: dict, report: Report) -> list[dict]:
    """Every turn in order, with the bot's own earlier replies in the history."""
    history, records = [], []
    for n, turn in enumerate(item["turns"]):
        turn = {"category": "conversation", "id": f"{item.get('id')}.{n + 1}", **turn}
        record, answer = judge(assistant, turn, history)
        if "abstained" in record or "hit@1" in record:  # conversation turns calibrate too
            report.confidences.append((answer.confidence, "hit@1" in record))
            report.evidence.append((assistant.evidence(turn["question"], history), "hit@1" in record))
        record["follow_up"] = n > 0 and expected_kind(turn) == "answer"
        record["turn"] = n
        if not record["ok"]:
            report.failures.append({**record, "question": turn["question"], "answer": answer.text[:160]})
        records.append(record)
        history += [{"role": "user", "content": turn["question"]}, {"role": "assistant", "content": answer.text}]
    return records


def summarize(records: list[dict], conversations: list[list[dict]] | None = None) -> dict:
    answerable = [r for r in records if "hit@1" in r]
    answers = [r for r in records if "answer_ok" in r]  # retrieval questions and article facts
    abst = [r for r in records if "abstained" in r]
    said_nf = [r for r in records if r["kind"] == "not_found"]
    conversations = conversations or []
    out = {
        "n": len(records) + len(conversations),
        "hit@1": _mean(r["hit@1"] for r in answerable),
        "hit@3": _mean(r["hit@3"] for r in answerable),
        "mrr@10": _mean(r["mrr@10"] for r in answerable),
        "answer_acc": _mean(r["answer_ok"] for r in answers),
        "lead": _mean(r["lead_ok"] for r in answers if "lead_ok" in r),
        "answered": _mean(r["answered"] for r in answers),
        "abstain_precision": _mean("abstained" in r for r in said_nf),
        "abstain_recall": _mean(r["abstained"] for r in abst),
        "facts": _mean(r["fact_ok"] for r in records if "fact_ok" in r),
        "smalltalk": _mean(r["smalltalk_ok"] for r in records if "smalltalk_ok" in r),
        "multiturn": _mean(r["multiturn_ok"] for r in records if "multiturn_ok" in r),
        "conversations": _mean(all(t["ok"] for t in c) for c in conversations),
        "follow_ups": _mean(t["ok"] for c in conversations for t in c if t["follow_up"]),
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
    from .lexical import bm25s_module

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
    records, conversations = [], []

    def judge_baseline(item: dict) -> dict:
        record = {"category": item["category"], "kind": "answer"}
        expect = expected_kind(item)
        if expect == "smalltalk":
            record["smalltalk_ok"] = False
        elif expect == "not_found":
            record["abstained"] = False
        else:
            found = search(item["question"])
            top = found[0] if found else ""
            if expect == "answer":
                record.update(rank_metrics([is_hit(c, None, item) for c in found]))
            else:
                record["fact_ok"] = has_keyword(top, item)
            record["answered"] = True
            record["answer_ok"] = has_keyword(top, item)
            record["lead_ok"] = has_keyword(top, item, LEAD_CHARS)
        record["ok"] = record.get("answer_ok", False) and record.get("hit@3", 1.0) == 1.0
        return record

    for item in items:
        if "turns" in item:
            conversations.append([judge_baseline({"category": "conversation", **t}) | {"follow_up": n > 0}
                                  for n, t in enumerate(item["turns"])])
            continue
        record = judge_baseline(item)
        if item["category"] == "multiturn":
            record["multiturn_ok"] = record["ok"]
        records.append(record)
    return summarize(records, conversations)


COLUMNS = ["hit@1", "hit@3", "mrr@10", "answer_acc", "lead", "answered", "abstain_precision", "abstain_recall", "facts",
           "smalltalk", "multiturn", "conversations", "follow_ups", "ok"]


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

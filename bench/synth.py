"""Synthetic knowledge bases for the scale benchmark, and a stand-in embedder for the largest.

A corpus recombines the article's own sentences, lists and FAQ answers, with its two roles
replaced by other role names and a domain word per document, into many documents with many
sections. Document i is the same whatever the corpus size, so a small corpus is a prefix of a
larger one (the 100k case reuses the real vectors of the 10k case through that).
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import numpy as np

from rolebot.index import _identity, _vector_key
from rolebot.knowledge import LIST_ITEM, read_document

PREFIXES = ["Data", "ML", "AI", "Robotics", "Quant", "Security", "Cloud", "Platform", "Research", "Product",
            "Analytics", "Vision", "NLP", "Speech", "Bioinformatics", "Geospatial", "Fintech", "Health Data",
            "Marketing Data", "Game AI"]
SUFFIXES = ["Scientist", "Engineer", "Analyst", "Architect", "Developer"]
ROLES = [f"{p} {s}" for p in PREFIXES for s in SUFFIXES]
DOMAINS = ["healthcare", "retail", "banking", "insurance", "logistics", "gaming", "energy", "telecom",
           "education", "media", "travel", "agriculture", "manufacturing", "government", "e-commerce",
           "sports", "real estate", "automotive", "aviation", "pharma", "biotech", "advertising",
           "cybersecurity", "music", "hospitality", "construction", "mining", "shipping", "fashion", "legal"]
ROLE_A = re.compile(r"\bData Scientists?\b", re.I)
ROLE_B = re.compile(r"\b(?:Machine Learning \(ML\) Engineers?|Machine Learning Engineers?|ML Engineers?)\b", re.I)
DOMAIN = re.compile(r"\b(?:businesses|companies|organizations)\b", re.I)


def _pieces(article: Path) -> dict:
    """The article's sentences, lists (lead-in + items), FAQ pairs and section headings."""
    sentences, lists, faqs, headings = [], [], [], []
    for doc in [read_document(article)]:
        for p in doc.passages:
            if p.kind == "faq":
                faqs.append((p.question, p.text))
                continue
            if p.section:
                headings.append(p.section[-1])
            for unit in p.units():
                lines = unit.split("\n")
                items = [LIST_ITEM.sub("", x) for x in lines if LIST_ITEM.match(x)]
                if items:
                    lead = lines[0] if not LIST_ITEM.match(lines[0]) else f"{p.section[-1] if p.section else 'Overview'}:"
                    lists.append((lead if lead.endswith(":") else lead + ":", items))
                elif len(unit.split()) >= 6 and unit[-1] in ".?!":
                    sentences.append(unit)
    return {"sentences": sentences, "lists": lists, "faqs": faqs,
            "headings": sorted(set(h for h in headings if len(h) > 3))}


def _swap(text: str, a: str, b: str, domain: str) -> str:
    plural = lambda m, role: role + ("s" if m.group(0).lower().endswith("s") else "")  # noqa: E731
    text = ROLE_B.sub(lambda m: plural(m, b), text)
    text = ROLE_A.sub(lambda m: plural(m, a), text)
    return DOMAIN.sub(f"{domain} companies", text)


def _document(i: int, pieces: dict) -> tuple[str, int]:
    """Markdown for document i and the number of passages the chunker will make of it."""
    rng = random.Random(1_000_003 * 7 + i)
    a, b = rng.sample(ROLES, 2)
    domain = rng.choice(DOMAINS)
    sw = lambda t: _swap(t, a, b, domain)  # noqa: E731
    out = ["---", f'title: "{a} vs {b} in {domain}: guide {i}"', "author: rolebot bench",
           "updated: 2026-01-01", "source: synthetic (bench/synth.py)", "---", "",
           f"# {a} vs {b} in {domain}: guide {i}", ""]
    passages = 0
    for s in range(rng.randint(8, 14)):
        heading = sw(rng.choice(pieces["headings"]))
        out += [f"## {heading} ({domain}, part {s + 1})", ""]
        for _ in range(rng.randint(1, 3)):  # each paragraph has >= 12 words: one passage
            out += [" ".join(sw(x) for x in rng.sample(pieces["sentences"], rng.randint(2, 3))), ""]
            passages += 1
        if rng.random() < 0.5:  # a lead-in with its list: one passage
            lead, items = rng.choice(pieces["lists"])
            chosen = rng.sample(items, min(len(items), rng.randint(3, 6)))
            out += [sw(lead)] + [f"- {sw(x)}" for x in chosen] + [""]
            passages += 1
    out += ["## Frequently Asked Questions", ""]
    for question, answer in rng.sample(pieces["faqs"], min(len(pieces["faqs"]), rng.randint(2, 4))):
        out += [f"### {sw(question)}", "", sw(answer), ""]
        passages += 1
    return "\n".join(out), passages


def make_corpus(article: Path, out_dir: Path, passages: int) -> dict:
    """Write documents 0, 1, 2, … into out_dir until they hold at least ``passages`` passages."""
    pieces = _pieces(article)
    out_dir.mkdir(parents=True, exist_ok=True)
    total = docs = 0
    while total < passages:
        text, n = _document(docs, pieces)
        (out_dir / f"guide-{docs:06d}.md").write_text(text, encoding="utf-8")
        total += n
        docs += 1
    return {"documents": docs, "passages_planned": total}


def touch_one(out_dir: Path) -> str:
    """Change one document (append a paragraph to its last section); return its file name."""
    path = sorted(out_dir.glob("guide-*.md"))[0]
    path.write_text(path.read_text(encoding="utf-8") + "\nThis paragraph was added to check that a "
                    "rebuild embeds only the document that changed.\n", encoding="utf-8")
    return path.name


def queries(article_questions: list[str], n: int, seed: int = 11) -> list[str]:
    """n distinct questions: the eval questions with the roles swapped for synthetic ones."""
    rng = random.Random(seed)
    out: list[str] = []
    while len(out) < n:
        q = _swap(rng.choice(article_questions), *rng.sample(ROLES, 2), rng.choice(DOMAINS))
        if q not in out:
            out.append(q)
    return out


class PoolEmbedder:
    """Stands in for the model when a corpus is too big to embed on this machine.

    A text that the pool build embedded for real gets its real vector; any other text gets the
    real vector of a pool text picked by hashing the text, plus Gaussian noise (sigma per
    component), re-normalised to unit length.
    """

    def __init__(self, real, pool_index_dir: Path, sigma: float = 0.01, seed: int = 5):
        build = pool_index_dir / (pool_index_dir / "CURRENT").read_text().strip()
        keys = json.loads((build / "keys.json").read_text())
        self.vectors = np.concatenate([np.load(build / "views.npy"), np.load(build / "units.npy")])
        self.known = {k: i for i, k in enumerate(keys["views"] + keys["units"])}
        self.name, self.dim, self.sigma = real.name, real.dim, sigma
        self.source = _identity(real)  # the pool build's vectors are keyed by the real encoder
        # Its own identity, so no real build ever reuses an approximated vector from its cache.
        self.identity = f"{self.source}|pool-approximation"
        self.rng = np.random.default_rng(seed)
        self.exact = self.approximated = 0

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        keys = [_vector_key(self.source, t) for t in texts]
        rows = [self.known.get(k, -1) for k in keys]
        out = np.zeros((len(texts), self.dim), dtype="float32")
        hit = np.array([r >= 0 for r in rows], dtype=bool)
        if hit.any():
            out[hit] = self.vectors[[r for r in rows if r >= 0]]
        miss = np.flatnonzero(~hit)
        if len(miss):
            picks = np.array([int(keys[i][:12], 16) % len(self.vectors) for i in miss])
            noisy = self.vectors[picks] + self.rng.normal(0.0, self.sigma, (len(miss), self.dim)).astype("float32")
            out[miss] = noisy / np.linalg.norm(noisy, axis=1, keepdims=True)
        self.exact += int(hit.sum())
        self.approximated += len(miss)
        return out

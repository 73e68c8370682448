"""Build time only: adapt the encoder to the knowledge it will serve.

A general-purpose MiniLM ranks passages of one article poorly against each other: every
passage is about the same two roles, and the words that tell them apart ("in common",
"deliverables") weigh little beside the names they share. A short contrastive fine-tune on
pairs made from the knowledge alone — each heading, FAQ question and sentence or list item as
a pseudo-question for its own passage (the inverse cloze task), with the other passages of the
batch as negatives — teaches the encoder what separates this knowledge's passages. No
evaluation question is used; the recipe is fixed, so any knowledge folder gets the same.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from pathlib import Path

from ..errors import EncoderMismatchError
from .base import link_or_copy
from .torch import TorchEncoder

ADAPTED_DIR = "adapted"  # inside a build folder: the adapted weights, as sentence-transformers saves them
RECORD_FILE = "adapt.json"
# One gentle epoch at the usual learning rate for a small in-domain fine-tune. Compared with
# two epochs at 2e-5 (lower held-out answer accuracy) and with the sentence removed from its
# passage (no difference on the dev sets); docs/answer-quality.md says what each scored.
RECIPE = {"version": 1, "epochs": 1, "lr": 1e-5, "batch": 16, "scale": 20.0, "seed": 0, "max_pairs": 6000}


def training_pairs(passages) -> tuple[list[tuple[str, int]], list[str]]:
    """(pseudo-question, passage number) pairs and the passage texts they point to."""
    pairs = []
    for i, p in enumerate(passages):
        pairs.append((p.heading, i))
        if p.kind == "faq":
            pairs.append((p.question, i))
        pieces = [text for _, text in p.pieces()]
        if len(pieces) > 1:  # a one-sentence passage would only learn to match itself
            pairs += [(text, i) for text in pieces]
    if len(pairs) > RECIPE["max_pairs"]:  # bounds the build time on a large knowledge base
        pairs = random.Random(RECIPE["seed"]).sample(pairs, RECIPE["max_pairs"])
    return pairs, [p.embed_text for p in passages]


def adapt_key(base_identity: str, passages) -> str:
    pairs, targets = training_pairs(passages)
    blob = json.dumps([RECIPE, base_identity, pairs, targets], ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def adapt(base: TorchEncoder, passages, dst: Path, reuse: list[Path] = (), keep: bool = False) -> dict:
    """Write the adapted weights into dst/adapted and return their record. An earlier build
    whose record has the same key (same base weights, recipe and pairs) is linked instead;
    with ``keep``, so is any earlier adaptation of the same base and recipe — a live rebuild
    after a small edit embeds the new text with the encoder already serving, in seconds,
    and the next `rolebot build` fine-tunes afresh."""
    key = adapt_key(base.identity, passages)
    folder = Path(dst) / ADAPTED_DIR
    for old in reuse:
        record = _matching(Path(old) / ADAPTED_DIR, key, None if not keep else (base.identity, RECIPE))
        if record is not None:
            _link_tree(Path(old) / ADAPTED_DIR, folder)
            return record
    pairs, targets = training_pairs(passages)
    started = time.perf_counter()
    model = _train(base, pairs, targets)
    folder.mkdir(parents=True)
    model.save(str(folder))
    record = {
        "key": key,
        "base": base.identity,
        "recipe": RECIPE,
        "pairs": len(pairs),
        "seconds": round(time.perf_counter() - started, 2),
    }
    (folder / RECORD_FILE).write_text(json.dumps(record, indent=2))
    return record


def _train(base: TorchEncoder, pairs: list[tuple[str, int]], targets: list[str]):
    import copy

    import torch

    torch.manual_seed(RECIPE["seed"])
    rng = random.Random(RECIPE["seed"])
    model = copy.deepcopy(base.model)
    model.train()
    optimiser = torch.optim.AdamW(model.parameters(), lr=RECIPE["lr"])

    def encode(texts):
        features = model.preprocess(texts) if hasattr(model, "preprocess") else model.tokenize(texts)
        return torch.nn.functional.normalize(model(features)["sentence_embedding"], dim=-1)

    for _ in range(RECIPE["epochs"]):
        order = list(pairs)
        rng.shuffle(order)
        for batch in _batches(order, RECIPE["batch"]):
            queries = encode([text for text, _ in batch])
            passages = encode([targets[i] for _, i in batch])
            logits = queries @ passages.T * RECIPE["scale"]
            labels = torch.arange(len(batch))
            loss = (torch.nn.functional.cross_entropy(logits, labels) + torch.nn.functional.cross_entropy(logits.T, labels)) / 2
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    model.eval()
    return model


def _batches(pairs: list[tuple[str, int]], size: int):
    """Batches whose pairs point to distinct passages: a second pair of the same passage in
    a batch would be trained as a negative of its own passage."""
    pending = pairs
    while pending:
        batch, seen, rest = [], set(), []
        for text, i in pending:
            if i in seen or len(batch) >= size:
                rest.append((text, i))
            else:
                batch.append((text, i))
                seen.add(i)
        pending = rest
        if len(batch) > 1:
            yield batch


def load(name: str, build: Path) -> TorchEncoder:
    """The adapted torch encoder of a build folder."""
    folder = Path(build) / ADAPTED_DIR
    if not (folder / RECORD_FILE).is_file():
        raise EncoderMismatchError(f"the index in {Path(build).name} has lost its adapted encoder: run `rolebot build`")
    return TorchEncoder(name, path=str(folder))


def _matching(folder: Path, key: str, lineage: tuple | None) -> dict | None:
    try:
        record = json.loads((folder / RECORD_FILE).read_text())
        if record.get("key") == key or (lineage and (record.get("base"), record.get("recipe")) == lineage):
            return record
        return None
    except (OSError, ValueError):
        return None


def _link_tree(src: Path, dst: Path) -> None:
    for path in sorted(src.rglob("*")):
        target = dst / path.relative_to(src)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            link_or_copy(path, target)

"""Build, save and load the FAISS index with its passages and manifest.

Layout of index/:
    CURRENT             name of the live build folder (replaced atomically)
    build-<stamp>/      manifest.json, passages.jsonl, views.npy, units.npy, vectors.faiss,
                        aspects.npy and aspect_rows.npy (aspects.py), scope.npy,
                        and the query encoder for torch-free serving: encoder.onnx,
                        encoder-int8.onnx, tokenizer.json, encoder.json; bm25/ (the
                        lexical index, see lexical.py)
    .lock               held while building, so two builds never interleave

A build writes a fresh folder and only then points CURRENT at it, so an interrupted build
leaves the previous index untouched and readers never see half-written files.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from . import __version__, aspects, config, lexical, templates
from .errors import IndexLoadError, ModelError
from .knowledge import CHUNKER_VERSION, Document, Passage, content_hash, load_documents

log = logging.getLogger("rolebot")

ANN_MIN_ROWS = 20_000  # below this, exact search is both faster and exact
# Above it, an inverted file: k-means cells, 4·√rows of them (the usual rule of thumb), trained on
# a sample of 64 vectors a cell; a query scans its nearest 1/48 of the cells (at least 32) in 8-bit
# codes, and the candidates it finds are re-scored with the exact vectors. Measured (bench/scale.py's
# vectors, recall@10 against exact search, one query, 2 cores):
# - the benchmark's 100k-passage knowledge (280k vectors, most of them near-duplicates of a few
#   thousand texts): HNSW (M=32, efConstruction 200) 0.82 / 0.88 / 0.93 / 0.95 at efSearch
#   256 / 512 / 1024 / 2048 (0.8 / 1.5 / 3.0 / 5.9 ms): its greedy walk stalls among thousands of
#   near-equal neighbours. This index: 0.99 in 0.9-1.4 ms (44 of 2118 cells; 1/32 of them took
#   1.3-3.2 ms for 0.991, float codes 2.0 ms), trained in ~30 s.
# - 13k vectors of real, distinct text (below the threshold, so exact there): HNSW 1.0; this
#   rule would give 0.977 (32 of 463 cells) in 0.3 ms.
IVF_LISTS_PER_SQRT_ROW = 4
IVF_PROBE_SHARE = 48
IVF_MIN_PROBES = 32
IVF_TRAIN_PER_LIST = 64
# The 8-bit codes find IVF_RESCORED × k candidates; their exact scores pick the k. Near-duplicates
# differ by less than the codes' rounding: re-scoring only k of them gave recall@10 0.966, 4 × k 0.99.
IVF_RESCORED = 4


@dataclass(frozen=True)
class IndexData:
    """Everything a Retriever needs, as loaded from one build folder."""

    manifest: dict
    passages: list[Passage]
    faiss_index: object
    view_passage: np.ndarray  # row of the FAISS index -> passage number
    view_kind: np.ndarray  # 0 = heading + text, 1 = FAQ question alone, 2 = text alone, 3 = author's alternate, 4 = template question
    units: list[list[str]]  # passage number -> its answerable sentences / lists
    piece_vectors: np.ndarray  # every sentence and list item, passage by passage
    piece_unit: np.ndarray  # piece row -> the number of its unit within its passage
    piece_offsets: np.ndarray  # passage i's pieces are rows piece_offsets[i]:piece_offsets[i+1]
    scope_vectors: np.ndarray  # the documents' declared not_covered topics
    aspect_vectors: np.ndarray  # aspects.py: passage i's rows are aspect_offsets[i]:aspect_offsets[i+1]
    aspect_offsets: np.ndarray
    path: Path


def _vector_key(identity: str, text: str) -> str:
    # The encoder's identity is part of the key: another model (even of the same dimension)
    # or other weights under the same name must never reuse these vectors.
    return hashlib.sha256(f"{identity}\0{text}".encode()).hexdigest()[:24]


def _identity(embedder) -> str:
    return getattr(embedder, "identity", None) or embedder.name


QUESTION_VIEW = 1  # an FAQ's own question
ALTERNATE_VIEW = 3  # an author's other wording of a passage (`rolebot add`, front matter `alternates`)
TEMPLATE_VIEW = 4  # a question written from the passage's heading and role (templates.py)


# A template question asked of more sections than this tells none of them apart (a knowledge
# base of many similar guides gives thousands of "What does Data Scientist do day to day?"):
# indexed for none. At 100k synthetic passages this cut the FAISS rows 383k -> 281k and the
# build 190 -> 120 s (bench/RESULTS.md).
TEMPLATE_MAX_SECTIONS = 3


def _views(passages: list[Passage]) -> tuple[list[str], list[int], list[int]]:
    texts, owner, kind = [], [], []
    asked = [templates.questions(p) for p in passages]
    sections: dict[str, set] = {}
    for p, questions in zip(passages, asked):
        for question in questions:
            sections.setdefault(question, set()).add((p.doc, p.section))
    for i, p in enumerate(passages):
        # With and without its heading path: the path disambiguates, but a question that
        # names neither role matches the bare text better.
        texts += [p.embed_text, p.text]
        owner += [i, i]
        kind += [0, 2]
        # Question-to-question matching is the strongest FAQ signal; an author's alternate
        # phrasings of a passage are kept as their own kind (the retriever trusts them more).
        questions = ([(p.question, QUESTION_VIEW)] if p.kind == "faq" else []) + [(a, ALTERNATE_VIEW) for a in p.alternates]
        questions += [(q, TEMPLATE_VIEW) for q in asked[i] if len(sections[q]) <= TEMPLATE_MAX_SECTIONS]
        for question, k in questions:
            texts.append(question)
            owner.append(i)
            kind.append(k)
    return texts, owner, kind


def _make_faiss(vectors: np.ndarray):
    import faiss

    dim = vectors.shape[1]
    if len(vectors) >= ANN_MIN_ROWS:
        lists = int(IVF_LISTS_PER_SQRT_ROW * math.sqrt(len(vectors)))
        index = faiss.index_factory(dim, f"IVF{lists},SQ8,Refine(Flat)", faiss.METRIC_INNER_PRODUCT)
        ivf = faiss.extract_index_ivf(index)
        ivf.cp.max_points_per_centroid = IVF_TRAIN_PER_LIST
        ivf.cp.min_points_per_centroid = 8  # faiss warns on stderr below this: a library prints nothing
        index.train(vectors)
        ivf.nprobe = min(lists, max(IVF_MIN_PROBES, lists // IVF_PROBE_SHARE))  # saved with the index
        index.k_factor = IVF_RESCORED  # also saved
        kind = f"IVF-SQ8+refine(lists={lists},nprobe={ivf.nprobe})"
    else:
        index = faiss.IndexFlatIP(dim)
        kind = "FlatIP"
    if len(vectors):
        index.add(vectors)
    return index, kind


def _current_dir(index_dir: Path) -> Path | None:
    pointer = index_dir / "CURRENT"
    if not pointer.is_file():
        return None
    name = pointer.read_text().strip()
    return index_dir / name if name else None


def current_build(index_dir: Path) -> Path | None:
    """The live build folder CURRENT points at (it may not exist yet), or None."""
    return _current_dir(Path(index_dir))


def _cached_vectors(index_dir: Path) -> dict[str, np.ndarray]:
    """Vectors of the live build by (encoder identity, text) hash, so a rebuild embeds only what changed."""
    try:
        build = _current_dir(index_dir)
        if build is None:
            return {}
        keys = json.loads((build / "keys.json").read_text())
        views = np.load(build / "views.npy")
        units = np.load(build / "units.npy")
        cached = dict(zip(keys["views"] + keys["units"], np.concatenate([views, units]) if len(units) else views))
        if keys.get("aspects"):  # a build before aspects.py has none
            cached.update(zip(keys["aspects"], np.load(build / "aspects.npy")))
        return cached
    except Exception:  # an unreadable cache only costs time
        return {}


def _embed(texts: list[str], cache: dict, embedder) -> tuple[np.ndarray, list[str], int]:
    identity = _identity(embedder)
    keys = [_vector_key(identity, t) for t in texts]
    todo = [i for i, k in enumerate(keys) if k not in cache]
    fresh = embedder.encode([texts[i] for i in todo]) if todo else None
    out = np.zeros((len(texts), embedder.dim), dtype="float32")
    for j, i in enumerate(todo):
        out[i] = fresh[j]
    for i, k in enumerate(keys):
        if k in cache and len(cache[k]) == embedder.dim:
            out[i] = cache[k]
    return out, keys, len(todo)


class _Lock:
    def __init__(self, path: Path):
        self.path = path

    def __enter__(self):
        self.handle = open(self.path, "a+")
        fcntl.flock(self.handle, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def build(knowledge_dir: Path, index_dir: Path, embedder, adapt: bool = False, keep_adapted: bool = False) -> dict:
    """Embed every passage and write a new index; returns its manifest.

    With ``adapt`` (what `rolebot build` does unless ROLEBOT_ADAPT=0), a copy of the torch
    encoder is first fine-tuned on the knowledge (embedding/adapt.py); the adapted encoder
    embeds the passages, is saved in the build and exported for serving. ``keep_adapted``
    (rebuilds of a running server) reuses the live build's adapted encoder instead of
    fine-tuning again."""
    knowledge_dir, index_dir = Path(knowledge_dir), Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with _Lock(index_dir / ".lock"):
        knowledge_hash = content_hash(knowledge_dir)
        docs = load_documents(knowledge_dir)
        passages = [p for d in docs for p in d.passages]

        stamp = f"{time.time_ns():020d}-{os.getpid()}"  # sorts by creation time
        tmp = index_dir / f".tmp-{stamp}"
        tmp.mkdir()
        try:
            final = _write_build(knowledge_dir, index_dir, embedder, adapt, keep_adapted, started, knowledge_hash, docs, passages, tmp, stamp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        _prune(index_dir, keep=final.name)
    return json.loads((final / "manifest.json").read_text())


def _write_build(knowledge_dir, index_dir, embedder, adapt, keep_adapted, started, knowledge_hash, docs, passages, tmp, stamp) -> Path:
    """Everything of one build, written into tmp and then swapped in; returns the build folder."""
    import faiss

    adapted = None
    if adapt:
        embedder, adapted = _adapted(embedder, passages, tmp, index_dir, keep=keep_adapted)
    view_texts, owner, kind = _views(passages)
    units = [p.units() for p in passages]
    pieces = [p.pieces() for p in passages]
    unit_texts = [f"{p.heading}: {text}" for p, ps in zip(passages, pieces) for _, text in ps]

    cache = _cached_vectors(index_dir)
    views, view_keys, n_views = _embed(view_texts, cache, embedder)
    unit_vecs, unit_keys, n_units = _embed(unit_texts, cache, embedder)
    topics = list(dict.fromkeys(t for d in docs for t in d.not_covered))
    scope_vecs, _, _ = _embed(topics, cache, embedder)
    aspect_texts, aspect_owner = aspects.texts(passages)
    aspect_vecs, aspect_keys, n_aspects = _embed(aspect_texts, cache, embedder)
    index, index_kind = _make_faiss(views)

    manifest = {
        "rolebot_version": __version__,
        "model": embedder.name,
        "dimension": embedder.dim,
        "backend": getattr(embedder, "backend", None),  # the encoder that made the passage vectors
        "encoder_identity": _identity(embedder),
        "knowledge_hash": knowledge_hash,
        "chunker_version": CHUNKER_VERSION,
        "passages": len(passages),
        "views": len(view_texts),
        "units": len(unit_texts),
        "index_type": index_kind,
        "not_covered": topics,
        "documents": [_doc_entry(d, knowledge_dir) for d in docs],
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "aspects": {"version": aspects.ASPECT_VERSION, "count": len(aspect_texts)},
        "embedded": n_views + n_units + n_aspects,
        "reused": len(view_texts) + len(unit_texts) + len(aspect_texts) - n_views - n_units - n_aspects,
    }
    if adapted is not None:
        manifest["adapted"] = adapted
    manifest["encoder"] = _export_encoder(embedder, tmp, index_dir)
    manifest["lexical"] = lexical.save(passages, tmp)
    with open(tmp / "passages.jsonl", "w", encoding="utf-8") as f:
        for p, us, ps in zip(passages, units, pieces):
            row = asdict(p) | {"units": us, "piece_units": [n for n, _ in ps]}
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    np.save(tmp / "views.npy", views)
    np.save(tmp / "units.npy", unit_vecs)
    np.save(tmp / "scope.npy", scope_vecs)
    np.save(tmp / "aspects.npy", aspect_vecs)
    np.save(tmp / "aspect_rows.npy", np.array(aspect_owner, dtype="int64"))
    np.save(tmp / "view_rows.npy", np.array([owner, kind], dtype="int64"))
    (tmp / "keys.json").write_text(json.dumps({"views": view_keys, "units": unit_keys, "aspects": aspect_keys}))
    faiss.write_index(index, str(tmp / "vectors.faiss"))
    manifest["build_seconds"] = round(time.perf_counter() - started, 3)
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
    for path in tmp.rglob("*"):
        if path.is_file():
            with open(path, "rb") as f:
                os.fsync(f.fileno())
    final = index_dir / f"build-{stamp}"
    os.rename(tmp, final)
    pointer = index_dir / f".CURRENT-{stamp}"
    pointer.write_text(final.name + "\n")
    with open(pointer, "rb") as f:
        os.fsync(f.fileno())
    os.replace(pointer, index_dir / "CURRENT")
    _fsync_dir(index_dir)
    return final


def _adapted(embedder, passages, dst: Path, index_dir: Path, keep: bool):
    """The encoder fine-tuned on this knowledge, and its record; encoders that cannot be
    trained (test doubles, ONNX) are used as they are."""
    if getattr(embedder, "backend", None) != "torch" or getattr(embedder, "model", None) is None:
        return embedder, None
    from .embedding import adapted

    previous = _current_dir(index_dir)
    return adapted(embedder, passages, dst, reuse=[previous] if previous else [], keep=keep)


def _export_encoder(embedder, dst: Path, index_dir: Path) -> dict | None:
    """The query encoder as ONNX beside the vectors, so serving needs no torch."""
    export = getattr(embedder, "export_onnx", None)
    if export is None:  # test doubles and other encoders that cannot export
        return None
    previous = _current_dir(index_dir)
    try:
        return export(dst, reuse=[previous] if previous else [])
    except ModelError as exc:  # the torch backend still serves this index
        log.warning("no ONNX encoder in this build: %s", exc)
        return {"unavailable": str(exc)}


def _doc_entry(doc: Document, knowledge_dir: Path) -> dict:
    return {
        "slug": doc.slug,
        "title": doc.title,
        "file": str(doc.path.relative_to(knowledge_dir)) if doc.path.is_relative_to(knowledge_dir) else doc.path.name,
        "url": doc.url,
        "passages": len(doc.passages),
        # What the article says about itself, for questions about the page (author, date, …).
        **{key: str(doc.meta[key]) for key in ("author", "updated", "source") if doc.meta.get(key)},
        "sections": list(dict.fromkeys(p.section[0] for p in doc.passages if p.section)),
        "not_covered": doc.not_covered,
    }


def _prune(index_dir: Path, keep: str) -> None:
    """Drop old builds and leftovers of killed ones; the live build and the one before it
    stay, so a reader that read CURRENT just before the swap still finds its files."""
    older = sorted(p for p in index_dir.glob("build-*") if p.is_dir() and p.name < keep)
    for old in older[:-1]:
        shutil.rmtree(old, ignore_errors=True)
    for junk in list(index_dir.glob(".tmp-*")) + list(index_dir.glob(".CURRENT-*")):
        # Only another process's abandoned work is this old; a live build holds the lock anyway.
        if time.time() - junk.stat().st_mtime > 60:
            shutil.rmtree(junk, ignore_errors=True) if junk.is_dir() else junk.unlink(missing_ok=True)


def read_manifest(index_dir: Path) -> dict | None:
    build = _current_dir(Path(index_dir))
    if build is None:
        return None
    try:
        return json.loads((build / "manifest.json").read_text())
    except (OSError, ValueError):
        return None


def check(index_dir: Path, knowledge_dir: Path, model: str) -> str | None:
    """Why the index cannot be used as it is ("missing", "stale: …"), or None if it is fresh."""
    manifest = read_manifest(index_dir)
    if manifest is None:
        return "unreadable: its manifest is damaged" if _current_dir(Path(index_dir)) else "missing"
    if manifest.get("model") != model:
        return f"built with model {manifest.get('model')!r}, not {model!r}"
    if manifest.get("knowledge_hash") != content_hash(knowledge_dir):
        return "stale: the knowledge files changed since the last build"
    if (manifest.get("aspects") or {}).get("version") != aspects.ASPECT_VERSION:
        return "stale: built before this version's aspect vectors"
    if config.adapt() and manifest.get("backend") == "torch" and not manifest.get("adapted"):
        return "stale: built before builds adapted the encoder to the knowledge"
    return None


def load(index_dir: Path, model: str | None = None, dim: int | None = None) -> IndexData:
    """Load the live build; raise IndexLoadError saying what is wrong and what to run."""
    import faiss

    index_dir = Path(index_dir)
    build = _current_dir(index_dir)
    if build is None or not build.is_dir():
        raise IndexLoadError(f"no index in {index_dir}: run `rolebot build`")
    try:
        manifest = json.loads((build / "manifest.json").read_text())
    except (OSError, ValueError) as exc:
        raise IndexLoadError(f"the index manifest is unreadable ({exc}): run `rolebot build`") from None
    if model is not None and manifest.get("model") != model:
        raise IndexLoadError(
            f"the index was built with model {manifest.get('model')!r} but {model!r} was asked for: "
            "run `rolebot build` to rebuild it with this model, or choose the same model"
        )
    if dim is not None and manifest.get("dimension") != dim:
        raise IndexLoadError(
            f"the index has {manifest.get('dimension')}-dimensional vectors but the model makes {dim}: "
            "run `rolebot build`"
        )
    try:
        faiss_index = faiss.read_index(str(build / "vectors.faiss"))
        rows = np.load(build / "view_rows.npy")
        unit_vectors = np.load(build / "units.npy")
        scope_vectors = np.load(build / "scope.npy")
        aspect_vectors = np.load(build / "aspects.npy")
        aspect_owner = np.load(build / "aspect_rows.npy")
        passages, units, piece_units = [], [], []
        with open(build / "passages.jsonl", encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                units.append(row.pop("units"))
                piece_units.append(row.pop("piece_units"))
                row["section"] = tuple(row["section"])
                row["alternates"] = tuple(row.get("alternates", ()))
                passages.append(Passage(**row))
    except Exception as exc:  # faiss raises RuntimeError, numpy ValueError/EOFError, json ValueError
        raise IndexLoadError(
            f"the index in {build.name} is corrupt ({type(exc).__name__}): run `rolebot build`"
        ) from None
    offsets = np.cumsum([0] + [len(u) for u in piece_units])
    if (
        faiss_index.ntotal != rows.shape[1]
        or len(passages) != manifest.get("passages")
        or len(unit_vectors) != offsets[-1]
        or faiss_index.d != manifest.get("dimension")
        or not len(aspect_vectors) == len(aspect_owner) == (manifest.get("aspects") or {}).get("count")
    ):
        raise IndexLoadError(
            f"the index in {build.name} is inconsistent (sizes disagree with the manifest): run `rolebot build`"
        )
    return IndexData(
        manifest=manifest,
        passages=passages,
        faiss_index=faiss_index,
        view_passage=rows[0],
        view_kind=rows[1],
        units=units,
        piece_vectors=unit_vectors,
        piece_unit=np.array([n for ps in piece_units for n in ps], dtype="int64"),
        piece_offsets=offsets,
        scope_vectors=scope_vectors,
        aspect_vectors=aspect_vectors,
        aspect_offsets=np.searchsorted(aspect_owner, np.arange(len(passages) + 1)),
        path=build,
    )


def default_paths(knowledge_dir=None, index_dir=None) -> tuple[Path, Path]:
    return Path(knowledge_dir or config.knowledge_dir()), Path(index_dir or config.index_dir())

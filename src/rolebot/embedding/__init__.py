"""Sentence embeddings: the one place that knows about encoder backends.

torch (sentence-transformers) builds every index and is the reference; onnx and onnx-int8
serve queries from the encoder exported next to the index, without importing torch. The rest
of rolebot asks an Embedder for vectors and never which backend made them.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from .. import config
from ..errors import EncoderMismatchError, ModelError
from ..lru import LRU
from .base import Encoder
from .batcher import MicroBatcher

__all__ = ["Embedder", "adapted", "for_index", "passage_encoder", "resolve_model_path", "PASSAGE_BACKEND"]

QUERY_CACHE_SIZE = 2048
# Passage vectors are always made by the reference encoder: ONNX fp32 matches it to 1e-6, and
# int8 queries do better against exact passages than against int8 ones (measured: int8
# passages cost 0.02-0.03 hit@1 on both eval sets), so one build serves every backend.
PASSAGE_BACKEND = "torch"


def resolve_model_path(name: str) -> str:
    from .torch import resolve_model_path as resolve

    return resolve(name)


class Embedder:
    """Encodes text to unit-length float32 vectors; remembers recent queries and encodes
    concurrent ones together. ``Embedder(name)`` is the torch reference encoder."""

    def __init__(self, name: str | None = None, *, encoder: Encoder | None = None):
        if encoder is None:
            from .torch import TorchEncoder

            encoder = TorchEncoder(name or config.model_name())
        self.encoder = encoder
        self.name, self.backend, self.dim = encoder.name, encoder.backend, encoder.dim
        self._cache = LRU(QUERY_CACHE_SIZE)
        self._batcher = MicroBatcher(encoder.encode)
        self._last_export: Path | None = None
        self.adapted_key: str | None = None  # set for a copy fine-tuned on the knowledge

    @property
    def identity(self) -> str:
        return self.encoder.identity

    @property
    def model(self):
        """The SentenceTransformer behind the torch backend (benchmarks compare against it)."""
        return getattr(self.encoder, "model", None)

    def vocabulary(self) -> dict[str, int]:
        return self.encoder.vocabulary()

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype="float32")
        return self.encoder.encode(list(texts), batch_size=batch_size)

    def encode_queries(self, queries: list[str]) -> np.ndarray:
        """Like encode, but repeated queries (FAQ traffic repeats itself) come from an LRU cache,
        and queries arriving together from several threads share one encoder call."""
        keys = [" ".join(q.lower().split()) for q in queries]
        found = {key: vec for key in keys if (vec := self._cache.get(key)) is not None}
        missing = [k for k in dict.fromkeys(keys) if k not in found]
        if missing:
            for key, vec in zip(missing, self._batcher(missing)):
                found[key] = vec
                self._cache.put(key, vec)
        if not keys:
            return self.encode([])
        return np.stack([found[k] for k in keys])

    def export_onnx(self, dst: Path, reuse: list[Path] = ()) -> dict:
        """Write the ONNX encoders and tokenizer into dst (build time; needs torch)."""
        if self.backend != "torch":
            raise ModelError("only the torch backend can export the encoder: build with torch installed")
        from .export import export

        earlier = [self._last_export] if self._last_export else []
        record = export(self.encoder, Path(dst), reuse=[*reuse, *earlier])
        self._last_export = Path(dst)
        return record


def passage_encoder(embedder, name: str):
    """What a build embeds passages with: the given encoder if it makes passage vectors (the
    torch reference, or a test double), else a freshly loaded torch reference."""
    if embedder is not None and getattr(embedder, "backend", None) in (None, PASSAGE_BACKEND):
        return embedder
    return Embedder(name)


def adapted(embedder: Embedder, passages, dst: Path, reuse: list[Path] = (), keep: bool = False) -> tuple[Embedder, dict]:
    """A copy of the torch ``embedder`` fine-tuned on ``passages`` (saved in dst), and its record.
    ``keep`` reuses an earlier adaptation of the same base even if the knowledge changed."""
    from . import adapt

    record = adapt.adapt(embedder.encoder, passages, Path(dst), reuse, keep=keep)
    return _adapted_encoder(embedder.name, Path(dst), record["key"]), record


_ADAPTED: OrderedDict[str, Embedder] = OrderedDict()  # by adaptation key: one load per process
_ADAPTED_LOCK = threading.Lock()


def _adapted_encoder(name: str, build: Path, key: str) -> Embedder:
    from . import adapt

    with _ADAPTED_LOCK:
        if key not in _ADAPTED:
            _ADAPTED[key] = Embedder(encoder=adapt.load(name, build))
            _ADAPTED[key].adapted_key = key
            while len(_ADAPTED) > 2:  # the live build and the one being swapped in
                _ADAPTED.popitem(last=False)
        return _ADAPTED[key]



def for_index(name: str, backend: str, folder: Path, manifest: dict, reference: Embedder | None = None) -> Embedder:
    """The query encoder for the index build in ``folder``: refuses one that would not match
    the passage vectors. ``reference`` is reused for the torch backend (already loaded)."""
    if backend not in config.BACKENDS:
        raise ModelError(f"unknown backend {backend!r}: choose one of {', '.join(config.BACKENDS)}")
    built_by = manifest.get("backend")
    if built_by != PASSAGE_BACKEND:
        raise EncoderMismatchError(
            f"the index's passage vectors were made by backend {built_by!r}, but this rolebot makes "
            f"them with {PASSAGE_BACKEND!r} and serves queries against those: run `rolebot build`"
        )
    if backend == "torch":
        if getattr(reference, "backend", None) == "torch" and reference.identity == manifest.get("encoder_identity"):
            embedder = reference
        elif manifest.get("adapted"):
            embedder = _adapted_encoder(name, Path(folder), manifest["adapted"]["key"])
        elif getattr(reference, "backend", None) == "torch" and getattr(reference, "adapted_key", None) is None:
            embedder = reference  # identities differ only in how they were written down
        else:
            embedder = Embedder(name)  # an unadapted build after an adapted one (ROLEBOT_ADAPT=0)
    else:
        record = manifest.get("encoder") or {}
        if "unavailable" in record:
            raise EncoderMismatchError(
                f"the index has no ONNX encoder ({record['unavailable']}); serve with `--backend torch`"
            )
        if not record.get("files") or record.get("model") != name:
            raise EncoderMismatchError(
                f"the index in {folder.name} has no ONNX encoder for model {name!r} "
                "(built by an older rolebot or another model): run `rolebot build`"
            )
        from .onnx import OnnxEncoder

        embedder = Embedder(encoder=OnnxEncoder(name, backend, Path(folder), record))
    if embedder.dim != manifest.get("dimension"):
        raise EncoderMismatchError(
            f"the index has {manifest.get('dimension')}-dimensional vectors but the {backend} encoder "
            f"makes {embedder.dim}: run `rolebot build`"
        )
    return embedder

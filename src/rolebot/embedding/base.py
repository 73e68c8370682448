"""What every encoder backend offers. Code outside this package sees only Embedder."""

from __future__ import annotations

import hashlib
import os
import shutil
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np


class Encoder(ABC):
    """Turns texts into unit-length float32 vectors, one row per text."""

    name: str  # rolebot's model name, as written in the manifest
    backend: str  # one of config.BACKENDS
    dim: int

    @property
    @abstractmethod
    def identity(self) -> str:
        """Model name, backend and a hash of the weights: vectors from two encoders with the
        same identity are interchangeable, so cached vectors are keyed by it."""

    @abstractmethod
    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray: ...

    @abstractmethod
    def vocabulary(self) -> dict[str, int]:
        """The tokenizer's word pieces (the speller treats whole words among them as known)."""


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype="float32")


def link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)  # builds are immutable once renamed, so sharing the inode is safe
    except OSError:
        shutil.copyfile(src, dst)

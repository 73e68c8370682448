"""Serving without torch: the exported encoder on onnxruntime, tokenised by `tokenizers`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import config
from ..errors import EncoderMismatchError
from .base import Encoder, file_sha256, normalize_rows

TOKENIZER_FILE = "tokenizer.json"  # same names as export.py, which needs torch to import


class OnnxEncoder(Encoder):
    def __init__(self, name: str, backend: str, folder: Path, record: dict, threads: int | None = None):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.name, self.backend = name, backend
        self.dim = int(record["dimension"])
        model_file = folder / record["backends"][backend]
        for path in (model_file, folder / TOKENIZER_FILE):
            expected = record["files"].get(path.name)
            if not path.is_file() or file_sha256(path) != expected:
                raise EncoderMismatchError(
                    f"{path.name} in {folder.name} is missing or differs from the manifest: run `rolebot build`"
                )
        self._sha256 = record["files"][model_file.name]

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or config.onnx_threads()
        options.inter_op_num_threads = 1
        # Worker threads spin while a call runs (each parallel section of the model would
        # otherwise wake a sleeping thread) and stop spinning the moment it returns, so they take
        # no core from the web server between questions. Measured on 2 cores, one query: 2.8 ms
        # against 3.4 ms with no spinning at all, for the same CPU time; served, a lone /api/ask
        # 6.2 vs 6.8-8.2 ms p50, and 50 users' answers/s the same (287-307 for all three settings).
        # Spinning left on after a call took ~2 ms more CPU per query when other work followed it.
        options.add_session_config_entry("session.intra_op.allow_spinning", "1")
        options.add_session_config_entry("session.force_spinning_stop", "1")
        options.log_severity_level = 3  # errors only: the library does not write to stderr
        self.session = ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self.session.get_inputs()}

        self.tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        # The saved tokenizer may pad every input to a fixed length; pad to each batch's longest instead.
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=int(record["max_length"]))

    @property
    def identity(self) -> str:
        return f"{self.name}|{self.backend}|{self._sha256[:16]}"

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype="float32")
        return np.concatenate([self._encode(list(texts[i : i + batch_size])) for i in range(0, len(texts), batch_size)])

    def _encode(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(texts), width), dtype="int64")
        types = np.zeros_like(ids)
        mask = np.zeros_like(ids)
        for row, e in enumerate(encodings):
            n = len(e.ids)
            ids[row, :n], types[row, :n], mask[row, :n] = e.ids, e.type_ids, 1
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        hidden = self.session.run(None, {k: v for k, v in feed.items() if k in self._inputs})[0]
        # Mean over real tokens only, as sentence-transformers' Pooling does.
        weights = mask[..., None].astype("float32")
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return normalize_rows(pooled)

    def vocabulary(self) -> dict[str, int]:
        return self.tokenizer.get_vocab()

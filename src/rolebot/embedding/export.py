"""Build time only: write the torch encoder as ONNX (fp32 and dynamic int8) plus its tokenizer.

The fp32 file computes in fp32 throughout, but stores its embedding lookup tables in fp16 and
casts each looked-up row back to fp32 (`_tables_to_fp16`): the word table is half of MiniLM's
weights, so this is ~23 MB less resident for a cosine to the all-fp32 export of ≥ 0.9999999
(measured on the 413 dev questions; every dev figure identical) at the same speed.

torch.onnx's TorchScript exporter and onnxruntime's quantize_dynamic do the work: optimum would
pin transformers<4.58, which sentence-transformers 6 cannot use.
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path

from ..errors import ModelError
from .base import file_sha256, link_or_copy
from .torch import TorchEncoder

FP32_FILE = "encoder.onnx"
INT8_FILE = "encoder-int8.onnx"
TOKENIZER_FILE = "tokenizer.json"
RECORD_FILE = "encoder.json"
FILES = {"onnx": FP32_FILE, "onnx-int8": INT8_FILE}
OPSET = 17
QUANTISATION = (
    "onnxruntime quantize_dynamic: int8 weights per output channel, "
    "uint8 activations with the scale picked per batch"
)
FP16_TABLES = "fp32 arithmetic; embedding lookup tables of 100,000+ values stored as fp16, cast to fp32 after lookup"
FP16_MIN_VALUES = 100_000  # the word and position tables; the tiny token-type table stays fp32


def export(encoder: TorchEncoder, dst: Path, reuse: list[Path] = ()) -> dict:
    """Write the ONNX files into dst and return their record (also saved as encoder.json).

    A folder in ``reuse`` holding an export of the same weights by the same exporter is linked
    instead: exporting and quantising take several seconds, and most rebuilds keep the model."""
    record = _describe(encoder)
    for folder in reuse:
        old = _matching_export(Path(folder), record)
        if old is not None:
            for name in old["files"]:
                link_or_copy(Path(folder) / name, dst / name)
            break
    else:
        _export(encoder, dst, record)
        old = None
    record = (old or record) | {"files": {n: file_sha256(dst / n) for n in (FP32_FILE, INT8_FILE, TOKENIZER_FILE)}}
    (dst / RECORD_FILE).write_text(json.dumps(record, indent=2))
    return record


def _describe(encoder: TorchEncoder) -> dict:
    import onnxruntime
    import torch

    modules = [type(m).__name__ for m in encoder.model]
    pooling = None
    if len(modules) > 1:  # sentence-transformers 6 names the mode; 5 had one flag per mode
        pool = encoder.model[1]
        pooling = getattr(pool, "pooling_mode", None) or ("mean" if getattr(pool, "pooling_mode_mean_tokens", False) else None)
    if modules[:2] != ["Transformer", "Pooling"] or pooling != "mean" or modules[2:] not in ([], ["Normalize"]):
        raise ModelError(
            f"model {encoder.name!r} ({' → '.join(modules)}) is not transformer + mean pooling, "
            "the only shape the ONNX backends compute: serve it with --backend torch"
        )
    tokenizer = encoder.model.tokenizer
    if not getattr(tokenizer, "is_fast", False):
        raise ModelError(f"model {encoder.name!r} has no fast tokenizer for the ONNX backends: use --backend torch")
    return {
        "model": encoder.name,
        "weights_sha256": encoder.weights_sha256,
        "dimension": encoder.dim,
        "max_length": int(encoder.model.max_seq_length),
        "inputs": list(tokenizer.model_input_names),
        "opset": OPSET,
        "exporter": f"torch.onnx TorchScript exporter, torch {torch.__version__}",
        "quantisation": {INT8_FILE: QUANTISATION + f", onnxruntime {onnxruntime.__version__}", FP32_FILE: FP16_TABLES},
        "backends": FILES,
    }


def _matching_export(folder: Path, record: dict) -> dict | None:
    try:
        old = json.loads((folder / RECORD_FILE).read_text())
        same = all(old.get(k) == v for k, v in record.items())
        if same and all(file_sha256(folder / n) == sha for n, sha in old["files"].items()):
            return old
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


class _DropQuantizerAdvice(logging.Filter):
    # quantize_dynamic logs "consider pre-processing" on the root logger, which the CLI prints.
    def filter(self, record: logging.LogRecord) -> bool:
        return "onnxruntime" not in record.pathname


def _export(encoder: TorchEncoder, dst: Path, record: dict) -> None:
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = encoder.model[0].auto_model
    names = record["inputs"]

    class Hidden(torch.nn.Module):
        # Positional inputs for the tracer; pooling stays outside the graph (done in numpy).
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, *inputs):
            return self.model(**dict(zip(names, inputs))).last_hidden_state

    # Two texts of different lengths, so the traced graph always applies the padding mask.
    sample = encoder.model.tokenizer(["a short one", "a somewhat longer second text"], padding=True, return_tensors="pt")
    previous = model.config._attn_implementation
    # Eager attention traces to plain ops; the SDPA path branches on shapes while tracing.
    model.set_attn_implementation("eager")
    root = logging.getLogger()
    quiet = _DropQuantizerAdvice()
    root.addFilter(quiet)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # TracerWarnings and the exporter's deprecation notice
            torch.onnx.export(
                Hidden().eval(),
                tuple(sample[n] for n in names),
                str(dst / FP32_FILE),
                input_names=names,
                output_names=["last_hidden_state"],
                dynamic_axes={n: {0: "batch", 1: "tokens"} for n in names + ["last_hidden_state"]},
                opset_version=OPSET,
                dynamo=False,
            )
            quantize_dynamic(str(dst / FP32_FILE), str(dst / INT8_FILE), weight_type=QuantType.QInt8, per_channel=True)
            _tables_to_fp16(dst / FP32_FILE)  # after quantising, which reads the fp32 tables
    except Exception as exc:
        raise ModelError(f"could not export model {encoder.name!r} to ONNX ({type(exc).__name__}: {exc})") from exc
    finally:
        root.removeFilter(quiet)
        model.set_attn_implementation(previous)
    encoder.model.tokenizer.backend_tokenizer.save(str(dst / TOKENIZER_FILE))


def _tables_to_fp16(path: Path) -> None:
    """Store the model's large Gather tables as fp16, each lookup cast back to fp32. A Cast of an
    initializer would be folded back to fp32 when the session loads; a Cast of the looked-up
    rows cannot be, so the table stays half size in memory."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(path))
    tables = {t.name: t for t in model.graph.initializer if t.data_type == TensorProto.FLOAT}
    nodes = []
    for node in model.graph.node:
        nodes.append(node)
        table = tables.get(node.input[0]) if node.op_type == "Gather" else None
        if table is None or np.prod(table.dims) < FP16_MIN_VALUES:
            continue
        table.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(table).astype(np.float16), table.name))
        rows = node.output[0]
        node.output[0] = f"{rows}/fp16"
        nodes.append(helper.make_node("Cast", [node.output[0]], [rows], to=TensorProto.FLOAT, name=f"{node.name}/to_fp32"))
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))

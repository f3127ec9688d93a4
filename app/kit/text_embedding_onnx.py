"""The text embedder's weights run by ONNX Runtime instead of PyTorch eager.

Why: a prompt is one short sequence, and PyTorch spends most of a forward pass in skinny matrix
products and per-op dispatch; ONNX Runtime's fused graph of the very same weights computes the same
vectors (max difference ~1e-7) in about 40% of the CPU time (bench/text_embedder.py). It is the
largest single cost of `POST /generations`.

The graph is exported from the loaded PyTorch model (so it is always the weights that were checked)
once per weights file into GL_MODEL_CACHE_DIR, written to a temporary name and renamed, so processes
starting together never read half a file. Every load checks the graph against the PyTorch model on
probe texts; a graph that disagrees (a stale or damaged file) is exported again. A cache folder that
cannot be written leaves the embedder on PyTorch, with a warning, never a different answer.
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

#: Bumped when the exported graph changes (inputs, pooling, opset): older files are then not used.
GRAPH_VERSION = "1"
OPSET = 17
TOLERANCE = 1e-4


class OnnxUnavailable(RuntimeError):
    """The graph could not be exported, written or loaded; the embedder stays on PyTorch."""


def graph_path(cache_dir: Path, weights_sha256: str, pooling: str) -> Path:
    import torch
    return cache_dir / f"text-embedder-{weights_sha256[:16]}-{pooling}-g{GRAPH_VERSION}-torch{torch.__version__}.onnx"


def pooled_vectors(hidden, mask, pooling: str):
    """Sentence vectors from the model's last hidden state: the CLS token's or the mask-weighted
    mean, unit-normalised. The PyTorch path and the exported graph share it, so both pool alike."""
    import torch
    if pooling == "cls":
        pooled = hidden[:, 0]
    else:
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, dim=1)


def _pooled_model(model, pooling: str):
    """The model with its pooling, so the graph returns the final vectors."""
    import torch

    class Pooled(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            hidden = self.model(input_ids=input_ids, attention_mask=attention_mask,
                                token_type_ids=torch.zeros_like(input_ids)).last_hidden_state
            return pooled_vectors(hidden, attention_mask, pooling)

    return Pooled().eval()


def _export(model, pooling: str, target: Path) -> None:
    import torch
    target.parent.mkdir(parents=True, exist_ok=True)
    ids = torch.ones((2, 8), dtype=torch.long)
    fd, tmp = tempfile.mkstemp(prefix=target.name + ".", suffix=".part", dir=target.parent)
    os.close(fd)
    try:
        with warnings.catch_warnings():  # the tracer's notes about Python control flow in transformers
            warnings.simplefilter("ignore")
            torch.onnx.export(_pooled_model(model, pooling), (ids, torch.ones_like(ids)), tmp,
                              input_names=["input_ids", "attention_mask"], output_names=["embedding"],
                              dynamic_axes={"input_ids": {0: "batch", 1: "tokens"},
                                            "attention_mask": {0: "batch", 1: "tokens"},
                                            "embedding": {0: "batch"}},
                              opset_version=OPSET, dynamo=False)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _session(path: Path):
    import onnxruntime as ort
    options = ort.SessionOptions()
    # One thread per call, as the PyTorch path: concurrent requests use the other core.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class OnnxTextModel:
    """Runs (ids, mask) int64 arrays to unit-length float32 vectors. Thread-safe (ONNX Runtime's
    `run` is), and it releases the GIL while it computes."""

    def __init__(self, session, path: Path):
        self._session, self.path = session, path

    def __call__(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        out = self._session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        return np.asarray(out, dtype=np.float32)


Inputs = tuple[np.ndarray, np.ndarray]  # (input ids, attention mask), int64, batch x tokens


def load(model, pooling: str, weights_sha256: str, cache_dir: Path, probes: list[Inputs],
         reference: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> OnnxTextModel:
    """The graph of `model` from `cache_dir`, exported there first when missing or when it disagrees
    with `reference` (the PyTorch path) on the `probes`."""
    path = graph_path(cache_dir, weights_sha256, pooling)
    expected = [reference(ids, mask) for ids, mask in probes]
    for attempt in ("cached", "exported"):
        try:
            if attempt == "exported" or not path.is_file():
                log.info("exporting the text embedder to ONNX at %s (once per weights file)", path)
                _export(model, pooling, path)
            onnx_model = OnnxTextModel(_session(path), path)
            got = [onnx_model(ids, mask) for ids, mask in probes]
        except Exception as exc:  # torch.onnx, onnxruntime and the filesystem raise many types
            if attempt == "exported":
                raise OnnxUnavailable(f"cannot run the text embedder with ONNX Runtime from {path}: {exc}") from exc
            continue
        if all(g.shape == e.shape and float(np.abs(g - e).max()) <= TOLERANCE for g, e in zip(got, expected)):
            return onnx_model
        log.warning("the ONNX graph at %s disagrees with its weights; exporting it again", path)
    raise OnnxUnavailable(f"the ONNX graph exported to {path} disagrees with the PyTorch model")

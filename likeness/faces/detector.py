"""YuNet face detection (OpenCV Zoo, MIT) through OpenCV's own `FaceDetectorYN` post-processing."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

# Larger photos are shrunk before detection: YuNet's cost grows with pixels, and a face that
# matters for likeness is far bigger than YuNet's ~10 px floor at this size.
MAX_DETECT_SIDE = 1280
# YuNet caps candidates before NMS; a crowd photo has far fewer faces than this.
TOP_K = 5000


@dataclass(frozen=True, eq=False)  # eq=False: ndarray fields make value equality ambiguous
class DetectedFace:
    """One face in image pixels.

    box: (x, y, w, h). landmarks: (5, 2) float32, YuNet order: right eye, left eye, nose tip,
    right mouth corner, left mouth corner, where "right" is the subject's right = image left.
    """

    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray

    @property
    def area(self) -> float:
        return self.box[2] * self.box[3]


def as_bgr(image: np.ndarray) -> np.ndarray:
    """A uint8 3-channel BGR view of a gray, BGR or BGRA image."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise ValueError("expected a uint8 numpy image")
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    raise ValueError(f"unsupported image shape {image.shape}")


class FaceDetector:
    name = "yunet"

    def __init__(self, path: Path, score_threshold: float = 0.7, nms: float = 0.3):
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(str(self.path))
        self.score_threshold = score_threshold
        self.nms = nms
        # OpenCV DNN objects are not thread-safe and detect() resizes the input: one per thread.
        self._local = threading.local()
        self._instance()  # fail now, at load, on a file that is not a YuNet model

    def _instance(self) -> cv2.FaceDetectorYN:
        detector = getattr(self._local, "detector", None)
        if detector is None:
            detector = cv2.FaceDetectorYN.create(
                str(self.path), "", (320, 320), self.score_threshold, self.nms, TOP_K
            )
            self._local.detector = detector
        return detector

    def detect(self, image_bgr: np.ndarray) -> list[DetectedFace]:
        """Faces sorted by box area, largest first."""
        image = as_bgr(image_bgr)
        height, width = image.shape[:2]
        if min(height, width) < 2:
            return []
        scale = min(1.0, MAX_DETECT_SIDE / max(height, width))
        work = image if scale == 1.0 else cv2.resize(
            image, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA
        )
        detector = self._instance()
        detector.setInputSize((work.shape[1], work.shape[0]))
        _, rows = detector.detect(work)
        faces = [_face_from_row(row, scale) for row in (rows if rows is not None else [])]
        faces = [f for f in faces if f.box[2] > 1 and f.box[3] > 1]
        return sorted(faces, key=lambda f: f.area, reverse=True)


def _face_from_row(row: np.ndarray, scale: float) -> DetectedFace:
    # YuNet row: x, y, w, h, 5 landmark (x, y) pairs, score.
    x, y, w, h = (float(v) / scale for v in row[:4])
    landmarks = (np.asarray(row[4:14], dtype=np.float32).reshape(5, 2) / np.float32(scale)).astype(np.float32)
    landmarks.setflags(write=False)
    return DetectedFace(box=(x, y, w, h), score=float(row[14]), landmarks=landmarks)

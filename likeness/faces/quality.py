"""Is this photo fit to enrol or match a face? One dominant face, big, sharp and roughly frontal.

Thresholds come from `bench/face_calibration.py` on real photos (figures in likeness/README.md).
"""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageOps

from likeness.faces.align import ARCFACE_TEMPLATE, align_face
from likeness.faces.detector import DetectedFace, as_bgr

# Cosine cut-off for the default SFace model: at or above = same person. Calibrated by
# bench/face_calibration.py on 10 identities x 10 variants: same person >= 0.456, different
# people <= 0.410 (both extremes from faces turned 40-65 degrees; faces that pass the pose gate:
# >= 0.509 vs <= 0.340). Cut in that gap. OpenCV's LFW-derived 0.363 gave FMR 1.4% here.
# Another model needs its own value (FaceModels.same_person_threshold).
SAME_PERSON_THRESHOLD: float = 0.43

# A second face at least this fraction of the largest face's area is another person in shot.
SECOND_FACE_AREA_RATIO = 0.4
# Calibrated defaults (bench/face_calibration.py, figures in likeness/README.md):
# - blur: every sharp variant of a face >= 64 px scores >= 0.86; Gaussian blur with sigma >= 3%
#   of the face width scores <= 0.43 and drops the cosine to the sharp photo to 0.59-0.74 mean.
# - yaw: passes three-quarter views (|yaw| <= 42), refuses near-profiles (47-72 measured).
# - pitch: calibration faces read -19..+15; the limit only stops faces seen from above/below.
DEFAULT_MIN_FACE_PX = 64
DEFAULT_MIN_BLUR = 0.55
DEFAULT_MAX_ABS_YAW = 45.0
DEFAULT_MAX_ABS_PITCH = 35.0

# Nose-tip depth in front of the eye/mouth midline, in inter-ocular distances (generic adult
# head). Turns the nose's sideways/vertical offset into an angle: offset = depth * tan(angle).
_NOSE_DEPTH_IOD = 0.45
# Where YuNet puts the nose tip between eye line (0) and mouth line (1) on a level face: the
# mean over frontal calibration faces (0.56; the ArcFace template's 0.49 read them as ~10 deg
# chin-down).
_FRONTAL_NOSE_RATIO = 0.56
_TEMPLATE_EYE_MOUTH_IOD = float(
    (ARCFACE_TEMPLATE[3:, 1].mean() - ARCFACE_TEMPLATE[:2, 1].mean())
    / (ARCFACE_TEMPLATE[1, 0] - ARCFACE_TEMPLATE[0, 0])
)


class FaceQualityError(ValueError):
    """A photo refused for face work. code: no_face, multiple_faces, face_too_small,
    face_too_blurry, face_pose_extreme, not_an_image."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True, eq=False)
class QualityReport:
    face: DetectedFace
    size_px: float  # shorter side of the face box, inside the image
    blur: float  # sharpness of the aligned face, higher = sharper (see blur_score)
    yaw: float  # degrees-ish, see estimate_yaw
    pitch: float  # degrees-ish, see estimate_pitch


def _face_frame(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """Roll-free frame: (eye midpoint, mouth midpoint, unit eye axis toward image right,
    unit axis toward the chin, inter-ocular distance)."""
    points = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    eye_mid, mouth_mid = points[:2].mean(axis=0), points[3:].mean(axis=0)
    eye_axis = points[1] - points[0]
    iod = float(np.linalg.norm(eye_axis))
    if iod == 0.0:
        raise ValueError("degenerate landmarks: both eyes at one point")
    across = eye_axis / iod
    down = np.array([-across[1], across[0]])
    return eye_mid, mouth_mid, across, down, iod


def estimate_yaw(landmarks: np.ndarray) -> float:
    """Head yaw in degrees (approximate, from 5 landmarks; roll-invariant).

    Sign: positive when the subject turns to THEIR left, i.e. the nose tip moves toward the image
    right of the eye/mouth midline; negative when they turn to their right. Frontal ~ 0; a
    mirrored photo gives the opposite sign.
    """
    eye_mid, mouth_mid, across, down, iod = _face_frame(landmarks)
    nose = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)[2]
    height = float((mouth_mid - eye_mid) @ down)
    t = float((nose - eye_mid) @ down) / height if height > 0 else 0.5
    midline = eye_mid + t * (mouth_mid - eye_mid)
    offset = float((nose - midline) @ across) / iod
    return math.degrees(math.atan2(offset, _NOSE_DEPTH_IOD))


def estimate_pitch(landmarks: np.ndarray) -> float:
    """Head pitch in degrees (approximate, roll-invariant). Positive = chin up (the nose tip rises
    toward the eyes), negative = chin down; 0 where YuNet puts the nose on level faces."""
    eye_mid, mouth_mid, _, down, iod = _face_frame(landmarks)
    nose = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)[2]
    height = float((mouth_mid - eye_mid) @ down)
    if height <= 0:
        return 90.0  # mouth at or above the eyes: no sane frontal pose
    ratio = float((nose - eye_mid) @ down) / height
    depth_over_height = _NOSE_DEPTH_IOD / _TEMPLATE_EYE_MOUTH_IOD
    return math.degrees(math.atan2(_FRONTAL_NOSE_RATIO - ratio, depth_over_height))


def blur_score(image_bgr: np.ndarray, face: DetectedFace) -> float:
    """Sharpness of the aligned 112x112 face: std of its Laplacian over std of its intensities.

    Alignment fixes the scale; dividing by contrast keeps dark or washed-out but sharp faces
    from reading as blurred.
    """
    gray = cv2.cvtColor(align_face(as_bgr(image_bgr), face.landmarks), cv2.COLOR_BGR2GRAY)
    inner = gray[16:104, 16:96].astype(np.float64)  # the face, not the black warp border
    contrast = float(inner.std())
    if contrast < 1e-6:
        return 0.0
    return float(cv2.Laplacian(inner, cv2.CV_64F, ksize=3).std()) / contrast


def _clipped_area(face: DetectedFace, image_shape: tuple[int, ...]) -> float:
    height, width = image_shape[:2]
    x, y, w, h = face.box
    cw = max(0.0, min(x + w, width) - max(x, 0.0))
    ch = max(0.0, min(y + h, height) - max(y, 0.0))
    return cw * ch


def dominant_face(faces: list[DetectedFace], image_shape: tuple[int, ...]) -> DetectedFace:
    """The one face the photo is about (largest visible area); refuses none or several people."""
    if not faces:
        raise FaceQualityError("no_face", "no face was found in the image")
    ordered = sorted(faces, key=lambda f: _clipped_area(f, image_shape), reverse=True)
    largest = _clipped_area(ordered[0], image_shape)
    if largest <= 0:
        raise FaceQualityError("no_face", "no face lies inside the image")
    others = [f for f in ordered[1:] if _clipped_area(f, image_shape) >= SECOND_FACE_AREA_RATIO * largest]
    if others:
        raise FaceQualityError("multiple_faces", f"{1 + len(others)} faces of similar size: use a photo of one person")
    return ordered[0]


def check_quality(
    image_bgr: np.ndarray,
    faces: list[DetectedFace],
    *,
    min_face_px: float = DEFAULT_MIN_FACE_PX,
    min_blur: float = DEFAULT_MIN_BLUR,
    max_abs_yaw: float = DEFAULT_MAX_ABS_YAW,
    max_abs_pitch: float = DEFAULT_MAX_ABS_PITCH,
) -> QualityReport:
    """Report on the dominant face, or FaceQualityError. Order: count, size, pose, blur
    (a small or turned face is the clearer message to give a user than "blurry")."""
    face = dominant_face(faces, image_bgr.shape)
    x, y, w, h = face.box
    height, width = image_bgr.shape[:2]
    size_px = min(min(x + w, width) - max(x, 0.0), min(y + h, height) - max(y, 0.0))
    if size_px < min_face_px:
        raise FaceQualityError("face_too_small", f"the face is {size_px:.0f} px; at least {min_face_px:.0f} px needed")
    yaw, pitch = estimate_yaw(face.landmarks), estimate_pitch(face.landmarks)
    if abs(yaw) > max_abs_yaw or abs(pitch) > max_abs_pitch:
        raise FaceQualityError("face_pose_extreme",
                               f"the face is turned too far (yaw {yaw:.0f}°, pitch {pitch:.0f}°): face the camera")
    blur = blur_score(image_bgr, face)
    if blur < min_blur:
        raise FaceQualityError("face_too_blurry", f"the face is too blurry (sharpness {blur:.2f} < {min_blur:.2f})")
    return QualityReport(face=face, size_px=float(size_px), blur=blur, yaw=yaw, pitch=pitch)


def decode_image(data: bytes, max_pixels: int = 40_000_000) -> np.ndarray:
    """Encoded image bytes -> BGR uint8 (EXIF orientation applied, first frame of animations).

    The size is read from the header before any pixel is decoded, so a decompression bomb costs
    nothing.
    """
    if not data:
        raise FaceQualityError("not_an_image", "empty upload")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > max_pixels:
                raise FaceQualityError("not_an_image", f"{width}x{height} is over {max_pixels} pixels")
            image = ImageOps.exif_transpose(image).convert("RGB")
    except FaceQualityError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise FaceQualityError("not_an_image", f"not a readable image ({type(exc).__name__})") from exc
    return cv2.cvtColor(np.asarray(image), cv2.COLOR_RGB2BGR)

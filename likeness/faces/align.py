"""5-point face alignment to the 112x112 ArcFace template (also what SFace was trained on).

The transform is a least-squares similarity (rotation, uniform scale, translation: Umeyama),
the same estimate OpenCV's `FaceRecognizerSF.alignCrop` and insightface's `norm_crop` make.
`cv2.estimateAffinePartial2D` is not used: its robust estimators (RANSAC/LMEDS) may treat one of
the five landmarks as an outlier and return a visibly different crop (seen on grace_hopper.jpg).
"""

from __future__ import annotations

import cv2
import numpy as np

ALIGNED_SIZE = 112

# Right eye, left eye, nose tip, right mouth corner, left mouth corner (subject's right = image
# left), in pixels of a 112x112 crop: the insightface ArcFace template, identical to OpenCV's.
ARCFACE_TEMPLATE = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float64,
)


def similarity_matrix(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """2x3 matrix of the least-squares similarity transform taking `src` points onto `dst`."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    cov = dst_c.T @ src_c / len(src)
    u, s, vt = np.linalg.svd(cov)
    # Reflection guard: a similarity never mirrors the face.
    d = np.array([1.0, -1.0 if np.linalg.det(cov) < 0 else 1.0])
    rotation = u @ np.diag(d) @ vt
    src_var = (src_c**2).sum() / len(src)
    scale = float((s * d).sum() / src_var) if src_var > 0 else 1.0
    matrix = np.zeros((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = dst_mean - scale * rotation @ src_mean
    return matrix


def align_face(image_bgr: np.ndarray, landmarks: np.ndarray, size: int = ALIGNED_SIZE) -> np.ndarray:
    """The face warped onto the template: a `size` x `size` BGR crop (uint8)."""
    template = ARCFACE_TEMPLATE * (size / ALIGNED_SIZE)
    matrix = similarity_matrix(np.asarray(landmarks, dtype=np.float64).reshape(5, 2), template)
    return cv2.warpAffine(image_bgr, matrix, (size, size), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))

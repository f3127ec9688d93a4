"""Face-independent video checks for liveness on sampled frames (``app.kit.media.sample_frames``):

* still: a photo held to the camera, or a video made of one image, changes almost nothing from
  frame to frame (``mean_abs_diff`` in grey levels on a small thumbnail, below ``STILL_MAD``);
* loop: a short clip played over and over repeats the same frames; each frame gets a tiny
  perceptual signature (a 16x16 grey thumbnail), and the smallest lag at which the signatures
  repeat for nearly the whole clip while frames in between differ is the loop period.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np


@dataclass(frozen=True)
class MotionReport:
    frames: int
    mean_abs_diff: float
    is_still: bool
    loop_period: int | None


#: A clip is still when consecutive frames differ by less than STILL_MAD on average and no frame
#: strays more than STILL_SPREAD from the clip's median frame (mean grey levels, 64x64
#: thumbnails). The second test keeps a slow but real movement, sampled at a high frame rate,
#: from being called still.
STILL_MAD = 1.0
STILL_SPREAD = 3.0
THUMB_SIDE = 64
SIGNATURE_SIDE = 16
#: Two signatures "repeat" when they differ by at most max(LOOP_ABS_TOL, LOOP_REL_TOL x the
#: typical frame-to-frame change): re-encoding leaves well under one grey level at 16x16.
LOOP_ABS_TOL = 1.5
LOOP_REL_TOL = 0.2
#: A period needs this share of all frame pairs at that lag to repeat.
LOOP_MIN_SHARE = 0.9


def _grey(frame: np.ndarray, side: int) -> np.ndarray:
    img = np.asarray(frame)
    if img.dtype != np.uint8:
        raise ValueError("frames must be uint8 images")
    if img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if img.shape[2] == 3 else img[..., 0]
    return cv2.resize(img, (side, side), interpolation=cv2.INTER_AREA).astype(np.float32)


def loop_period(signatures: np.ndarray, motion: float) -> int | None:
    """The smallest lag ``p`` (2 <= p <= n/2) at which the signatures repeat, or None.

    ``signatures`` is (n, k); ``motion`` the typical consecutive-frame change of the signatures.
    At the period, nearly every pair (i, i+p) matches, the mean distance at that lag is a small
    fraction of the largest mean distance at shorter lags (frames inside one cycle differ), so a
    still or slowly drifting scene does not count as a loop.
    """
    n = len(signatures)
    if n < 4:
        return None
    tol = max(LOOP_ABS_TOL, LOOP_REL_TOL * motion)
    lag_means = [0.0]
    for p in range(1, n // 2 + 1):
        d = np.abs(signatures[p:] - signatures[:-p]).mean(axis=1)
        mean = float(d.mean())
        if (p >= 2 and float(np.mean(d <= tol)) >= LOOP_MIN_SHARE
                and mean <= LOOP_REL_TOL * max(lag_means[1:]) and max(lag_means[1:]) > tol):
            return p
        lag_means.append(mean)
    return None


def motion_report(frames: Sequence[np.ndarray]) -> MotionReport:
    """Stillness and loop period of a frame sequence (BGR or grey uint8 images, equally spaced)."""
    frames = list(frames)
    n = len(frames)
    if n < 2:
        return MotionReport(frames=n, mean_abs_diff=0.0, is_still=True, loop_period=None)
    thumbs = np.stack([_grey(f, THUMB_SIDE) for f in frames])
    diffs = np.abs(np.diff(thumbs, axis=0)).mean(axis=(1, 2))
    mad = float(diffs.mean())
    spread = float(np.abs(thumbs - np.median(thumbs, axis=0)).mean(axis=(1, 2)).max())
    still = mad < STILL_MAD and spread < STILL_SPREAD
    period = None
    if not still:
        sigs = np.stack([_grey(f, SIGNATURE_SIDE).reshape(-1) for f in frames])
        motion = float(np.median(np.abs(np.diff(sigs, axis=0)).mean(axis=1)))
        period = loop_period(sigs, motion)
    return MotionReport(frames=n, mean_abs_diff=round(mad, 4), is_still=still, loop_period=period)

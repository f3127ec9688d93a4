"""Is the face that turns a head, or a flat picture? (presentation-attack detection, 3-D consistency)

A flat surface seen by a camera moves, from one frame to another, by a single plane homography:
every point of a printed photo (or of a screen) turned, tilted or carried about the room lands where
one 3x3 matrix says. A head is not flat: as it turns, the nose moves across the cheeks and the
far cheek disappears behind it (parallax), and no homography takes the opening frame's face onto
the turned one. So: points on the opening frame's face are followed into every later frame
(Lucas-Kanade optical flow, checked forward and backward) after that frame is warped back onto the
opening one by the homography found so far, which is then corrected by a robust (RANSAC) fit to
the points. What the homography cannot explain, the median distance between where the points are
and where it puts them (a point lost counts as far), in eye distances, is the face's *depth
evidence*. A flat face keeps it near the tracking noise however far it turns; a head's grows with
the turn.

The median, not the mean: a print with the mouth cut out and a real mouth behind it moves a few
points (the mouth) off the plane; they are a minority and do not lift the median.

Limits: a rigid 3-D mask of the right shape, or a video replayed on a curved screen, is not flat
and is not caught here (replay.py and the lips check address other signs); with depth hardware a
phone would measure the depth itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

#: Depth evidence (median homography residual over the eye distance) below this at the frame the
#: head turned most is a flat surface. Learned from the bona fide stand-ins and the tilted prints
#: of bench/liveness_pad.py (tuned part); see docs/benchmarks.md for the rates.
FLAT_BELOW = 0.013
#: Too few points tracked to judge: the check says nothing (the other checks still run).
MIN_POINTS = 12
MAX_POINTS = 120
TURNED_SHARE = 0.7
#: The evidence when most points were lost after the warp: as far from flat as it gets.
LOST = 1.0


@dataclass(frozen=True)
class SurfaceReport:
    depth_evidence: float | None  # None: not enough points tracked, or the face never turned
    points: int                   # points tracked to the frame that decided
    frame: int | None             # index (into the frames given) of that frame

    @property
    def is_flat(self) -> bool:
        return self.depth_evidence is not None and self.depth_evidence < FLAT_BELOW


def _grey(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame


def _face_mask(shape: tuple[int, int], landmarks: np.ndarray, eye_distance: float) -> np.ndarray:
    """The face's inner ellipse (eyes to chin, cheek to cheek): no hair, no background."""
    lm = landmarks.reshape(5, 2)
    eyes, mouth = (lm[0] + lm[1]) / 2, (lm[3] + lm[4]) / 2
    centre = eyes + 0.5 * (mouth - eyes)
    mask = np.zeros(shape, np.uint8)
    cv2.ellipse(mask, (int(centre[0]), int(centre[1])), (int(0.95 * eye_distance), int(1.25 * eye_distance)),
                0, 0, 360, 255, -1)
    # Not the mouth: it moves on its own when a person speaks, and it is what a print with the mouth
    # cut out shows alive.
    width = float(np.linalg.norm(lm[4] - lm[3]))
    cv2.ellipse(mask, (int(mouth[0]), int(mouth[1] + 0.15 * width)), (int(0.85 * width), int(0.55 * width)),
                0, 0, 360, 0, -1)
    return mask


def _track(prev: np.ndarray, nxt: np.ndarray, points: np.ndarray, eye_distance: float) -> tuple[np.ndarray, np.ndarray]:
    params = dict(winSize=(21, 21), maxLevel=3, criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01))
    forward, ok1, _ = cv2.calcOpticalFlowPyrLK(prev, nxt, points, None, **params)
    back, ok2, _ = cv2.calcOpticalFlowPyrLK(nxt, prev, forward, None, **params)
    error = np.linalg.norm((back - points).reshape(-1, 2), axis=1)
    good = (ok1.reshape(-1) == 1) & (ok2.reshape(-1) == 1) & (error < max(0.5, 0.02 * eye_distance))
    return forward, good


def _smoothed(yaws: Sequence[float | None], half: int = 2) -> list[float | None]:
    """Each yaw as the median of its neighbours (five frames): a yaw read off five landmarks jumps
    by several degrees from frame to frame, and a single jump is not a turn."""
    out: list[float | None] = []
    for i, y in enumerate(yaws):
        near = [v for v in yaws[max(0, i - half):i + half + 1] if v is not None]
        out.append(float(np.median(near)) if y is not None and near else None)
    return out


def surface_report(frames: Sequence[np.ndarray], landmarks: Sequence[np.ndarray | None],
                   yaws: Sequence[float | None]) -> SurfaceReport:
    """`frames` (BGR, equally spaced), each one's 5 face landmarks (None: no face found) and yaw
    estimate (degrees). Decides at the frame whose yaw is furthest from the opening frame's."""
    usable = [i for i, lm in enumerate(landmarks) if lm is not None]
    if len(usable) < 2:
        return SurfaceReport(None, 0, None)
    start = usable[0]
    lm0 = np.asarray(landmarks[start], dtype=np.float64).reshape(5, 2)
    eye_distance = float(np.linalg.norm(lm0[1] - lm0[0]))
    if eye_distance < 8:
        return SurfaceReport(None, 0, None)
    grey0 = _grey(frames[start])
    found = cv2.goodFeaturesToTrack(grey0, MAX_POINTS, 0.01, max(3.0, 0.08 * eye_distance),
                                    mask=_face_mask(grey0.shape, lm0, eye_distance), blockSize=5)
    if found is None or len(found) < MIN_POINTS:
        return SurfaceReport(None, 0 if found is None else len(found), None)
    origin = found.astype(np.float32).reshape(-1, 2)
    yaws = _smoothed(yaws)
    opening = [y for y in yaws[start:start + 3] if y is not None]
    base_yaw = float(np.median(opening)) if opening else None
    # Each frame is warped back onto the opening one by the homography found so far and the points
    # are tracked from the opening frame into it: the motion left to track is small, and no error
    # piles up along a chain of frames. A plane's points land where they started; a head's drift
    # away by its parallax, or are lost.
    matrix = np.eye(3)
    measured: list[tuple[float, float, int, int]] = []  # (turn, evidence, points, frame)
    h, w = grey0.shape[:2]
    for i in range(start + 1, len(frames)):
        rectified = cv2.warpPerspective(_grey(frames[i]), matrix, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
        moved, good = _track(grey0, rectified, origin.reshape(-1, 1, 2), eye_distance)
        moved = moved.reshape(-1, 2)
        if good.sum() < MIN_POINTS:
            evidence, found_points = LOST, int(good.sum())
        else:
            correction, _ = cv2.findHomography(origin[good], moved[good], cv2.RANSAC, max(1.0, 0.03 * eye_distance))
            if correction is None:
                continue
            matrix = matrix @ correction
            distance = np.linalg.norm(
                moved - cv2.perspectiveTransform(origin.reshape(-1, 1, 2), correction).reshape(-1, 2), axis=1)
            # A point that cannot be found again moved off the plane: it counts as far off.
            distance[~good] = np.inf
            median = float(np.median(distance))
            evidence, found_points = (median / eye_distance if np.isfinite(median) else LOST), int(good.sum())
        if yaws[i] is None or base_yaw is None:
            continue
        measured.append((abs(float(yaws[i]) - float(base_yaw)), evidence, found_points, i))
        if evidence >= LOST:
            break  # the tracking is gone: later frames cannot be warped back
    if not measured:
        return SurfaceReport(None, 0, None)
    # Decided over the frames turned furthest (at least TURNED_SHARE of the largest turn), by their
    # median: a head shows its depth in all of them, a print only the noise of whatever moved on it
    # (a mouth behind a cut-out, a finger) in some.
    largest = max(turn for turn, *_ in measured)
    turned = [m for m in measured if m[0] >= TURNED_SHARE * largest]
    _, evidence, points, index = sorted(turned, key=lambda m: m[1])[(len(turned) - 1) // 2]
    return SurfaceReport(round(evidence, 5), points, index)

"""Face-independent video checks for liveness: frame sampling, stillness and loop detection.

* still: a photo held to the camera, or a video made of one image, changes almost nothing from
  frame to frame (``mean_abs_diff`` in grey levels on a small thumbnail, below ``STILL_MAD``);
* loop: a short clip played over and over repeats the same frames; each frame gets a tiny
  perceptual signature (a 16x16 grey thumbnail), and the smallest lag at which the signatures
  repeat for nearly the whole clip while frames in between differ is the loop period.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import av
import cv2
import numpy as np

from likeness.liveness.audio import (
    DURATION_SLACK_S, MediaDecodeError, MediaSource, check_container_duration, open_media,
)


def _fit(width: int, height: int, max_side: int) -> tuple[int, int]:
    scale = min(1.0, max_side / max(width, height))
    # even sizes keep swscale's chroma handling simple
    return max(2, int(round(width * scale / 2)) * 2), max(2, int(round(height * scale / 2)) * 2)


def sample_video_frames(path: MediaSource, per_second: float | None = 5.0, max_seconds: float = 30.0,
                        max_side: int = 480) -> list[tuple[float, np.ndarray]]:
    """Frames of the first video stream as ``(time_s, BGR uint8 array)``, about ``per_second`` a second.

    ``per_second=None`` (or 0) keeps every frame. Frames are scaled so their longer side is at most
    ``max_side`` and turned upright when the stream carries a rotation (phones record portrait
    video as rotated landscape). Raises ``MediaDecodeError``: ``media_unreadable``,
    ``media_no_video``, ``media_too_long`` (declared duration or a frame past ``max_seconds``).
    """
    step = 1.0 / per_second if per_second else 0.0
    frames: list[tuple[float, np.ndarray]] = []
    with open_media(path) as container:
        if not container.streams.video:
            raise MediaDecodeError("media_no_video", "the media has no video stream")
        check_container_duration(container, max_seconds)
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        rate = float(stream.average_rate or stream.guessed_rate or 30)
        # timestamps jitter by a tick of the container's time base (1 ms in WebM): allow a
        # quarter frame, so that per_second == fps keeps every frame and never picks early
        tolerance = min(step, 1.0 / rate) / 4
        next_t = None
        try:
            for index, frame in enumerate(container.decode(stream)):
                t = float(frame.time) if frame.time is not None else index / rate
                if t > max_seconds + DURATION_SLACK_S:
                    raise MediaDecodeError(
                        "media_too_long", f"video runs past the {max_seconds:g} s limit")
                if next_t is None:
                    next_t = t
                if t + tolerance < next_t:
                    continue
                while step and next_t <= t + tolerance:
                    next_t += step
                width, height = _fit(frame.width, frame.height, max_side)
                image = frame.to_ndarray(format="bgr24", width=width, height=height,
                                         interpolation="AREA")
                quarter_turns = int(round((frame.rotation or 0) / 90.0)) % 4
                if quarter_turns:  # rotation is counter-clockwise, as np.rot90 turns
                    image = np.ascontiguousarray(np.rot90(image, quarter_turns))
                frames.append((t, image))
        except MediaDecodeError:
            raise
        except (av.FFmpegError, ValueError, EOFError) as exc:
            raise MediaDecodeError("media_unreadable", f"video does not decode: {exc}") from exc
    if not frames:
        raise MediaDecodeError("media_no_video", "the video stream holds no frames")
    return frames


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

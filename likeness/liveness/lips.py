"""Do the lips speak the digits we hear? (presentation-attack detection, audio-visual sync)

Speech moves the mouth: it opens on each syllable and closes between words, a few tens of
milliseconds ahead of the sound. A photo held to the camera while someone off-camera reads the
digits has a mouth that never moves; a dubbed or replayed video has one that moves to other
words, or late. So, per frame: the face aligned to the 112x112 template (the same five-point
alignment as the face embedding), how open the mouth is (the share of the mouth box darker than
half the face's own brightness: the inside of an open mouth), and how loud the speech is at that
moment. Within the speech, the two must rise and fall together: their correlation at the best
lag, and that lag, decide.

Codes: `liveness_lips_not_speaking` (the mouth is still, or moves unlike the speech) and
`liveness_lips_out_of_sync` (it moves like the speech, but more than SYNC_TOLERANCE_S away).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

RATE = 16000
#: The mouth box and the cheek band of the 112x112 aligned face (the ArcFace template puts the
#: mouth corners at y 92, x 41 and 71).
MOUTH_BOX = (slice(82, 108), slice(34, 78))
SKIN_BAND = (slice(56, 80), slice(28, 84))
DARK_SHARE_OF_SKIN = 0.5
#: Mouth movement (std of the open share over the speech) below this is a still mouth.
MIN_MOVEMENT = 0.012
#: Correlation of mouth opening and loudness needed at a lag within SYNC_TOLERANCE_S.
MIN_CORRELATION = 0.6
SYNC_TOLERANCE_S = 0.12
MAX_LAG_S = 0.6
LOUDNESS_WINDOW_S = 0.08


@dataclass(frozen=True)
class LipsReport:
    frames: int              # frames inside the speech with a face
    movement: float          # std of the mouth's open share over those frames
    correlation: float       # best correlation of opening and loudness over the lags tried
    lag_s: float             # the lag of that best correlation (positive: the mouth leads the sound)
    in_sync: float           # the best correlation within SYNC_TOLERANCE_S
    reason: str | None       # None: the lips speak; else the code

    @property
    def ok(self) -> bool:
        return self.reason is None


def mouth_opening(aligned: np.ndarray) -> float:
    """Share of the mouth box darker than DARK_SHARE_OF_SKIN of the cheeks' median brightness."""
    grey = aligned.mean(axis=2) if aligned.ndim == 3 else aligned.astype(np.float32)
    skin = float(np.median(grey[SKIN_BAND]))
    return float(np.mean(grey[MOUTH_BOX] < DARK_SHARE_OF_SKIN * max(skin, 1.0)))


def loudness_at(pcm: np.ndarray, times: Sequence[float], window_s: float = LOUDNESS_WINDOW_S) -> np.ndarray:
    """RMS of 16 kHz `pcm` (int16 or float in -1..1) around each time."""
    x = pcm.astype(np.float32)
    if pcm.dtype == np.int16:
        x /= 32768.0
    half = int(window_s * RATE / 2)
    out = np.zeros(len(times), np.float32)
    for i, t in enumerate(times):
        centre = int(round(t * RATE))
        seg = x[max(0, centre - half):max(0, centre + half)]
        out[i] = float(np.sqrt(np.mean(seg * seg))) if len(seg) else 0.0
    return out


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 4 or a.std() < 1e-9 or b.std() < 1e-9:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def lips_report(times: Sequence[float], openings: Sequence[float | None], pcm: np.ndarray,
                speech: tuple[float, float]) -> LipsReport:
    """`openings[i]`: the mouth's open share at `times[i]` (None: no face in that frame); `speech`:
    (start, end) of the speech in seconds. Lags are whole frames (the frames are equally spaced)."""
    t = np.asarray(times, dtype=np.float64)
    if len(t) < 2:
        return LipsReport(0, 0.0, 0.0, 0.0, 0.0, "liveness_lips_not_speaking")
    step = float(np.median(np.diff(t)))
    start, end = speech[0] - 0.15, speech[1] + 0.15
    inside = [i for i in range(len(t)) if start <= t[i] <= end and openings[i] is not None]
    if len(inside) < 6:
        return LipsReport(len(inside), 0.0, 0.0, 0.0, 0.0, "liveness_lips_not_speaking")
    opening = np.array([openings[i] if openings[i] is not None else np.nan for i in range(len(t))], dtype=np.float64)
    movement = float(np.nanstd(opening[inside]))
    loud = loudness_at(pcm, t).astype(np.float64)
    best, best_lag, in_sync = -1.0, 0.0, -1.0
    for lag in range(-int(MAX_LAG_S / step), int(MAX_LAG_S / step) + 1):
        # The mouth at frame i against the sound at frame i + lag (lag > 0: the mouth leads).
        pairs = [(opening[i], loud[i + lag]) for i in inside if 0 <= i + lag < len(t)]
        if len(pairs) < 6:
            continue
        a, b = np.array(pairs).T
        r = _correlation(a, b)
        if r > best:
            best, best_lag = r, lag * step
        if abs(lag * step) <= SYNC_TOLERANCE_S + 1e-9:
            in_sync = max(in_sync, r)
    reason = None
    if movement < MIN_MOVEMENT:
        reason = "liveness_lips_not_speaking"
    elif in_sync < MIN_CORRELATION:
        reason = "liveness_lips_out_of_sync" if best >= MIN_CORRELATION else "liveness_lips_not_speaking"
    return LipsReport(len(inside), round(movement, 4), round(best, 3), round(best_lag, 3), round(in_sync, 3), reason)

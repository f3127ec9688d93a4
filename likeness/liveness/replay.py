"""Is the face on a screen? (presentation-attack detection: replays on a display)

A video of the person played on a phone or monitor and filmed by the enrolling camera passes the
head turn, the digits, the lips and the 3-D check (the recorded head really turned). What gives it
away is the display itself. Two signs are measured, each on a few of the sampled frames (BGR, as
`app.kit.media.sample_frames` gives them) around the face the landmarks place:

- **screen_grid** -- a display's pixels are a grid: where the camera resolves them, or aliases
  them into moire, the face region's spectrum has sharp peaks away from the origin that a face's
  own texture never has. The power spectrum of the face (2x2 tiles under a Hann window, averaged
  over the tiles and GRID_FRAMES frames, so a face's texture, which differs from tile to tile,
  averages out while the grid, the same everywhere, stays) is compared bin by bin with the
  log-mean of its 7x7 neighbours; `grid_peak` is
  the strongest ratio at or above GRID_LOW cycles a pixel, `grid_share` the part of the face's
  high-frequency energy in such peaks (reported, not decided on).
- **screen_border** -- a display held in view has straight edges (its picture against the dark
  bezel, the bezel against the room) on all four sides of the face, unbroken across the face's
  width and height. A real head's neck and shoulders break any line below it, so a closed frame
  around a head is almost always a display (or a print held up). For each side, the best nearly straight line
  (within 8 degrees of the frame's axes) outside the face's box is looked for on the Canny edges
  (of that orientation), and its cover of the box's span measured; a frame shows a border when
  every side is covered SIDE_COVER or more, and the sign fires when BORDER_SHARE of the frames
  looked at show one (it stays put around the face while the face moves).

Measured rates (bench/liveness_replay.py; 96 clips of 3 s, 12 fps, each read back through
sample_frames and YuNet; thresholds set on the tuned part only). Bona fide: the 3-D head
stand-ins of tests/likeness/heads.py (skimage's astronaut, matplotlib's Grace Hopper) turned
either way, at several exposures and scales, H.264 MP4 and VP9 WebM. Replays: the same frames
through `heads.on_screen` (pixel pitch 2.5-4 camera pixels, lens blur 1.1-1.5 px, bezel and room
in view, glare, hand-held jitter), one display placement a video; "close": filmed so near that
no edge of the display shows. The held-out part has other yaws, exposures, scales, jitter and
displays (seeds) than the tuned part.

    part      presentation               clips  accepted (APCER)  rejected (BPCER)  grid  border
    tuned     replay, display in view       24       0 %                               24     24
    tuned     replay, close                  8       0 %                                8      0
    tuned     bona fide                     24                          0 %             0      0
    held-out  replay, display in view       16       0 %                                8     16
    held-out  replay, close                  8      50 % (4/8)                          4      0
    held-out  bona fide                     16                          0 %             0      0

grid_peak: bona fide 2.8-4.4 (tuned), 2.5-4.9 (held-out); replays in view 9.2-170 (tuned),
3.0-161 (held-out: one display's grid, at 1.4 px of blur on a 2.7 px pitch, left no peak); close
replays 96-140 (tuned), 4.8-15.9 (held-out: the four accepted are the H.264 files of a display
at 1.4 px of blur on a 3 px pitch, whose VP9 files were caught). border_share: 0 for every bona
fide video, 1.0 for every tuned replay in view, 0.67-1.0 held-out (glare hides an edge now and
then). The check takes 35-70 ms a 3 s video (36 frames; median of two runs on this 2-core machine,
150 ms at worst while it was busy).

What stays out of reach (measured and missed, or not measured): a display whose pixels are
finer than the camera resolves at 480 px (most phones and monitors at arm's length; at 1.1-1.5 px
of lens blur a 2.5-3 px grid is already attenuated to about 1 %, and H.264 removes the rest: the
close held-out replays missed above) filmed so close that no edge shows; a replay cropped or masked
to hide the bezel, or held so that a hand or the edge of the view breaks a side in most frames; a
curved or frameless display. Specular glare (on_screen draws a patch, but a detector of our own
drawing would measure nothing real), the flat lighting of a screen as the head turns and the
beat between the display's refresh and the camera's frame rate (flicker, rolling-shutter bands)
are not checked: the stand-ins cannot show them faithfully, so no rate could be measured. The
other way round, a face seen through an unbroken rectangle (nothing of the body crossing its
lower edge) would be refused; the bona fide set has none. Every rate here is on stand-ins, not
on recordings of people and displays (heads.py says what they lack). A rigid
3-D mask, or a replay on a display that fills the camera's view at a resolution the camera cannot
resolve, is only reliably stopped by depth hardware (a phone's structured-light or time-of-flight
sensor) or by a challenge the replayed recording cannot answer (the random digits and the lips
check do part of that: a replay must also have the digits spoken in sync).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

# -- screen_grid
#: Frames whose face spectra are averaged (the more, the lower a face's random peaks; cheap).
GRID_FRAMES = 10
#: The face is cut into TILES x TILES half-overlapping square tiles of TILE_SIZE eye distances
#: (TILE_MIN..TILE_MAX pixels). Larger tiles resolve a grid's peak better (its power over the
#: texture's grows with the tile's area), more tiles average a face's own texture away (a still
#: photo's face, one tile of 1.8 eye distances, peaked at 12-16; in 2x2 tiles at 5 at most).
#: Chosen on the tuned part and still photos, against 1x1, 3x3 and smaller tiles.
TILES = 2
TILE_SIZE = 1.4
TILE_MIN, TILE_MAX = 24, 128
#: Spectral peaks count from this frequency (cycles a pixel; 0.5 is the finest): a display's grid
#: 2.5-4 camera pixels apart sits at 0.25-0.4, its moire anywhere above a face's coarse shapes.
GRID_LOW = 0.12
#: A peak this many times its 7x7 neighbourhood's (log-mean) power is a display's grid. The tuned
#: bona fide videos reached 4.42 at most, the tuned replays 9.17 at least: set at their geometric
#: middle.
GRID_PEAK = 6.4

# -- screen_border
#: Frames in which the border is looked for.
BORDER_FRAMES = 6
#: The side of the frame (pixels) the border is looked for at: a display's edges are long and
#: straight, they need no detail.
BORDER_SIDE = 240
#: A side is there when one line covers this much of the face box's span. Tuned bona fide frames:
#: at most 0.52 on their weakest side (edges in the astronaut's background); replays with the
#: display in view: 1.0 in every frame.
SIDE_COVER = 0.8
#: The border sign fires when this share of the frames looked at show all four sides (tuned:
#: bona fide 0 %, replays in view 100 %; half allows an edge hidden now and then by glare or a
#: finger).
BORDER_SHARE = 0.5
#: Nearly straight: lines within 8 degrees of the frame's axes (a display held a little askew).
_SLOPES = np.tan(np.radians(np.arange(-8.0, 8.5, 1.0)))


@dataclass(frozen=True)
class ReplayReport:
    grid_peak: float | None      # strongest spectral peak over its surroundings; None: no face
    grid_share: float | None     # the part of the face's high-frequency energy in peaks over GRID_PEAK
    border_share: float | None   # share of the frames looked at with a display's edges around the face
    frames: int                  # frames with a face (up to GRID_FRAMES of them are looked at)
    signs: tuple[str, ...]       # the signs that fired: "screen_grid", "screen_border"
    suspected: bool


def _spread(usable: list[int], count: int) -> list[int]:
    if len(usable) <= count:
        return usable
    return [usable[int(round(k))] for k in np.linspace(0, len(usable) - 1, count)]


def _geometry(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    lm = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    eyes, mouth = (lm[0] + lm[1]) / 2, (lm[3] + lm[4]) / 2
    return lm, eyes, mouth, float(np.linalg.norm(lm[1] - lm[0]))


def _grey(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame


def face_spectrum(frames: Sequence[np.ndarray], landmarks: Sequence[np.ndarray], picks: list[int]) -> np.ndarray | None:
    """The mean power spectrum (origin in the middle) of the face, at the frame's own resolution
    (resampling would blur or alias the very grid looked for): the face's square (about 2 eye
    distances around the nose) cut into half-overlapping tiles of the same size in every frame
    (Welch's method), each under a Hann window, averaged over the tiles and the frames. A face's
    texture differs from tile to tile and averages out; a display's grid is the same in every
    tile and stays."""
    distance = float(np.median([_geometry(landmarks[i])[3] for i in picks]))
    n = int(np.clip(int(TILE_SIZE * distance) // 8 * 8, TILE_MIN, TILE_MAX))
    step = n // 2
    window = np.outer(np.hanning(n), np.hanning(n)).astype(np.float32)
    total, used = np.zeros((n, n), np.float64), 0
    for i in picks:
        _, eyes, mouth, _ = _geometry(landmarks[i])
        centre = eyes + 0.45 * (mouth - eyes)
        grey = _grey(frames[i])
        h, w = grey.shape[:2]
        side = n + (TILES - 1) * step
        if h < side or w < side:
            continue
        x0 = int(np.clip(round(centre[0] - side / 2), 0, w - side))
        y0 = int(np.clip(round(centre[1] - side / 2), 0, h - side))
        square = grey[y0:y0 + side, x0:x0 + side].astype(np.float32)
        for ty in range(TILES):
            for tx in range(TILES):
                tile = square[ty * step:ty * step + n, tx * step:tx * step + n]
                tile = (tile - tile.mean()) * window
                total += np.abs(np.fft.fftshift(np.fft.fft2(tile))) ** 2
                used += 1
    return total / used if used else None


def grid_peaks(power: np.ndarray) -> tuple[float, float]:
    """(the strongest peak over its surroundings, the part of the band's energy in peaks over
    GRID_PEAK) at or above GRID_LOW cycles a pixel."""
    n = power.shape[0]
    f = np.fft.fftshift(np.fft.fftfreq(n))
    fy, fx = np.meshgrid(f, f, indexing="ij")
    band = np.hypot(fx, fy) >= GRID_LOW
    logp = np.log(power + 1e-6).astype(np.float32)
    surroundings = cv2.blur(logp, (7, 7), borderType=cv2.BORDER_REFLECT)
    ratio = np.exp(logp - surroundings)
    peak = float(ratio[band].max())
    local_max = logp >= cv2.dilate(logp, np.ones((3, 3), np.uint8))
    peaks = (band & local_max & (ratio >= GRID_PEAK)).astype(np.uint8)
    # A peak's energy: its bin and the eight around it (the window spreads it), above the surroundings.
    around = (cv2.dilate(peaks, np.ones((3, 3), np.uint8)) > 0) & band
    excess = np.clip(power - np.exp(surroundings), 0, None)
    return peak, float(excess[around].sum() / max(power[band].sum(), 1e-12))


def _cover(edges: np.ndarray, offsets: range, span: tuple[float, float]) -> float:
    """The largest share of the columns in `span` one nearly horizontal line (a slope in _SLOPES)
    at a height in `offsets` finds on an edge pixel of `edges`."""
    a, b = int(max(0, span[0])), int(min(edges.shape[1] - 1, span[1]))
    if b - a < 4 or len(offsets) == 0:
        return 0.0
    xs = np.arange(a, b + 1)
    ys = np.rint(np.asarray(offsets)[:, None, None] + _SLOPES[None, :, None] * (xs - (a + b) / 2)[None, None, :])
    ys = ys.astype(np.int64)
    inside = (ys >= 0) & (ys < edges.shape[0])
    hit = np.zeros(ys.shape, bool)
    hit[inside] = edges[ys[inside], np.broadcast_to(xs, ys.shape)[inside]]
    return float(hit.mean(axis=2).max())


def border_cover(frame: np.ndarray, landmarks: np.ndarray) -> dict[str, float]:
    """How much of the face box's span the best straight line on each side covers (0..1)."""
    grey = _grey(frame)
    scale = min(1.0, BORDER_SIDE / max(grey.shape[:2]))
    if scale < 1:
        grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    h, w = grey.shape[:2]
    grey = cv2.GaussianBlur(grey, (3, 3), 0)
    edges = cv2.Canny(grey, 30, 90) > 0
    across = np.abs(cv2.Sobel(grey, cv2.CV_32F, 0, 1)) > np.abs(cv2.Sobel(grey, cv2.CV_32F, 1, 0))
    # An edge pixel counts for a line one pixel off it (a line at a slope is a staircase).
    rows = cv2.dilate((edges & across).astype(np.uint8), np.ones((3, 1), np.uint8)) > 0
    columns = (cv2.dilate((edges & ~across).astype(np.uint8), np.ones((1, 3), np.uint8)) > 0).T
    lm, _, _, distance = _geometry(landmarks)
    lm, distance = lm * scale, distance * scale
    left, right = lm[:, 0].min() - 0.9 * distance, lm[:, 0].max() + 0.9 * distance
    top, bottom = lm[:2, 1].min() - 1.4 * distance, lm[3:, 1].max() + 0.9 * distance
    m = 2  # not the frame's own edge
    return {
        "top": _cover(rows, range(m, int(top)), (left, right)),
        "bottom": _cover(rows, range(int(bottom) + 1, h - m), (left, right)),
        "left": _cover(columns, range(m, int(left)), (top, bottom)),
        "right": _cover(columns, range(int(right) + 1, w - m), (top, bottom)),
    }


def replay_report(frames: Sequence[np.ndarray], landmarks: Sequence[np.ndarray | None]) -> ReplayReport:
    """`frames` (BGR uint8, equally spaced) and each one's 5 face landmarks (None: no face)."""
    usable = [i for i, lm in enumerate(landmarks) if lm is not None and _geometry(lm)[3] >= 4]
    if not usable:
        return ReplayReport(None, None, None, 0, (), False)
    power = face_spectrum(frames, landmarks, _spread(usable, GRID_FRAMES))
    peak, share = grid_peaks(power) if power is not None else (None, None)
    looked = _spread(usable, BORDER_FRAMES)
    framed = sum(min(border_cover(frames[i], landmarks[i]).values()) >= SIDE_COVER for i in looked)
    border = framed / len(looked)
    signs = tuple(name for name, fired in (("screen_grid", peak is not None and peak >= GRID_PEAK),
                                           ("screen_border", border >= BORDER_SHARE)) if fired)
    return ReplayReport(None if peak is None else round(peak, 2), None if share is None else round(share, 4),
                        round(border, 3), len(usable), signs, bool(signs))

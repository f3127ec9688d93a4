"""Object states read back out of frames of the synthetic domain (generator/dataset.py).

How a generated clip is judged without a human: find the objects by colour (they are the only
saturated pixels), count them, tell their shape from how much of their bounding box they fill,
track their centres and read the direction they move in. The same parser runs on the dataset's
own clips, where the ground truth is known, so its own accuracy is measured before it judges a
model (tests/generator/test_state_parser.py).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from generator.dataset import COLOURS

_PALETTE = np.array(list(COLOURS.values()), np.float32)
_NAMES = list(COLOURS)
MIN_SATURATION = 0.45
MIN_VALUE = 0.3
# A triangle (apex up) has about a third of its pixels above its box's middle row and two thirds
# below; a disc and a square are symmetric. Then fill of the box: a square fills it, a disc ~0.79.
TRIANGLE_TOP_SHARE = 0.7
CUBE_FILL = 0.86


@dataclass
class Blob:
    colour: str
    area: int
    fill: float
    top_share: float              # pixels in the top half of its box over those in the bottom half
    centre: tuple[float, float]   # (x, y) in pixels


@dataclass
class ParsedClip:
    colour: str | None
    shape: str | None
    count: int
    direction: str | None        # left, right, up, down, or None when nothing moves
    track: np.ndarray            # (T, 2) the objects' mean centre per frame; NaN where none seen
    tracks: np.ndarray           # (T, count, 2) each object's centre, followed frame to frame; NaN where lost
    blobs: list[list[Blob]]      # per frame


def object_mask(frame: np.ndarray) -> np.ndarray:
    rgb = frame.astype(np.float32) / 255.0
    high, low = rgb.max(axis=2), rgb.min(axis=2)
    saturation = np.where(high > 0, (high - low) / np.maximum(high, 1e-6), 0.0)
    return (saturation >= MIN_SATURATION) & (high >= MIN_VALUE)


def nearest_colour(pixels: np.ndarray) -> np.ndarray:
    """Index into the palette of each (N, 3) pixel, by chromaticity (brightness ignored, so a
    shaded or anti-aliased pixel still reads as its hue)."""
    p = pixels.astype(np.float32)
    p = p / np.maximum(p.sum(axis=1, keepdims=True), 1.0)
    pal = _PALETTE / _PALETTE.sum(axis=1, keepdims=True)
    return np.argmin(((p[:, None, :] - pal[None, :, :]) ** 2).sum(axis=2), axis=1)


def blobs_in(frame: np.ndarray, min_area: int | None = None) -> list[Blob]:
    h, w = frame.shape[:2]
    min_area = min_area if min_area is not None else max(3, (h * w) // 400)
    mask = object_mask(frame)
    if not mask.any():
        return []
    labels_of = np.full(mask.shape, -1, np.int64)
    labels_of[mask] = nearest_colour(frame[mask])
    found = []
    for index, name in enumerate(_NAMES):
        components, n = ndimage.label(labels_of == index)
        for k in range(1, n + 1):
            ys, xs = np.nonzero(components == k)
            if len(xs) < min_area:
                continue
            box = (xs.max() - xs.min() + 1) * (ys.max() - ys.min() + 1)
            middle = (ys.min() + ys.max()) / 2
            top, bottom = int((ys < middle).sum()), int((ys > middle).sum())
            found.append(Blob(colour=name, area=len(xs), fill=len(xs) / box, top_share=top / max(bottom, 1),
                              centre=(float(xs.mean()), float(ys.mean()))))
    return found


def shape_of(fill: float, top_share: float) -> str:
    if top_share < TRIANGLE_TOP_SHARE:
        return "triangle"
    return "cube" if fill >= CUBE_FILL else "ball"


def direction_of(track: np.ndarray, min_move_px: float) -> str | None:
    """The way the objects first move: the dominant axis of the displacement over the first half
    of the clip (a bounce later reverses it)."""
    seen = track[~np.isnan(track).any(axis=1)]
    if len(seen) < 2:
        return None
    half = seen[: max(2, (len(seen) + 1) // 2)]
    dx, dy = half[-1] - half[0]
    if max(abs(dx), abs(dy)) < min_move_px:
        return None
    if abs(dx) >= abs(dy):
        return "right" if dx > 0 else "left"
    return "down" if dy > 0 else "up"


def parse(frames: np.ndarray) -> ParsedClip:
    per_frame = [blobs_in(f) for f in frames]
    areas: dict[str, int] = {}
    for blobs in per_frame:
        for b in blobs:
            areas[b.colour] = areas.get(b.colour, 0) + b.area
    if not areas:
        return ParsedClip(None, None, 0, None, np.full((len(frames), 2), np.nan),
                          np.full((len(frames), 0, 2), np.nan), per_frame)
    colour = max(areas, key=areas.get)
    mine = [[b for b in blobs if b.colour == colour] for blobs in per_frame]
    counts = [len(b) for b in mine]
    # objects touch or leave the frame now and then: the most common count is the count
    count = int(np.bincount(counts).argmax())
    # the largest blobs are the least eroded by anti-aliasing and edges
    largest = sorted((b for blobs in mine for b in blobs), key=lambda b: -b.area)
    largest = largest[: max(1, len(largest) // 2)]
    fill = float(np.median([b.fill for b in largest]))
    top_share = float(np.median([b.top_share for b in largest]))
    track = np.array([np.mean([b.centre for b in blobs], axis=0) if blobs else (np.nan, np.nan)
                      for blobs in mine], np.float32)
    size = frames.shape[2]
    return ParsedClip(colour=colour, shape=shape_of(fill, top_share), count=count,
                      direction=direction_of(track, min_move_px=size / 32), track=track,
                      tracks=follow(mine, count), blobs=per_frame)


def follow(per_frame: list[list[Blob]], count: int) -> np.ndarray:
    """Per-object tracks: each frame's blobs assigned to the objects of the previous frame where
    each was last seen, by the assignment of least total distance (a handful of objects: every
    permutation is tried). A frame where objects merge or leave leaves those objects NaN."""
    tracks = np.full((len(per_frame), count, 2), np.nan, np.float32)
    last: list[np.ndarray | None] = [None] * count
    for t, blobs in enumerate(per_frame):
        centres = [np.array(b.centre, np.float32) for b in sorted(blobs, key=lambda b: -b.area)[:count]]
        if not centres:
            continue
        if all(p is None for p in last):
            for k, c in enumerate(sorted(centres, key=lambda c: (c[0], c[1]))):
                tracks[t, k], last[k] = c, c
            continue
        best = _assignment(centres, last)
        for i, k in enumerate(best):
            tracks[t, k], last[k] = centres[i], centres[i]
    return tracks


def _assignment(centres: list[np.ndarray], last: list[np.ndarray | None]) -> tuple[int, ...]:
    """Which object each centre continues: the least total distance over every permutation for a
    handful of objects (the domain has up to three), nearest-first beyond (a model's sample can
    show many blobs)."""
    def distance(i: int, k: int) -> float:
        return float(np.hypot(*(centres[i] - last[k]))) if last[k] is not None else 1e3

    if len(last) <= 4:
        return min(itertools.permutations(range(len(last)), len(centres)),
                   key=lambda slots: sum(distance(i, k) for i, k in enumerate(slots)))
    free, slots = set(range(len(last))), []
    for i in range(len(centres)):
        k = min(free, key=lambda k: distance(i, k))
        slots.append(k)
        free.discard(k)
    return tuple(slots)

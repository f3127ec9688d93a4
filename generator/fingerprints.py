"""The platform's own bank of its outputs: PDQ hashes of every rendered video's frames, so a copy
found elsewhere (re-uploaded, re-encoded, resized, cropped, its visible mark covered) leads back
to the generation that made it.

PDQ alone survives re-encoding and resizing but not cropping (a 3 % crop moves it 42-58 bits,
app/kit/perceptual.py) nor a box over a flat frame's corner. So each frame is hashed as a few
views: whole, the centre 90 %, and with 10 % and 20 % cut from each side; a query is hashed the
same way and a stored frame's distance to a query frame is the least over both sets of views. A
copy cropped by about that much shares a view with its source; a covered corner (the visible
label's: 11 % of the height) falls outside the views that cut that side off.

A video's distance to a generation is the median over the query's frames of each frame's least
distance to any of that generation's frames: one look-alike frame (two renders of an empty
studio) does not make a match, most of the clip must.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from app.kit.perceptual import PDQ_BITS, pdq

FRAMES_PER_SECOND = 4.0  # a model clip holds each of its 8 frames 3/8 s: 4 a second sees them all
VIEWS = ("full", "centre90", "left90", "right90", "top90", "bottom90", "left80", "right80", "top80", "bottom80")
MATCH_DISTANCE = 31      # PDQ's customary same-image threshold, applied to the median frame
# PDQ reduces every image to 64 x 64: hashing a 384 px frame's six views costs 13 ms, the same views
# of the frame first area-averaged to 128 px 1 ms, 10 of 256 bits away (bank and query alike)
PRINT_SIDE = 128
_CHUNK = 4096  # stored hashes compared at once: 120 query views (3 s) x 4096 x 32 bytes is 16 MB
_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], np.uint8)


def views(image: np.ndarray) -> list[np.ndarray]:
    """The frame as VIEWS: whole, centre 90 %, and with 10 % and 20 % cut off each side in turn
    ("left90": 10 % off the left)."""
    h, w = image.shape[:2]
    a, b = round(h * 0.05), round(w * 0.05)
    out = [image, image[a:h - a, b:w - b]]
    for cut in (0.1, 0.2):
        c, d = round(h * cut), round(w * cut)
        out += [image[:, d:], image[:, :w - d], image[c:, :], image[:h - c, :]]
    return out


@dataclass(frozen=True)
class FramePrint:
    at_s: float
    view: str
    pdq: int
    quality: int

    def as_bytes(self) -> bytes:
        return self.pdq.to_bytes(PDQ_BITS // 8, "big")


def frame_prints(frames: Sequence[tuple[float, np.ndarray]]) -> list[FramePrint]:
    """Every view's PDQ hash of each (time, BGR frame)."""
    out = []
    for at_s, image in frames:
        scale = PRINT_SIDE / max(image.shape[:2])
        if scale < 1:
            image = cv2.resize(image, (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale))),
                               interpolation=cv2.INTER_AREA)
        for view, part in zip(VIEWS, views(image), strict=True):
            value, quality = pdq(np.ascontiguousarray(part))
            out.append(FramePrint(round(at_s, 3), view, value, quality))
    return out


def _packed(hashes: Sequence[bytes]) -> np.ndarray:
    return np.frombuffer(b"".join(hashes), np.uint8).reshape(len(hashes), PDQ_BITS // 8)


@dataclass(frozen=True)
class TraceMatch:
    generation_id: str
    distance: float          # median over the query's frames of their least distance to this generation
    frames_within: int       # query frames within MATCH_DISTANCE of one of its frames
    frames: int              # query frames compared


def rank(query: Sequence[FramePrint], stored: Sequence[tuple[str, float, bytes]],
         limit: int = 5) -> list[TraceMatch]:
    """The stored generations nearest to the query, nearest first. `stored` is (generation id,
    frame time, PDQ bytes) for every stored view; frames are told apart by their time."""
    if not query or not stored:
        return []
    times = sorted({p.at_s for p in query})
    q = _packed([p.as_bytes() for p in query])
    s = _packed([h for _, _, h in stored])
    q_frame = np.array([times.index(p.at_s) for p in query])
    per_frame = np.full((len(times), len(stored)), PDQ_BITS, np.int32)
    for lo in range(0, len(stored), _CHUNK):  # (query views x chunk x 32) bytes at a time
        bits = _POPCOUNT[q[:, None, :] ^ s[None, lo:lo + _CHUNK, :]].sum(axis=2, dtype=np.int32)
        np.minimum.at(per_frame[:, lo:lo + _CHUNK], q_frame, bits)  # least over the query frame's views
    generations = sorted({g for g, _, _ in stored})
    g_index = np.array([generations.index(g) for g, _, _ in stored])
    per_generation = np.full((len(times), len(generations)), PDQ_BITS, np.int32)
    np.minimum.at(per_generation.T, g_index, per_frame.T)  # least over the generation's views
    medians = np.median(per_generation, axis=0)
    order = np.argsort(medians, kind="stable")[:limit]
    return [TraceMatch(generations[k], float(medians[k]), int((per_generation[:, k] <= MATCH_DISTANCE).sum()),
                       len(times)) for k in order]

"""Perceptual image hashes shared by the domains (reference images of works, hash banks).

pHash (Zauner 2010, as in pHash.org and imagehash): grey 32x32, 2-D DCT, the 8x8 lowest
frequencies without the DC term compared with their median -> 64 bits. Near-duplicates (re-encoded,
resized, slightly brightened) stay within a few bits; different images differ in about half.
"""

from __future__ import annotations

import cv2
import numpy as np

BITS = 64


def phash(image_bgr: np.ndarray) -> int:
    """The 64-bit pHash of a BGR (or grey) uint8 image."""
    grey = image_bgr if image_bgr.ndim == 2 else cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY)
    small = cv2.resize(grey, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    low = cv2.dct(small)[:8, :8].flatten()[1:]  # drop DC: overall brightness is not content
    bits = low > np.median(low)
    return int("".join("1" if b else "0" for b in bits), 2)  # 63 bits used, top bit 0


def to_hex(value: int) -> str:
    return f"{value:016x}"


def from_hex(text: str) -> int:
    return int(text, 16)


def distance(a: int, b: int) -> int:
    """Hamming distance in bits."""
    return (a ^ b).bit_count()

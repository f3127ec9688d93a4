"""Perceptual image hashes shared by the domains (reference images of works, hash banks).

pHash as the imagehash library computes it (so signals exchanged with partners who use imagehash
compare): grey 32x32, 2-D DCT, the 8x8 lowest frequencies compared with their median -> 64 bits. PDQ (Meta's, as hasher-matcher-actioner and
ThreatExchange exchange it): 256 bits plus a quality 0-100. Measured on real photos
(tests/app/test_perceptual.py): near-duplicates (JPEG q40, half size, brighter) stay within
10 pHash / 18 PDQ bits and different photos >= 20 / >= 118 apart; a 3 % crop moves PDQ 42-58 bits
but pHash at most 10, so the two complement each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import imagehash
import numpy as np
import pdqhash
from PIL import Image

BITS = 64
PDQ_BITS = 256
#: PDQ's reference implementation calls hashes of flatter images than this unreliable.
PDQ_MIN_QUALITY = 50


def phash(image_bgr: np.ndarray) -> int:
    """The 64-bit pHash of a BGR (or grey) uint8 image; its hex is imagehash's `str(phash(...))`.
    (Hashes stored before 2026-11-23 had the top bit, the DC term, left 0: they differ in that bit.)"""
    if image_bgr.ndim == 2:
        picture = Image.fromarray(image_bgr)
    else:
        picture = Image.fromarray(np.ascontiguousarray(image_bgr[:, :, ::-1]))
    return int(str(imagehash.phash(picture)), 16)


def pdq(image_bgr: np.ndarray) -> tuple[int, int]:
    """(256-bit PDQ hash, quality 0-100) of a BGR (or grey) uint8 image."""
    rgb = (cv2.cvtColor(image_bgr, cv2.COLOR_GRAY2RGB) if image_bgr.ndim == 2
           else cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB))
    bits, quality = pdqhash.compute(np.ascontiguousarray(rgb))
    return int.from_bytes(np.packbits(bits.astype(np.uint8)).tobytes(), "big"), int(quality)


def to_hex(value: int, bits: int = BITS) -> str:
    """Fixed-width lower-case hex: 16 digits for pHash, 64 for PDQ (the ThreatExchange form)."""
    return f"{value:0{bits // 4}x}"


def from_hex(text: str) -> int:
    return int(text, 16)


def distance(a: int, b: int) -> int:
    """Hamming distance in bits."""
    return (a ^ b).bit_count()


@dataclass(frozen=True)
class Fingerprint:
    """Both hashes of one image, computed once for every matcher that looks at it."""

    phash: int
    pdq: int
    pdq_quality: int

    @property
    def pdq_usable(self) -> bool:
        return self.pdq_quality >= PDQ_MIN_QUALITY

    def pdq_bytes(self) -> np.ndarray:
        """The PDQ hash as 32 uint8, the layout FAISS binary indexes and numpy popcounts take."""
        return np.frombuffer(self.pdq.to_bytes(PDQ_BITS // 8, "big"), np.uint8)


def fingerprint(image_bgr: np.ndarray) -> Fingerprint:
    value, quality = pdq(image_bgr)
    return Fingerprint(phash(image_bgr), value, quality)

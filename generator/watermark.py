"""The invisible watermark: a 64-bit payload naming the generation, in every frame.

The DWT-DCT scheme of `invisible-watermark` (the library Stable Diffusion's reference scripts
mark with; its wheel needs the full opencv-python beside our headless OpenCV, so the scheme is
written here with PyWavelets, vectorised over blocks): Haar levels of the luma, the LL band cut
into 4x4 blocks, each block's largest AC coefficient of its DCT moved to the middle of the lower
or upper half of its quantisation step to carry one bit. The 64 bits repeat across the blocks
(144 blocks in a 384 px frame) and across frames; decoding votes over all of them.

What survives is measured, not assumed (bench/watermark_eval.py, docs/generator.md): H.264
re-encoding at CRF 23 and 28, and a resize when the decoder first scales the copy back to the
render size. A crop moves the block grid and is not claimed; `greenlight trace` covers it.

Payload: the first 56 bits of the generation's id (its first 14 hex digits) and a CRC-8 of
them, so a frame that decodes to noise is recognised as such instead of naming some generation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pywt

BITS = 64
ID_BITS = 56
# Measured on the model's flat frames (bench/watermark_eval.py): one level and a step of 30-45
# (the library's defaults) is lost after CRF 28; three levels (8 px tiles in 32 px blocks) and a
# step of 160 survive it and a resize at ~42 dB PSNR.
SCALE = 160.0  # quantisation step on the luma LL band's DCT coefficients: strength against visibility
BLOCK = 4
LEVELS = 3     # Haar levels above the marked LL band
CLIP_LIMIT = 0.002  # share of pixel values the change may push out of 0..255 before headroom is made
HEADROOM = 12
# XORed into the payload so that a flat or unmarked frame, which reads as all zeros, fails the CRC
_WHITENING = np.unpackbits(np.frombuffer(bytes.fromhex("9e3779b97f4a7c15"), np.uint8))

_DCT = np.array([[np.sqrt((1 if k == 0 else 2) / BLOCK) * np.cos(np.pi * (2 * n + 1) * k / (2 * BLOCK))
                  for n in range(BLOCK)] for k in range(BLOCK)], np.float64)  # orthonormal DCT-II


def crc8(data: bytes) -> int:
    """CRC-8 (polynomial 0x07, as ATM's header check): one in 256 random payloads passes."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def payload_for(generation_id: str) -> np.ndarray:
    """The 64 bits (0/1) marked into a generation's frames."""
    prefix = bytes.fromhex(generation_id.replace("-", "")[: ID_BITS // 4])
    return np.unpackbits(np.frombuffer(prefix + bytes([crc8(prefix)]), np.uint8)) ^ _WHITENING


def id_prefix(bits: np.ndarray) -> str | None:
    """The generation-id prefix (14 hex digits) the bits carry, or None when their CRC fails."""
    raw = np.packbits(bits.astype(np.uint8) ^ _WHITENING).tobytes()
    prefix, check = raw[: ID_BITS // 8], raw[ID_BITS // 8]
    return prefix.hex() if crc8(prefix) == check else None


def _marked_area(rgb: np.ndarray) -> tuple[int, int]:
    step = BLOCK * 2 ** LEVELS
    return (rgb.shape[0] // step) * step, (rgb.shape[1] // step) * step


def _luma(rgb: np.ndarray) -> np.ndarray:
    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    return 0.299 * r + 0.587 * g + 0.114 * b


def _blocks(ll: np.ndarray) -> tuple[np.ndarray, int, int]:
    rows, cols = ll.shape[0] // BLOCK, ll.shape[1] // BLOCK
    b = ll[: rows * BLOCK, : cols * BLOCK].reshape(rows, BLOCK, cols, BLOCK).swapaxes(1, 2)
    return b.reshape(-1, BLOCK, BLOCK), rows, cols


def _strongest_ac(coefficients: np.ndarray) -> np.ndarray:
    flat = np.abs(coefficients.reshape(len(coefficients), -1))
    flat[:, 0] = -1  # never the DC term
    return flat.argmax(axis=1)


def embed(rgb: np.ndarray, bits: np.ndarray, _lifted: bool = False) -> np.ndarray:
    """The frame (H, W, 3 uint8, sides >= 256) with the bits in it; the luma change is added to
    all three channels so colours keep their hue. A frame with large black or white areas is
    first given a little headroom (its range squeezed into HEADROOM..255-HEADROOM)."""
    if min(rgb.shape[:2]) < 256:
        raise ValueError(f"frames under 256 px carry too few blocks to mark ({rgb.shape[1]}x{rgb.shape[0]})")
    h, w = _marked_area(rgb)
    luma = _luma(rgb[:h, :w])
    ll, *details = pywt.wavedec2(luma, "haar", level=LEVELS)
    blocks, rows, cols = _blocks(ll)
    coeff = _DCT @ blocks @ _DCT.T
    pos = _strongest_ac(coeff)
    which = np.arange(len(blocks)) % BITS
    flat = coeff.reshape(len(blocks), -1)
    value = flat[np.arange(len(blocks)), pos]
    magnitude = (np.abs(value) // SCALE + 0.25 + 0.5 * bits[which]) * SCALE
    # never shrink it: another coefficient would become the largest and the reader would read that one
    magnitude = np.where(magnitude < np.abs(value), magnitude + SCALE, magnitude)
    flat[np.arange(len(blocks)), pos] = np.where(value >= 0, magnitude, -magnitude)
    marked = (_DCT.T @ coeff @ _DCT).reshape(rows, cols, BLOCK, BLOCK).swapaxes(1, 2).reshape(rows * BLOCK, cols * BLOCK)
    ll = ll.copy()
    ll[: rows * BLOCK, : cols * BLOCK] = marked
    delta = pywt.waverec2([ll, *details], "haar") - luma
    base = rgb[:h, :w].astype(np.float64)
    marked = base + delta[..., None]
    if np.mean((marked < 0) | (marked > 255)) > CLIP_LIMIT and not _lifted:
        # black or white areas would clip the change away: mark a copy with a little headroom
        return embed(lift(rgb), bits, _lifted=True)
    out = rgb.copy()
    out[:h, :w] = np.clip(np.rint(marked), 0, 255).astype(np.uint8)
    return out


def lift(rgb: np.ndarray) -> np.ndarray:
    """The frame's range squeezed into HEADROOM..255-HEADROOM (a slight loss of contrast)."""
    return np.rint(rgb.astype(np.float64) * (255 - 2 * HEADROOM) / 255 + HEADROOM).astype(np.uint8)


def votes(rgb: np.ndarray) -> np.ndarray:
    """Per payload bit, the mean over this frame's blocks of a soft vote in -1 (reads 0) .. +1 (reads 1)."""
    h, w = _marked_area(rgb)
    ll = pywt.wavedec2(_luma(rgb[:h, :w]), "haar", level=LEVELS)[0]
    blocks, _, _ = _blocks(ll)
    coeff = _DCT @ blocks @ _DCT.T
    value = coeff.reshape(len(blocks), -1)[np.arange(len(blocks)), _strongest_ac(coeff)]
    # soft decision: +1 at the middle of the upper half-step, -1 at the lower's, 0 on the edges,
    # so a block whose mark was wiped flat (covered, cropped in) abstains instead of voting 0
    read = -np.sin(2 * np.pi * (np.abs(value) % SCALE) / SCALE)
    which = np.arange(len(blocks)) % BITS
    return np.bincount(which, weights=read, minlength=BITS) / np.maximum(np.bincount(which, minlength=BITS), 1)


@dataclass(frozen=True)
class Reading:
    bits: np.ndarray       # the majority over frames and blocks
    confidence: float      # mean |vote|: 1 when every block is on its mark, ~0 for an unmarked video
    id_prefix: str | None  # the generation-id prefix when the CRC holds

    @property
    def found(self) -> bool:
        return self.id_prefix is not None


def read(frames: list[np.ndarray]) -> Reading:
    """The payload of RGB frames, voted over all of them."""
    total = np.mean([votes(f) for f in frames], axis=0) if frames else np.zeros(BITS)
    bits = (total > 0).astype(np.uint8)
    return Reading(bits, float(np.abs(total).mean()), id_prefix(bits))

"""Selfie videos made from still photos, for liveness and post-render scans.

A head turn is simulated by a smooth local warp that carries the nose sideways while the eyes
and mouth corners move less, which is what a real turn does to the 5 landmarks; a little
hand-held jitter keeps the camera alive. Spoofs are the same material held still or looped.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from likeness.faces import FaceModels
from tests.likeness.liveness.fixtures.builders import pad, read_pcm, write_media

FPS = 12


def turned(image: np.ndarray, nose: np.ndarray, eye_distance: float, shift: float) -> np.ndarray:
    """`shift` > 0 moves the nose toward the image right: the subject turns to their left."""
    h, w = image.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    sigma = 0.45 * eye_distance
    bump = np.exp(-((xx - nose[0]) ** 2 + (yy - nose[1]) ** 2) / (2 * sigma ** 2))
    return cv2.remap(image, (xx - shift * bump).astype(np.float32), yy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def jitter(image: np.ndarray, i: int, amount: float = 2.0) -> np.ndarray:
    rng = np.random.default_rng(i)
    dx, dy = rng.uniform(-amount, amount, size=2)
    h, w = image.shape[:2]
    return cv2.warpAffine(image, np.float32([[1, 0, dx], [0, 1, dy]]), (w, h), borderMode=cv2.BORDER_REPLICATE)


def head_turn_frames(models: FaceModels, photo: np.ndarray, direction: str, seconds: float,
                     max_shift: float = 26.0) -> list[np.ndarray]:
    face = models.analyze(photo)[0].face
    landmarks = face.landmarks.reshape(5, 2)
    nose, eye_distance = landmarks[2], float(np.linalg.norm(landmarks[0] - landmarks[1]))
    sign = 1.0 if direction == "left" else -1.0
    n = int(round(seconds * FPS))
    # Look at the camera for the first third, then turn.
    ramp = np.clip((np.arange(n) / max(n - 1, 1) - 1 / 3) * 1.5, 0, 1)
    return [jitter(turned(photo, nose, eye_distance, sign * max_shift * r), i) for i, r in enumerate(ramp)]


def write_selfie(path: Path, frames: list[np.ndarray], audio: str | np.ndarray | None = "digits_73914.flac",
                 speech_at_s: float = 0.4) -> Path:
    pcm = None
    if audio is not None:
        pcm = read_pcm(audio) if isinstance(audio, str) else audio
        seconds = len(frames) / FPS
        pcm = pad(pcm, before_s=speech_at_s, after_s=max(0.0, seconds - speech_at_s - len(pcm) / 16000))
    return write_media(path, frames=frames, fps=FPS, audio=pcm)

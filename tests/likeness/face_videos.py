"""Selfie videos made from still photos, for liveness and post-render scans.

`head_turn_frames` renders the bona fide stand-in of tests/likeness/heads.py (a 3-D head that turns
and speaks). `turned` is the older 2-D warp (the nose carried sideways by a local bump), kept for
scans that only need a face that moves. Spoofs are the same material held still or looped.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from likeness.faces import FaceModels
from tests.likeness import heads
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
                     max_yaw: float = 28.0, audio: str | np.ndarray | None = "digits_73914.flac",
                     speech_at_s: float = 0.4) -> list[np.ndarray]:
    """A bona fide stand-in (tests/likeness/heads.py): the photo's face on a 3-D head that looks at
    the camera for the first third, then turns, its mouth moving with `audio` as `write_selfie`
    places it (the same defaults), with a little hand-held jitter."""
    face = models.analyze(photo)[0].face
    head = heads.prepare(photo, face.landmarks.reshape(5, 2))
    n = int(round(seconds * FPS))
    mouth = np.zeros(n)
    if audio is not None:
        pcm = read_pcm(audio) if isinstance(audio, str) else audio
        mouth = heads.mouth_track(pad(pcm, before_s=speech_at_s), FPS, n)
    return [heads.render(head, yaw, open_, jitter=i)
            for i, (yaw, open_) in enumerate(zip(heads.turn_ramp(n, max_yaw, direction), mouth))]


def warped_turn_frames(models: FaceModels, photo: np.ndarray, direction: str, seconds: float,
                       max_shift: float = 26.0, audio: str | np.ndarray | None = "digits_73914.flac",
                       speech_at_s: float = 0.4) -> list[np.ndarray]:
    """The older 2-D stand-in: the nose carried sideways by a local warp (no homography explains it),
    the mouth moving with `audio`. For a toy face embedder that cannot follow a rendered head's turn
    (tests/likeness/test_model_swap.py's 4x4-pool model)."""
    face = models.analyze(photo)[0].face
    landmarks = face.landmarks.reshape(5, 2)
    head = heads.prepare(photo, landmarks)
    nose, eye_distance = landmarks[2], float(np.linalg.norm(landmarks[0] - landmarks[1]))
    sign = 1.0 if direction == "left" else -1.0
    n = int(round(seconds * FPS))
    mouth = np.zeros(n)
    if audio is not None:
        pcm = read_pcm(audio) if isinstance(audio, str) else audio
        mouth = heads.mouth_track(pad(pcm, before_s=speech_at_s), FPS, n)
    ramp = np.clip((np.arange(n) / max(n - 1, 1) - 1 / 3) * 1.5, 0, 1)
    return [jitter(turned(heads.open_mouth(photo, head, m), nose, eye_distance, sign * max_shift * r), i)
            for i, (r, m) in enumerate(zip(ramp, mouth))]


def write_selfie(path: Path, frames: list[np.ndarray], audio: str | np.ndarray | None = "digits_73914.flac",
                 speech_at_s: float = 0.4) -> Path:
    pcm = None
    if audio is not None:
        pcm = read_pcm(audio) if isinstance(audio, str) else audio
        seconds = len(frames) / FPS
        pcm = pad(pcm, before_s=speech_at_s, after_s=max(0.0, seconds - speech_at_s - len(pcm) / 16000))
    return write_media(path, frames=frames, fps=FPS, audio=pcm)

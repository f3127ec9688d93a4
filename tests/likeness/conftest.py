"""Real photos (shipped in the dev extra's packages) and the real face models, once per session."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from likeness.faces import FaceModels


@pytest.fixture(scope="session")
def photos() -> dict[str, np.ndarray]:
    """Three people, BGR: an astronaut (frontal), a cameraman (turned ~65 deg), Grace Hopper."""
    import matplotlib.cbook
    from skimage import data

    hopper = cv2.imread(str(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)))
    return {
        "astronaut": cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR),
        "camera": cv2.cvtColor(data.camera(), cv2.COLOR_GRAY2BGR),
        "hopper": hopper,
    }


@pytest.fixture(scope="session")
def models() -> FaceModels:
    return FaceModels.default()


@pytest.fixture
def paste_face(monkeypatch, photos):
    """Make the procedural renderer draw a real photo into every frame (as a generated person would be)."""
    import generator.procedural as procedural

    original = procedural.draw_frame
    chosen = {}

    def draw(scene, background, t):
        frame = original(scene, background, t)
        if "photo" in chosen:
            side = frame.width
            rgb = chosen["photo"][:, :, ::-1]
            frame.paste(Image.fromarray(np.ascontiguousarray(rgb)).resize((side, side)), (0, frame.height // 4))
        return frame

    monkeypatch.setattr(procedural, "draw_frame", draw)
    return lambda name: chosen.__setitem__("photo", photos[name])

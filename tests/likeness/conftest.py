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
    """Make the renderer draw a real photo into every frame (as a generated person would be)."""
    import generator.render as render

    original = render.draw_frame
    chosen = {}

    def draw(clip, index, size):
        frame = original(clip, index, size)
        if "photo" in chosen:
            side = size * 3 // 4
            rgb = chosen["photo"][:, :, ::-1]
            frame.paste(Image.fromarray(np.ascontiguousarray(rgb)).resize((side, side)), (size // 8, size // 8))
        return frame

    monkeypatch.setattr(render, "draw_frame", draw)
    return lambda name: chosen.__setitem__("photo", photos[name])

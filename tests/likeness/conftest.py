"""Real photos (shipped in the dev extra's packages) and the real face models, once per session."""

from __future__ import annotations

from dataclasses import asdict

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


@pytest.fixture(scope="session")
def tiny_whisper(tmp_path_factory):
    """A Whisper checkpoint in the file format of the released ones, with tiny random weights:
    it exercises the real load and decode path; what it hears is noise."""
    torch = pytest.importorskip("torch")
    from whisper.model import ModelDimensions, Whisper

    dims = ModelDimensions(n_mels=80, n_audio_ctx=1500, n_audio_state=32, n_audio_head=1, n_audio_layer=1,
                           n_vocab=51865, n_text_ctx=448, n_text_state=32, n_text_head=1, n_text_layer=1)
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("whisper") / "tiny-random.pt"
    torch.save({"dims": asdict(dims), "model_state_dict": Whisper(dims).state_dict()}, path)
    return path, dims

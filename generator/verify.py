"""Reading a video's marks back: the invisible payload (which generation), the visible label
(whose account it names) and, in time, its C2PA manifest. Works on any copy: frames that are not
the render size are scaled back to it first, so the payload's block grid lines up again after a
resize."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from generator import watermark
from generator.encode import visible_watermark
from generator.render import VIDEO_SIZE

FRAMES_PER_SECOND = 8.0
# white label text must stand this far (0-255) above the shadow around it to count as shown
LABEL_CONTRAST = 40.0


@dataclass(frozen=True)
class Marks:
    invisible: watermark.Reading
    frames: int


def read_marks(path: Path) -> Marks:
    """The invisible payload voted over the video's frames. Raises app.kit.media.MediaError."""
    from app.kit.media import sample_frames

    frames = [_to_render_size(image[:, :, ::-1]) for _, image in
              sample_frames(path, per_second=FRAMES_PER_SECOND, max_side=4096)]
    return Marks(watermark.read(frames), len(frames))


def _to_render_size(rgb: np.ndarray) -> np.ndarray:
    if rgb.shape[:2] == (VIDEO_SIZE, VIDEO_SIZE):
        return np.ascontiguousarray(rgb)
    return np.asarray(Image.fromarray(np.ascontiguousarray(rgb)).resize((VIDEO_SIZE, VIDEO_SIZE),
                                                                          Image.Resampling.BICUBIC))


def label_contrast(path: Path, text: str) -> float:
    """How much brighter the label's letters are than their drop shadow, at the place the
    renderer draws `text`, median over frames: ~0 where the label is not (or is covered)."""
    from app.kit.media import sample_frames

    contrasts = []
    for _, image in sample_frames(path, per_second=2.0, max_side=4096):
        rgb = _to_render_size(image[:, :, ::-1])
        mark = visible_watermark(text, VIDEO_SIZE, VIDEO_SIZE)
        x0, y0, x1, y1 = mark.box
        grey = rgb[y0:y1, x0:x1].astype(np.float32).mean(axis=2)
        letters = np.asarray(mark.text_mask) > 128
        shadow = (np.asarray(mark.shadow_mask) > 64) & ~letters
        if letters.any() and shadow.any():
            contrasts.append(float(grey[letters].mean() - grey[shadow].mean()))
    return float(np.median(contrasts)) if contrasts else 0.0

"""The state parser judges generated clips, so its own accuracy is measured first, on clips whose
ground truth is known."""

import numpy as np
import pytest

from generator import dataset as ds
from generator.state_parser import parse

ATTRIBUTES = ("colour", "shape", "count", "direction")


def _accuracy(size: int, n: int, held_out: bool | None) -> dict[str, float]:
    right = dict.fromkeys(ATTRIBUTES, 0)
    for clip in ds.clips(n, seed=21, size=size, held_out=held_out):
        parsed = parse(clip.frames)
        for attr in ATTRIBUTES:
            right[attr] += getattr(parsed, attr) == getattr(clip.spec, attr)
    return {attr: right[attr] / n for attr in ATTRIBUTES}


@pytest.mark.slow
def test_the_parser_reads_the_dataset_at_64_pixels():
    acc = _accuracy(64, 120, None)
    assert min(acc.values()) >= 0.97, acc


@pytest.mark.slow
def test_the_parser_reads_the_dataset_at_the_training_size():
    """32 x 32: objects are 5 pixels across and sometimes touch; measured 0.93-1.0 per attribute."""
    acc = _accuracy(32, 150, False)
    assert acc["colour"] >= 0.98 and acc["direction"] >= 0.95, acc
    assert acc["shape"] >= 0.9 and acc["count"] >= 0.88, acc


def test_an_empty_scene_has_no_objects_and_noise_is_not_an_object():
    rng = np.random.default_rng(0)
    grey = np.full((8, 32, 32, 3), 90, np.uint8)
    assert parse(grey).count == 0 and parse(grey).colour is None
    noisy = (grey.astype(int) + rng.integers(-20, 21, grey.shape)).clip(0, 255).astype(np.uint8)
    assert parse(noisy).count == 0


def test_a_clip_is_read_as_drawn_not_as_captioned():
    clip = ds.render(ds.SceneSpec(colour="blue", shape="triangle", motion="roll", count=2, direction="left",
                                  background="pale wall", pan=None, seed=5), size=64)
    parsed = parse(clip.frames)
    assert (parsed.colour, parsed.shape, parsed.count, parsed.direction) == ("blue", "triangle", 2, "left")
    flipped = parse(clip.frames[:, :, ::-1])  # mirrored: the same objects rolling right
    assert flipped.direction == "right" and flipped.shape == "triangle"

"""The synthetic training set: reproducible, physically plausible, captioned as drawn, and split
into seen and held-out combinations."""

import numpy as np
import pytest

from generator import dataset as ds


def test_the_same_seed_gives_the_same_clips_and_another_seed_others():
    a = list(ds.clips(4, seed=3))
    b = list(ds.clips(4, seed=3))
    c = list(ds.clips(4, seed=4))
    assert [x.caption for x in a] == [x.caption for x in b]
    assert all(np.array_equal(x.frames, y.frames) for x, y in zip(a, b, strict=True))
    assert [x.caption for x in a] != [x.caption for x in c]
    assert a[0].frames.shape == (8, 32, 32, 3) and a[0].frames.dtype == np.uint8


def test_held_out_combinations_are_never_drawn_as_seen_and_leave_every_attribute_seen():
    assert 5 <= len(ds.HELD_OUT) <= 30
    seen = {(c, s, m) for c in ds.COLOURS for s in ds.SHAPES for m in ds.MOTIONS
            if ds.combination_key(c, s, m) not in ds.HELD_OUT}
    assert {c for c, _, _ in seen} == set(ds.COLOURS)
    assert {s for _, s, _ in seen} == set(ds.SHAPES)
    assert {m for _, _, m in seen} == set(ds.MOTIONS)
    assert not any(clip.spec.held_out for clip in ds.clips(40, seed=1, held_out=False))
    assert all(clip.spec.held_out for clip in ds.clips(15, seed=1, held_out=True))


@pytest.mark.parametrize("seed", range(6))
def test_the_caption_says_what_is_drawn(seed):
    clip = next(ds.clips(1, seed=seed, size=64))
    spec = clip.spec
    article = ("an" if spec.colour[0] in "aeiou" else "a") if spec.count == 1 else ds.COUNT_WORDS[spec.count]
    noun = spec.shape if spec.count == 1 else ds.SHAPE_PLURALS[spec.shape]
    assert clip.caption.startswith(f"{article} {spec.colour} {noun} "), clip.caption
    # every object's centre is drawn in its colour
    colour = np.array(ds.COLOURS[spec.colour], np.int32)
    for t in range(clip.frames.shape[0]):
        for x, y in clip.positions[t]:
            if 0 <= x < 64 and 0 <= y < 64:
                pixel = clip.frames[t, int(y), int(x)].astype(np.int32)
                assert np.abs(pixel - colour).max() < 40, (t, x, y, pixel)


def _spec(motion, direction="right", count=1, pan=None):
    return ds.SceneSpec(colour="red", shape="ball", motion=motion, count=count, direction=direction,
                        background="grey studio", pan=pan, seed=11)


def test_a_falling_ball_accelerates_then_bounces_off_the_floor():
    world, events = ds.simulate(_spec("fall", "down"), frames=16, fps=8.0)
    y = world[:, 0, 1]
    floor_frames = [t for t, kind, _ in events if kind == "floor"]
    assert floor_frames, events
    first = floor_frames[0]
    fall = np.diff(y[: first + 1])
    assert (fall > 0).all() and (np.diff(fall) > 0).all()  # speeding up on the way down
    assert y[first + 2] < y[first + 1]  # and going up after the bounce
    assert y.max() <= ds.FLOOR_Y - ds.RADIUS + 1e-6


def test_a_ball_thrown_at_the_board_comes_back_and_one_rolled_at_a_wall_too():
    world, events = ds.simulate(_spec("backboard"), frames=8, fps=8.0)
    board = [t for t, kind, _ in events if kind == "board"][0]
    x = world[:, 0, 0]
    assert x[board] > x[0] and x[-1] < x[board + 1]
    world, events = ds.simulate(_spec("wall", "left"), frames=8, fps=8.0)
    assert any(kind == "wall" for _, kind, _ in events)
    assert world[:, 0, 0].min() >= ds.RADIUS - 1e-6


def test_a_pan_moves_the_scene_the_other_way_on_screen():
    still = ds.render(_spec("roll", pan=None), size=32)
    panned = ds.render(_spec("roll", pan="right"), size=32)
    assert panned.positions[-1, 0, 0] < still.positions[-1, 0, 0]
    assert "pans right" in panned.caption

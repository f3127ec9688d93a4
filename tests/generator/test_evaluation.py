"""The judge of generated clips, run on the simulator's own clips (where everything is right) and
on clips made wrong on purpose."""

import numpy as np

from generator import dataset as ds
from generator import evaluation as ev


def _judged(n=60, size=64, seed=5):
    return [ev.judge(c.spec, c.frames, c.positions, c.events) for c in ds.clips(n, seed=seed, size=size, held_out=None)]


def test_the_simulators_clips_score_at_the_ceiling_and_shuffled_prompts_near_chance():
    judged = _judged()
    acc = ev.attribute_accuracy(judged)
    assert acc["overall"] >= 0.97, acc
    assert ev.shuffled_accuracy(judged)["overall"] < 0.5
    phys = ev.physics_summary(judged)
    assert phys["bounce reversal"] == 1.0 and phys["no vanish/teleport"] == 1.0
    assert phys["falls fit constant acceleration"] == 1.0 and phys["velocity error (relative)"] < 0.1


def test_frozen_reversed_or_vanishing_clips_fail_the_physics():
    clip = ds.render(ds.SceneSpec("red", "ball", "fall", 1, "down", "grey studio", None, 3), size=64, frames=16)
    assert any(kind == "floor" for _, kind, _ in clip.events)
    good = ev.judge(clip.spec, clip.frames, clip.positions, clip.events)
    frozen = ev.judge(clip.spec, np.repeat(clip.frames[:1], 16, axis=0), clip.positions, clip.events)
    backwards = ev.judge(clip.spec, clip.frames[::-1].copy(), clip.positions, clip.events)
    vanishing = clip.frames.copy()
    vanishing[5:8] = vanishing[0, :4, :4].mean(axis=(0, 1)).astype(np.uint8)  # the ball gone for 3 frames
    gone = ev.judge(clip.spec, vanishing, clip.positions, clip.events)
    assert good.physics["bounce"] == 1.0 and good.physics["fall_fit"] > 0.95
    assert frozen.physics["bounce"] == 0.0 and frozen.physics["velocity_error"] > 0.9
    assert not backwards.attributes["direction"] and backwards.physics["fall_fit"] < 0.9
    assert gone.physics["continuity"] < 0.9

"""Face-independent video checks on real encoded video (H.264 MP4/MOV, VP9 WebM made with PyAV).

Frames are sampled with app.kit.media.sample_frames (tested in tests/app/test_media.py).
"""

import random

import numpy as np
import pytest

from app.kit.media import sample_frames
from likeness.liveness.motion import MotionReport, motion_report
from tests.likeness.liveness.fixtures.builders import scene_frame, write_media

VIDEO_FORMATS = ["mp4", "webm", "mov"]


def images(path, per_second=None, **kw):
    return [img for _, img in sample_frames(path, per_second=per_second, **kw)]


@pytest.mark.parametrize("fmt", VIDEO_FORMATS)
def test_the_same_frame_repeated_is_still(tmp_path, fmt):
    path = write_media(tmp_path / f"photo.{fmt}", frames=[scene_frame(5)] * 30, fps=10)
    report = motion_report(images(path))
    assert report.frames == 30 and report.is_still and report.loop_period is None
    assert report.mean_abs_diff < 1.0


def test_a_photo_with_sensor_noise_is_still(tmp_path):
    rng = np.random.default_rng(0)
    photo = scene_frame(5).astype(np.int16)
    noisy = [np.clip(photo + rng.normal(0, 4, photo.shape), 0, 255).astype(np.uint8) for _ in range(30)]
    assert motion_report(images(write_media(tmp_path / "held.mp4", frames=noisy, fps=10))).is_still


@pytest.mark.parametrize("fmt", VIDEO_FORMATS)
def test_a_moving_scene_is_neither_still_nor_looped(tmp_path, fmt):
    path = write_media(tmp_path / f"live.{fmt}", frames=scene_frame, n_frames=40, fps=25)
    for per_second in (None, 25, 5):
        report = motion_report(images(path, per_second))
        assert not report.is_still and report.loop_period is None, (per_second, report)


def test_a_slow_pan_over_a_photo_is_not_still(tmp_path):
    photo = scene_frame(5)
    frames = [np.roll(photo, i // 2, axis=1) for i in range(40)]
    report = motion_report(images(write_media(tmp_path / "pan.mp4", frames=frames, fps=25)))
    assert report.mean_abs_diff < 1.0 and not report.is_still  # slow between frames, far overall


@pytest.mark.parametrize("fmt", VIDEO_FORMATS)
def test_a_ten_frame_sequence_repeated_four_times_loops_with_period_ten(tmp_path, fmt):
    sequence = [scene_frame(i) for i in range(10)]
    path = write_media(tmp_path / f"loop.{fmt}", frames=sequence * 4, fps=25)
    for per_second in (None, 25):  # every frame; or sampled at the frame rate
        report = motion_report(images(path, per_second))
        assert report.frames == 40 and not report.is_still
        assert report.loop_period == 10, (per_second, report)


def test_a_loop_is_found_at_a_sampled_rate_that_divides_it(tmp_path):
    path = write_media(tmp_path / "loop.mp4", frames=[scene_frame(i) for i in range(10)] * 4, fps=25)
    assert motion_report(images(path, 5)).loop_period == 2  # 10 frames at 25 fps = 2 samples at 5/s


def test_a_seven_frame_loop_of_larger_moves(tmp_path):
    sequence = [scene_frame(3 * i) for i in range(7)]
    report = motion_report(images(write_media(tmp_path / "loop7.webm", frames=sequence * 5, fps=30)))
    assert report.loop_period == 7


def test_shuffled_frames_are_not_a_loop(tmp_path):
    frames = [scene_frame(i) for i in range(40)]
    random.Random(3).shuffle(frames)
    report = motion_report(images(write_media(tmp_path / "shuffled.mp4", frames=frames, fps=25)))
    assert not report.is_still and report.loop_period is None


def test_motion_report_on_arrays_and_edge_cases():
    assert motion_report([]) == MotionReport(frames=0, mean_abs_diff=0.0, is_still=True, loop_period=None)
    assert motion_report([scene_frame(0)]).frames == 1
    grey = [scene_frame(i)[..., 1] for i in range(10)] * 3  # single-channel images work too
    assert motion_report(grey).loop_period == 10
    with pytest.raises(ValueError):
        motion_report([np.zeros((8, 8), np.float32)] * 3)

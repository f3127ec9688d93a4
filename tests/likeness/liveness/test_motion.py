"""Face-independent video checks on real encoded video (H.264 MP4/MOV, VP9 WebM made with PyAV)."""

import random

import numpy as np
import pytest

from likeness.liveness.audio import MediaDecodeError
from likeness.liveness.motion import MotionReport, motion_report, sample_video_frames
from tests.likeness.liveness.fixtures.builders import (
    pad, read_pcm, scene_frame, write_media, write_wav,
)

VIDEO_FORMATS = ["mp4", "webm", "mov"]


def images(path, per_second=None, **kw):
    return [img for _, img in sample_video_frames(path, per_second=per_second, **kw)]


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


# ------------------------------------------------------------------------------------------
# sample_video_frames


def test_frames_come_at_the_requested_rate_as_bgr(tmp_path):
    red = np.zeros((120, 160, 3), np.uint8)
    red[..., 2] = 255
    path = write_media(tmp_path / "red.mp4", frames=[red] * 50, fps=25)  # 2 s
    frames = sample_video_frames(path, per_second=5)
    times = [t for t, _ in frames]
    assert times == pytest.approx([0.2 * k for k in range(10)], abs=1e-6)
    img = frames[0][1]
    assert img.dtype == np.uint8 and img.shape == (120, 160, 3)
    b, g, r = img[60, 80]
    assert r > 200 and b < 50 and g < 50
    assert len(sample_video_frames(path, per_second=None)) == 50
    assert len(sample_video_frames(path, per_second=25)) == 50


def test_frames_are_scaled_to_max_side(tmp_path):
    path = write_media(tmp_path / "big.mp4", frames=[scene_frame(i, 640, 360) for i in range(5)], fps=5)
    _, img = sample_video_frames(path, max_side=480)[0]
    assert img.shape == (270, 480, 3)
    _, small = sample_video_frames(path, max_side=1000)[0]
    assert small.shape == (360, 640, 3)


@pytest.mark.parametrize("rotation, corner", [(None, "tl"), (90, "bl"), (-90, "tr"), (180, "br")])
def test_rotated_phone_video_comes_out_upright(tmp_path, rotation, corner):
    img = np.zeros((120, 160, 3), np.uint8)
    img[:30, :40] = 255  # a white block in the top-left corner of the stored picture
    path = write_media(tmp_path / "phone.mov", frames=[img] * 5, fps=5, rotation=rotation)
    _, out = sample_video_frames(path)[0]
    h, w = out.shape[:2]
    assert (h, w) == ((120, 160) if rotation in (None, 180) else (160, 120))
    quadrants = {"tl": out[: h // 2, : w // 2], "tr": out[: h // 2, w // 2:],
                 "bl": out[h // 2:, : w // 2], "br": out[h // 2:, w // 2:]}
    assert max(quadrants, key=lambda k: quadrants[k].mean()) == corner


def test_audio_only_media_is_media_no_video(tmp_path):
    path = write_wav(tmp_path / "voice.wav", pad(read_pcm("digits_28056.flac"), 0.2, 0.2))
    with pytest.raises(MediaDecodeError) as err:
        sample_video_frames(path)
    assert err.value.code == "media_no_video"


def test_random_bytes_are_media_unreadable(tmp_path):
    junk = tmp_path / "junk.webm"
    junk.write_bytes(random.Random(1).randbytes(8192))
    with pytest.raises(MediaDecodeError) as err:
        sample_video_frames(junk)
    assert err.value.code == "media_unreadable"


def test_video_over_max_seconds_is_media_too_long(tmp_path):
    path = write_media(tmp_path / "long.mp4", frames=scene_frame, n_frames=40, fps=10)  # 4 s
    with pytest.raises(MediaDecodeError) as err:
        sample_video_frames(path, max_seconds=2.0)
    assert err.value.code == "media_too_long"
    live = write_media(tmp_path / "live.webm", frames=scene_frame, n_frames=40, fps=10, live=True)
    with pytest.raises(MediaDecodeError) as err:  # no declared duration: caught by frame time
        sample_video_frames(live, max_seconds=2.0)
    assert err.value.code == "media_too_long"
    assert len(sample_video_frames(path, max_seconds=5.0)) == 20

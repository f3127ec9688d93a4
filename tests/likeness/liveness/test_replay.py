"""Issue 14, replays: a video played on a display and filmed shows the display (its pixel grid, its
edges) around the face (likeness/liveness/replay.py). The videos are real encoded files of the
stand-ins in tests/likeness/heads.py: the 3-D head turning, and the same frames replayed on a
display (`heads.on_screen`), read back as the product reads them."""

import numpy as np
import pytest

from app.kit.media import sample_frames
from likeness.liveness.replay import (
    BORDER_SHARE, GRID_PEAK, SIDE_COVER, border_cover, replay_report,
)
from tests.likeness import heads
from tests.likeness.face_videos import FPS, write_selfie

N = 30


@pytest.fixture(scope="module")
def hopper_head(photos, models):
    return heads.prepare(photos["hopper"], models.analyze(photos["hopper"])[0].face.landmarks.reshape(5, 2))


@pytest.fixture(scope="module")
def turning(hopper_head):
    return [heads.render(hopper_head, a, 0.4 * abs(np.sin(0.8 * i)), jitter=i)
            for i, a in enumerate(heads.turn_ramp(N, 26, "left"))]


def _read(path, models):
    frames = [f for _, f in sample_frames(path, per_second=FPS)]
    faces = [models.detect(f) for f in frames]
    return frames, [f[0].landmarks.reshape(5, 2) if f else None for f in faces]


def _report(path, models):
    return replay_report(*_read(path, models))


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["mp4", "webm"])
def test_a_head_filmed_directly_is_not_a_replay(tmp_path, models, turning, fmt):
    report = _report(write_selfie(tmp_path / f"head.{fmt}", turning, audio=None), models)
    assert not report.suspected and report.signs == (), report
    assert report.frames >= N - 2
    assert report.grid_peak < GRID_PEAK and report.border_share < BORDER_SHARE


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["mp4", "webm"])
@pytest.mark.parametrize("seed", [5, 6])
def test_the_same_video_replayed_on_a_display_is_suspected(tmp_path, models, turning, fmt, seed):
    replayed = [heads.on_screen(f, seed, index=i) for i, f in enumerate(turning)]
    report = _report(write_selfie(tmp_path / f"replay.{fmt}", replayed, audio=None), models)
    assert report.suspected, report
    # The display is in view: its edges frame the face whatever its grid shows.
    assert "screen_border" in report.signs and report.border_share >= BORDER_SHARE


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["mp4", "webm"])
def test_a_display_filmed_too_close_for_its_edges_shows_its_pixel_grid(tmp_path, models, turning, fmt):
    """No edge in view: the grid alone (a coarse display, 3.8 camera pixels a pixel, in focus)."""
    replayed = [heads.on_screen(f, 7, index=i, fill=1.12, pitch=3.8, blur=1.1) for i, f in enumerate(turning)]
    report = _report(write_selfie(tmp_path / f"close.{fmt}", replayed, audio=None), models)
    assert report.signs == ("screen_grid",), report
    assert report.grid_peak >= GRID_PEAK and report.grid_share > 0.05


def test_the_border_is_found_on_every_side_of_a_displayed_face(photos, models, hopper_head):
    frame = heads.render(hopper_head, 10, 0.2, jitter=1)
    bona_fide = border_cover(frame, models.detect(frame)[0].landmarks)
    shown = heads.on_screen(frame, 3)
    replayed = border_cover(shown, models.detect(shown)[0].landmarks)
    assert min(replayed.values()) >= SIDE_COVER, replayed
    # The body below a real head breaks any line under it.
    assert bona_fide["bottom"] < SIDE_COVER, bona_fide


def test_without_a_face_nothing_is_decided(photos):
    frame = photos["astronaut"]
    report = replay_report([frame, frame], [None, None])
    assert report.frames == 0 and report.grid_peak is None and not report.suspected


def test_a_ruled_pattern_on_the_face_is_a_grid_and_a_plain_one_is_not(photos, models):
    """The spectrum sign on its own: the same frames with a fine periodic pattern laid on them
    (what a display's pixels add) against without."""
    frame = photos["hopper"]
    lm = models.detect(frame)[0].landmarks.reshape(5, 2)
    rng = np.random.default_rng(0)
    frames = [np.clip(frame.astype(np.int16) + rng.integers(-3, 4, frame.shape), 0, 255).astype(np.uint8)
              for _ in range(6)]
    plain = replay_report(frames, [lm] * 6)
    xx = np.arange(frame.shape[1])
    stripes = (12 * np.cos(2 * np.pi * xx / 3.3)).astype(np.int16)[None, :, None]
    ruled = [np.clip(f.astype(np.int16) + stripes, 0, 255).astype(np.uint8) for f in frames]
    grid = replay_report(ruled, [lm] * 6)
    assert plain.grid_peak < GRID_PEAK <= grid.grid_peak, (plain, grid)
    assert "screen_grid" in grid.signs and "screen_grid" not in plain.signs

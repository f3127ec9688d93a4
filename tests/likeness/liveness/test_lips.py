"""Issue 14, lips that speak (likeness/liveness/lips.py): the mouth's opening against the speech's
loudness, frame by frame, on the committed spoken-digit recordings. The openings here are what
the stand-in renderer draws (tests/likeness/heads.mouth_track) and what the measure reads off
rendered faces (the end-to-end tests in tests/likeness/test_enrolment.py)."""

import numpy as np
import pytest

from likeness.liveness.lips import MIN_MOVEMENT, lips_report, mouth_opening
from tests.likeness import heads
from tests.likeness.liveness.fixtures.builders import pad, read_pcm

FPS = 12.0
SPEECH_AT = 0.4


@pytest.fixture(scope="module")
def digits():
    spoken = pad(read_pcm("digits_73914.flac"), SPEECH_AT, 0.6)
    other = pad(read_pcm("digits_28056.flac"), SPEECH_AT, 0.6)
    n = int(len(spoken) / 16000 * FPS)
    speech = (SPEECH_AT, SPEECH_AT + len(read_pcm("digits_73914.flac")) / 16000)
    return spoken, other, n, speech


def _report(openings, pcm, n, speech):
    return lips_report(np.arange(n) / FPS, list(openings), pcm, speech)


def test_a_mouth_moving_with_the_words_speaks(digits):
    spoken, _, n, speech = digits
    report = _report(heads.mouth_track(spoken, FPS, n) * 0.3, spoken, n, speech)
    assert report.ok and report.in_sync >= 0.6 and abs(report.lag_s) <= 0.12, report


def test_a_still_mouth_under_speech_does_not(digits):
    spoken, _, n, speech = digits
    rng = np.random.default_rng(1)
    still = 0.05 + rng.normal(0, 0.002, n)  # a closed mouth, measured with a little noise
    report = _report(still, spoken, n, speech)
    assert report.reason == "liveness_lips_not_speaking" and report.movement < MIN_MOVEMENT


def test_a_mouth_saying_other_words_does_not(digits):
    spoken, other, n, speech = digits
    report = _report(heads.mouth_track(other, FPS, n) * 0.3, spoken, n, speech)
    assert report.reason in ("liveness_lips_not_speaking", "liveness_lips_out_of_sync"), report


@pytest.mark.parametrize("frames_late", [3, 4, -4])
def test_speech_out_of_step_with_the_lips_is_out_of_sync(digits, frames_late):
    spoken, _, n, speech = digits
    track = heads.mouth_track(spoken, FPS, n) * 0.3
    shifted = np.roll(track, frames_late)
    shifted[:max(frames_late, 0)] = 0
    if frames_late < 0:
        shifted[frames_late:] = 0
    report = _report(shifted, spoken, n, speech)
    assert report.reason == "liveness_lips_out_of_sync", report


def test_frames_without_a_face_are_left_out_and_too_few_fail(digits):
    spoken, _, n, speech = digits
    track = list(heads.mouth_track(spoken, FPS, n) * 0.3)
    gaps = [v if i % 5 else None for i, v in enumerate(track)]
    assert _report(gaps, spoken, n, speech).ok
    assert _report([None] * n, spoken, n, speech).reason == "liveness_lips_not_speaking"


def test_the_opening_is_the_dark_share_of_the_mouth_box():
    face = np.full((112, 112, 3), 170, np.uint8)
    closed = mouth_opening(face)
    face[90:104, 40:72] = 30  # an open mouth's dark inside
    assert closed == 0.0 and 0.3 < mouth_opening(face) < 0.6

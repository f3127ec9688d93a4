"""The safety stages over media: rendered frames (safety.frames), the input image
(safety.input_image) and the rendered video's speech (safety.audio). Real models, real files."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from app.kit.media import load_audio
from app.orchestrator import run_stages
from app.kit.speech import PocketsphinxTranscriber
from app.stage import Decision, Requester, StageContext
from generator.procedural import render_to_mp4
from safety.audio import AudioClassifier, TermClassifier, load_vad
from safety.prompt_classifier import DECISION_RULES
from safety.stages import AudioSafetyStage, FrameSafetyStage, InputImageSafetyStage
from safety.terms import load_policy
from tests.likeness.liveness.fixtures.builders import pad, scene_frame, write_media
from tests.safety.fixtures import SPEECH


def ctx(media=None, image=None) -> StageContext:
    # These stages read no database rows: session=None proves it.
    return StageContext("g", "p", [], None, Requester("u", "u", False), None,  # type: ignore[arg-type]
                        media_path=media, input_image_path=image)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    return render_to_mp4("a red ball bouncing at night", tmp_path_factory.mktemp("render") / "clip.mp4")


@pytest.fixture(scope="module")
def colorwheel() -> np.ndarray:
    from skimage import data

    return cv2.cvtColor(data.colorwheel(), cv2.COLOR_RGB2BGR)


@pytest.fixture(scope="module")
def audio_stage() -> AudioSafetyStage:
    return AudioSafetyStage(AudioClassifier(load_vad(), PocketsphinxTranscriber(), TermClassifier(load_policy())))


# --- safety.frames ----------------------------------------------------------------------------


def test_a_rendered_video_passes_the_frame_scan_and_shares_the_decoded_frames(rendered):
    stage, context = FrameSafetyStage(), ctx(rendered.path)
    (verdict,) = run_stages((stage,), context)
    assert verdict.decision is Decision.ALLOW and verdict.reasons == []
    assert verdict.scores == {"sexual": 0.0, "frames_scanned": 6.0}  # 3 s at 2 frames a second
    assert verdict.stage == "safety.frames" and verdict.version.startswith("frames-1:nudenet-320n:")
    assert set(context._frames) == {2.0}  # decoded once, for every post-render stage


def test_a_frame_the_model_flags_is_reported_with_its_time_label_and_box(tmp_path, colorwheel):
    frames = [scene_frame(i, 320, 320) if i < 10 else cv2.resize(colorwheel, (320, 320)) for i in range(20)]
    video = write_media(tmp_path / "wheel.mp4", frames=frames, fps=10)
    verdict = FrameSafetyStage().check(ctx(video))
    assert verdict.decision is Decision.REVIEW  # buttocks-exposed alone is review-only
    (reason,) = verdict.reasons
    assert reason.code == "safety_sexual" and reason.details["label"] == "BUTTOCKS_EXPOSED"
    assert reason.details["frames"] == 2  # the wheel is on screen from 1.0 s: samples at 1.0 and 1.5 s
    assert reason.details["at_s"] in (1.0, 1.5)  # where its strongest detection is
    x, y, w, h = reason.details["box"]
    assert w > 100 and h > 100 and x + w <= 320 and y + h <= 320
    assert verdict.scores["sexual"] > 0.6 and verdict.scores["frames_scanned"] == 4.0


def test_a_video_that_cannot_be_decoded_is_blocked_with_the_media_code(tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(1000))
    verdict = FrameSafetyStage().check(ctx(junk))
    assert verdict.decision is Decision.BLOCK and verdict.reasons[0].code == "media_unreadable"
    assert FrameSafetyStage().check(ctx(None)).decision is Decision.ALLOW


# --- safety.input_image -----------------------------------------------------------------------


def test_an_input_photo_passes_and_a_flagged_one_goes_to_review(tmp_path, colorwheel):
    import matplotlib.cbook

    photo = matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    verdict = InputImageSafetyStage().check(ctx(image=photo))
    assert verdict.decision is Decision.ALLOW and verdict.scores == {"sexual": 0.0}
    wheel = tmp_path / "wheel.png"
    cv2.imwrite(str(wheel), colorwheel)
    flagged = InputImageSafetyStage().check(ctx(image=wheel))
    assert flagged.decision is Decision.REVIEW and flagged.reasons[0].code == "safety_sexual"
    assert "the input image shows buttocks exposed" in flagged.reasons[0].message
    assert "at_s" not in flagged.reasons[0].details
    assert InputImageSafetyStage().check(ctx()).decision is Decision.ALLOW


def test_a_corrupt_input_image_is_blocked_with_a_stable_code(tmp_path):
    import matplotlib.cbook

    data = open(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False), "rb").read()
    for name, content in (("truncated.jpg", data[:len(data) // 3]), ("text.png", b"hello" * 100), ("empty.jpg", b"")):
        path = tmp_path / name
        path.write_bytes(content)
        verdict = InputImageSafetyStage().check(ctx(image=path))
        assert verdict.decision is Decision.BLOCK
        assert (verdict.reasons[0].code, verdict.reasons[0].details) == ("input_image_unreadable",
                                                                         {"cause": "media_unreadable"}), name
    gone = InputImageSafetyStage().check(ctx(image=tmp_path / "deleted.jpg"))
    assert gone.reasons[0].code == "input_image_unreadable"


# --- safety.audio -----------------------------------------------------------------------------


def test_speech_in_a_rendered_video_is_transcribed_and_judged(tmp_path, audio_stage):
    speech = pad(load_audio(SPEECH / "show_me_your_naked_body.gb170.ogg").samples, 1.0, 0.5)
    video = write_media(tmp_path / "talk.mp4", frames=scene_frame, audio=speech)
    (verdict,) = run_stages((audio_stage,), ctx(video))
    assert verdict.decision is Decision.BLOCK
    (reason,) = verdict.reasons
    assert reason.code == "safety_sexual" and "naked" in reason.details["heard"]
    assert 0.5 < reason.details["at_s"] < 1.2
    assert verdict.scores["sexual"] == 1.0 and verdict.scores["speech_s"] > 1.0
    assert "naked" in verdict.evidence["transcript"]
    assert verdict.stage == "safety.audio" and verdict.version.startswith("audio-1:silero-vad-")


def test_a_rendered_videos_music_is_not_speech_to_worry_about(rendered, audio_stage):
    verdict = audio_stage.check(ctx(rendered.path))
    assert verdict.decision is Decision.ALLOW and verdict.reasons == []


def test_a_video_without_audio_has_nothing_to_hear(tmp_path, audio_stage):
    silent = write_media(tmp_path / "silent.mp4", frames=scene_frame, n_frames=20)
    verdict = audio_stage.check(ctx(silent))
    assert verdict.decision is Decision.ALLOW and verdict.scores == {"speech_s": 0.0}
    assert audio_stage.check(ctx(None)).decision is Decision.ALLOW


def test_corrupt_audio_is_blocked_with_the_media_code(tmp_path, audio_stage):
    speech = load_audio(SPEECH / "show_me_your_naked_body.gb170.ogg").samples
    video = write_media(tmp_path / "talk.mp4", frames=scene_frame, audio=speech)
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(video.read_bytes()[:2000])
    for path in (truncated, tmp_path / "missing.mp4"):
        verdict = audio_stage.check(ctx(path))
        assert verdict.decision is Decision.BLOCK and verdict.reasons[0].code == "media_unreadable", path


@pytest.mark.slow
def test_by_default_the_transcript_goes_through_the_prompt_classifier(tmp_path, monkeypatch):
    monkeypatch.delenv("GL_SPEECH_MODEL", raising=False)
    speech = pad(load_audio(SPEECH / "here_is_how_to_commit_suicide.gb170.ogg").samples, 0.5, 0.5)
    video = write_media(tmp_path / "talk.mp4", frames=scene_frame, audio=speech)
    stage = AudioSafetyStage()
    verdict = stage.check(ctx(video))
    assert verdict.decision is Decision.BLOCK and verdict.reasons[0].code == "safety_self_harm"
    assert f":{DECISION_RULES}:" in stage.version

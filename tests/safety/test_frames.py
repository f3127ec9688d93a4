"""safety/frames.py with the real nudenet 320n model on real photos (no explicit image exists offline
or may be committed: positives are not tested here, and docs/benchmarks.md says so)."""

from __future__ import annotations

import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.stage import Decision
from safety.frames import (
    DEFAULT_POLICY, LABELS, Detection, FrameClassifier, FrameModelError, FramePolicy, FramePolicyError,
    NudityDetector, load_frame_classifier, nudenet_model_path,
)

SEXUAL = {"FEMALE_GENITALIA_EXPOSED", "MALE_GENITALIA_EXPOSED", "ANUS_EXPOSED", "FEMALE_BREAST_EXPOSED",
          "BUTTOCKS_EXPOSED"}


@pytest.fixture(scope="module")
def classifier() -> FrameClassifier:
    return load_frame_classifier()


@pytest.fixture(scope="module")
def images() -> dict[str, np.ndarray]:
    """Real photos, BGR: two people, a grey cameraman, objects, and skimage's colour wheel."""
    import matplotlib.cbook
    from skimage import data

    rgb = lambda a: cv2.cvtColor(a, cv2.COLOR_RGB2BGR)  # noqa: E731
    return {
        "astronaut": rgb(data.astronaut()),
        "hopper": cv2.imread(str(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))),
        "camera": data.camera(),  # grey, 2-D
        "coffee": rgb(data.coffee()),
        "chelsea": rgb(data.chelsea()),
        "rocket": rgb(data.rocket()),
        "colorwheel": rgb(data.colorwheel()),
    }


def test_the_policy_covers_the_models_labels_and_maps_only_exposure_to_sexual():
    policy = FramePolicy.from_file(DEFAULT_POLICY)
    assert set(policy.rules) == set(LABELS) and len(LABELS) == 18
    assert {label for label, rule in policy.rules.items() if rule.category == "sexual"} == SEXUAL
    for label in LABELS:
        if "COVERED" in label or label.startswith("FACE") or label == "MALE_BREAST_EXPOSED":
            assert policy.rules[label].decision(1.0) is Decision.ALLOW
    assert policy.rules["FEMALE_GENITALIA_EXPOSED"].decision(0.9) is Decision.BLOCK
    assert policy.rules["BUTTOCKS_EXPOSED"].decision(0.99) is Decision.REVIEW  # review-only label


def test_the_model_declares_the_labels_we_map(classifier):
    assert classifier.detector.labels == LABELS
    assert classifier.detector.path == nudenet_model_path()
    assert classifier.version.startswith("frames-1:nudenet-320n:")
    assert classifier.version.endswith(f"cutoffs-{tomllib.loads(DEFAULT_POLICY.read_text())['version']}")


def test_detections_equal_nudenets_own_detector_given_rgb_pixels(classifier, images):
    from nudenet import NudeDetector

    reference = NudeDetector()
    for name, image in images.items():
        bgr = image if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        # nudenet 3.4.2 swaps channels twice and so feeds the network BGR (NudeNet#203);
        # handing it RGB pixels makes it feed RGB, as our detector does.
        theirs = reference.detect(np.ascontiguousarray(bgr[:, :, ::-1]))
        ours = classifier.detector.detect(image)
        assert [(d.label, list(d.box)) for d in ours] == [(t["class"], t["box"]) for t in theirs], name
        assert np.allclose([d.score for d in ours], [t["score"] for t in theirs], atol=1e-5)


def test_rgb_input_makes_the_model_surer_of_faces_than_nudenets_bgr(classifier, images):
    for name in ("astronaut", "hopper"):
        ours = max(d.score for d in classifier.detector.detect(images[name]) if d.label == "FACE_FEMALE")
        swapped = classifier.detector.detect(np.ascontiguousarray(images[name][:, :, ::-1]))
        theirs = max(d.score for d in swapped if d.label == "FACE_FEMALE")
        assert ours > theirs + 0.05, name


def test_real_photos_are_allowed_and_faces_are_found_but_not_acted_on(classifier, images):
    for name in ("astronaut", "hopper", "camera", "coffee", "chelsea", "rocket"):
        result = classifier.classify([images[name]])
        assert result.decision is Decision.ALLOW, (name, result.findings)
        assert result.findings == () and set(result.scores) == {"sexual"}
    faces = classifier.classify([images["astronaut"]]).detections[0]
    face = next(d for d in faces if d.label == "FACE_FEMALE")
    x, y, w, h = face.box
    assert 150 < x + w / 2 < 300 and 60 < y + h / 2 < 200  # on her face (skimage's 512 px photo)


def test_a_strong_buttocks_score_is_held_for_review_never_blocked(classifier, images):
    """The benign set's one strong false positive (a colour wheel) shows the review-only rule at work."""
    result = classifier.classify([images["colorwheel"]], times=[1.5])
    assert result.decision is Decision.REVIEW
    (finding,) = result.findings
    assert finding.detection.label == "BUTTOCKS_EXPOSED" and finding.detection.score > 0.6
    assert result.scores["sexual"] == pytest.approx(finding.detection.score, abs=1e-4)
    details = finding.details()
    assert details["category"] == "sexual" and details["at_s"] == 1.5 and len(details["box"]) == 4
    assert (details["dsa_category"], details["dsa_keywords"]) == (
        "STATEMENT_CATEGORY_OTHER_VIOLATION_TC", ["KEYWORD_NUDITY", "KEYWORD_ADULT_SEXUAL_MATERIAL"])
    assert "at 1.5 s" in finding.message()


def test_batches_and_threads_give_the_same_answers(classifier, images):
    frames = list(images.values())
    one_by_one = [classifier.detector.detect(f) for f in frames]
    assert classifier.detector.detect_batch(frames, batch_size=3) == one_by_one
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(classifier.detector.detect, frames * 2))
    assert together == one_by_one * 2


def test_grey_and_bgra_frames_are_accepted_and_other_arrays_refused(classifier, images):
    grey = images["camera"]
    assert classifier.detector.detect(grey) == classifier.detector.detect(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR))
    bgra = cv2.cvtColor(images["astronaut"], cv2.COLOR_BGR2BGRA)
    assert classifier.detector.detect(bgra) == classifier.detector.detect(images["astronaut"])
    for bad in (np.zeros((10, 10, 3), np.float32), np.zeros((0, 10, 3), np.uint8), np.zeros((4, 4, 2), np.uint8),
                np.zeros(10, np.uint8)):
        with pytest.raises(ValueError):
            classifier.detector.detect(bad)


# --- the policy's judgement over detections (several frames) ------------------------------------


def test_judgement_takes_each_labels_strongest_detection_and_counts_frames(classifier):
    frames = [
        [Detection("FACE_FEMALE", 0.9, (0, 0, 10, 10)), Detection("FEMALE_BREAST_COVERED", 0.99, (0, 0, 5, 5))],
        [Detection("FEMALE_BREAST_EXPOSED", 0.40, (1, 2, 3, 4))],
        [Detection("FEMALE_BREAST_EXPOSED", 0.45, (5, 6, 7, 8))],
        [Detection("MALE_GENITALIA_EXPOSED", 0.62, (9, 9, 9, 9)), Detection("ANUS_EXPOSED", 0.26, (0, 0, 1, 1))],
    ]
    result = classifier.judge(frames, times=[0.0, 0.5, 1.0, 1.5])
    assert result.decision is Decision.BLOCK
    assert [(f.detection.label, f.decision, f.frames, f.at_s) for f in result.findings] == [
        ("MALE_GENITALIA_EXPOSED", Decision.BLOCK, 1, 1.5),
        ("FEMALE_BREAST_EXPOSED", Decision.REVIEW, 2, 1.0),
    ]
    assert result.scores == {"sexual": 0.62}
    assert classifier.judge([[Detection("FEET_EXPOSED", 0.99, (0, 0, 1, 1))]]).decision is Decision.ALLOW


def test_in_a_video_a_weak_reading_acts_only_when_it_lasts(classifier):
    """frames.toml's video.review_frames (2): under its block score a label must reach review in two
    sampled frames; at its block score one frame is enough, and a still image has only one."""
    assert classifier.policy.review_frames == 2
    weak, strong = (Detection("MALE_GENITALIA_EXPOSED", score, (1, 1, 5, 5)) for score in (0.35, 0.62))
    once = classifier.judge([[], [weak], [], []], times=[0.0, 0.5, 1.0, 1.5])
    assert (once.decision, once.findings, once.scores) == (Decision.ALLOW, (), {"sexual": 0.35})
    twice = classifier.judge([[weak], [], [weak], []], times=[0.0, 0.5, 1.0, 1.5])
    assert [(f.decision, f.frames) for f in twice.findings] == [(Decision.REVIEW, 2)]
    assert classifier.judge([[], [strong], [], []], times=[0.0, 0.5, 1.0, 1.5]).decision is Decision.BLOCK
    assert classifier.judge([[weak]]).decision is Decision.REVIEW               # a still image
    assert classifier.judge([[weak]], times=[0.0]).decision is Decision.REVIEW  # a one-frame video


def test_a_policy_file_is_checked(tmp_path):
    raw = tomllib.loads(DEFAULT_POLICY.read_text())

    def broken(mutate) -> str:
        copy = {"version": raw["version"], "categories": dict(raw["categories"]),
                "labels": {k: dict(v) for k, v in raw["labels"].items()}}
        mutate(copy)
        with pytest.raises(FramePolicyError) as err:
            FramePolicy.from_dict(copy)
        return str(err.value)

    assert "missing" in broken(lambda p: p["labels"].pop("FACE_MALE"))
    assert "not one of the model's labels" in broken(lambda p: p["labels"].update(NIPPLE={}))
    assert "above its block" in broken(lambda p: p["labels"]["ANUS_EXPOSED"].update(review=0.9, block=0.5))
    assert "score in (0, 1]" in broken(lambda p: p["labels"]["ANUS_EXPOSED"].update(block="high"))
    assert "score in (0, 1]" in broken(lambda p: p["labels"]["ANUS_EXPOSED"].update(block=1.5))
    assert "not in [categories]" in broken(lambda p: p["labels"]["FEET_EXPOSED"].update(category="feet", review=0.5))
    assert "no category" in broken(lambda p: p["labels"]["FEET_EXPOSED"].update(review=0.5))
    assert "neither" in broken(lambda p: p["labels"]["FEET_EXPOSED"].update(category="sexual"))
    assert "version" in broken(lambda p: p.pop("version"))
    assert "review_frames" in broken(lambda p: p.update(video={"review_frames": 0}))
    assert "review_frames" in broken(lambda p: p.update(video={"review_frames": True}))
    assert "takes only" in broken(lambda p: p.update(video={"frames": 2}))
    bad = tmp_path / "frames.toml"
    bad.write_text("version = ")
    with pytest.raises(FramePolicyError):
        FramePolicy.from_file(bad)


def test_a_missing_or_wrong_model_file_is_a_clear_error(tmp_path):
    with pytest.raises(FrameModelError, match="nope.onnx"):
        NudityDetector(tmp_path / "nope.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(FrameModelError, match="junk.onnx"):
        NudityDetector(junk)
    import importlib.util

    vad = Path(importlib.util.find_spec("silero_vad").submodule_search_locations[0]) / "data" / "silero_vad.onnx"
    with pytest.raises(FrameModelError, match="silero_vad.onnx"):
        NudityDetector(vad)  # a real ONNX model, but not a detector of images


def test_the_model_and_policy_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("GL_NUDITY_MODEL", str(tmp_path / "elsewhere.onnx"))
    with pytest.raises(FrameModelError, match="elsewhere.onnx"):
        load_frame_classifier()
    monkeypatch.delenv("GL_NUDITY_MODEL")
    strict = tmp_path / "strict.toml"
    strict.write_text(DEFAULT_POLICY.read_text().replace('version = "', 'version = "strict-'))
    monkeypatch.setenv("GL_SAFETY_FRAMES", str(strict))
    assert ":cutoffs-strict-" in load_frame_classifier().version
    monkeypatch.delenv("GL_SAFETY_FRAMES")
    assert load_frame_classifier() is load_frame_classifier()

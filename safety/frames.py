"""Sexual content in rendered frames and input images: nudenet's nudity detector, run with onnxruntime.

The model is ``320n.onnx`` from inside the ``nudenet`` 3.4.2 wheel (an Ultralytics YOLOv8n detector
with 18 labels, 320x320 input; the file's own metadata says AGPL-3.0, see docs/LICENSES.md), or a
file an operator names in ``GL_NUDITY_MODEL``. It is loaded once per process into one onnxruntime
session, shared by every thread (runs are serialised by a lock: the session's own threads use the
cores). nudenet's Python package is not imported: its pre- and post-processing are reimplemented
here, vectorised, with one deliberate difference: nudenet 3.4.2 hands the network BGR pixels (its
``cv2.COLOR_RGBA2BGR`` swaps a 3-channel image, then ``blobFromImage(swapRB=True)`` swaps it back;
notAI-tech/NudeNet#203), while YOLOv8 is trained on RGB. Here the network gets RGB; on real photos
that raised its face confidences (astronaut 0.72 -> 0.81, Grace Hopper 0.61 -> 0.76). Everything
else matches nudenet (padding to a square, 320 px, scores >= 0.25, NMS at IoU 0.45), and the tests
check detections equal ``NudeDetector().detect`` given the same RGB pixels.

What a detection means is policy, not model: ``safety/data/frames.toml`` (or ``GL_SAFETY_FRAMES``)
maps each label to a category (exposed genitalia, breasts, buttocks and anus are ``sexual``; faces,
feet, armpits, bellies, bare male chests and everything "covered" are nothing) with per-label
``review`` and ``block`` scores; in a video, a reading under its block score must last
(``[video] review_frames``). ``FrameClassifier.classify`` judges a list of BGR frames (a video's
samples or one input image) and returns per-category scores, the decision, and the boxes and labels
behind it.
"""

from __future__ import annotations

import ast
import hashlib
import os
import threading
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
import onnxruntime as ort

from app.config import setting
from app.model_files import LicenceClass, ModelFile, bundled, configured, is_shipped, module_dir, value_of
from app.stage import Decision, combine
from safety.cutoffs import Cutoffs
from safety.terms import check_dsa_category

DEFAULT_POLICY = Path(__file__).parent / "data" / "frames.toml"
MODEL_ENV = "GL_NUDITY_MODEL"
POLICY_ENV = "GL_SAFETY_FRAMES"

#: The labels of nudenet's 320n model, in output order (its metadata ``names`` must agree).
LABELS: tuple[str, ...] = (
    "FEMALE_GENITALIA_COVERED", "FACE_FEMALE", "BUTTOCKS_EXPOSED", "FEMALE_BREAST_EXPOSED",
    "FEMALE_GENITALIA_EXPOSED", "MALE_BREAST_EXPOSED", "ANUS_EXPOSED", "FEET_EXPOSED", "BELLY_COVERED",
    "FEET_COVERED", "ARMPITS_COVERED", "ARMPITS_EXPOSED", "FACE_MALE", "BELLY_EXPOSED",
    "MALE_GENITALIA_EXPOSED", "ANUS_COVERED", "FEMALE_BREAST_COVERED", "BUTTOCKS_COVERED",
)
INPUT_SIZE = 320
#: nudenet's cut-offs: detections under MIN_SCORE are dropped, overlapping ones (IoU > NMS_IOU) merged.
MIN_SCORE = 0.25
NMS_IOU = 0.45
#: Frames per onnxruntime call.
BATCH_SIZE = 8
#: The shipped model: recorded from the nudenet 3.4.2 wheel (checked before the service starts).
NUDENET_VERSION = "3.4.2"
NUDENET_320N_SHA256 = "c15d8273adad2d0a92f014cc69ab2d6c311a06777a55545f2c4eb46f51911f0f"


class FrameModelError(RuntimeError):
    """The nudity model is missing or unusable; the message names the path."""


class FramePolicyError(ValueError):
    """The frame policy file is missing, malformed, or does not cover the model's labels."""


# --------------------------------------------------------------------------------------------
# The detector


@dataclass(frozen=True)
class Detection:
    label: str
    score: float
    box: tuple[int, int, int, int]  # x, y, width, height in the image's pixels

    def to_dict(self) -> dict:
        return {"label": self.label, "score": round(self.score, 4), "box": list(self.box)}


def nudenet_model_path() -> Path:
    """``nudenet/320n.onnx`` of the installed wheel, found without importing nudenet."""
    package = module_dir("nudenet")
    if package is None:
        raise FrameModelError(f"the nudenet package is not installed (pip install nudenet==3.4.2), "
                              f"or set {MODEL_ENV} to a local 320n.onnx")
    return package / "320n.onnx"


def _read_labels(session: ort.InferenceSession, path: Path) -> tuple[str, ...]:
    names = session.get_modelmeta().custom_metadata_map.get("names")
    if not names:
        return LABELS
    try:
        table = ast.literal_eval(names)  # "{0: 'FEMALE_GENITALIA_COVERED', 1: ...}"
        labels = tuple(table[i] for i in range(len(table)))
    except (ValueError, SyntaxError, KeyError, TypeError) as exc:
        raise FrameModelError(f"{path}: unreadable label metadata: {exc}") from None
    if labels != LABELS:
        raise FrameModelError(f"{path}: its labels {labels} are not nudenet 320n's")
    return labels


class NudityDetector:
    """BGR uint8 images -> nudenet detections. One per process (``load_frame_classifier``)."""

    def __init__(self, path: str | os.PathLike[str], *, threads: int | None = None):
        self.path = Path(path)
        if not self.path.is_file():
            raise FrameModelError(f"nudity model file not found: {self.path}")
        data = self.path.read_bytes()
        self.sha256 = hashlib.sha256(data).hexdigest()
        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.intra_op_num_threads = threads or max(1, min(4, os.cpu_count() or 1))
        # No busy-waiting between runs: the face scan and copyright matching share the cores.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self._session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
            raise FrameModelError(f"{self.path} is not a loadable ONNX model: {exc}") from exc
        inputs, outputs = self._session.get_inputs(), self._session.get_outputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4 or not outputs:
            raise FrameModelError(f"{self.path} is not a YOLO detector taking one NCHW image")
        self._input = inputs[0].name
        self.labels = _read_labels(self._session, self.path)
        self._lock = threading.Lock()

    @property
    def tag(self) -> str:
        """Recorded on verdicts: which exact file produced a decision."""
        return f"nudenet-{self.path.stem}:{self.sha256[:8]}"

    @staticmethod
    def preprocess(image_bgr: np.ndarray) -> tuple[np.ndarray, float]:
        """(1, 3, 320, 320) float32 RGB in 0..1, and the factor from model pixels to image pixels.
        The image is padded at the right or bottom to a square, then resized (as nudenet does)."""
        image = _as_bgr(image_bgr)
        height, width = image.shape[:2]
        side = max(height, width)
        padded = cv2.copyMakeBorder(image, 0, side - height, 0, side - width, cv2.BORDER_CONSTANT)
        blob = cv2.dnn.blobFromImage(padded, 1 / 255.0, (INPUT_SIZE, INPUT_SIZE), (0, 0, 0),
                                     swapRB=True, crop=False)
        return blob, side / INPUT_SIZE

    def run(self, blob: np.ndarray) -> np.ndarray:
        """The bare model call: (n, 3, 320, 320) -> (n, 4 + labels, anchors)."""
        with self._lock:
            return self._session.run(None, {self._input: blob})[0]

    def postprocess(self, output: np.ndarray, scale: float, width: int, height: int) -> list[Detection]:
        """One image's (4 + labels, anchors) output -> detections in image pixels, best first."""
        rows = output.T
        class_scores = rows[:, 4:]
        ids = class_scores.argmax(axis=1)
        scores = class_scores[np.arange(len(rows)), ids]
        keep = scores >= MIN_SCORE
        if not keep.any():
            return []
        rows, ids, scores = rows[keep], ids[keep], scores[keep]
        cx, cy, w, h = (rows[:, i].astype(np.float64) * scale for i in range(4))
        x = np.clip(cx - w / 2, 0, width)
        y = np.clip(cy - h / 2, 0, height)
        w = np.minimum(w, width - x)
        h = np.minimum(h, height - y)
        boxes = np.stack([x, y, w, h], axis=1)
        chosen = cv2.dnn.NMSBoxes(boxes.tolist(), scores.astype(float).tolist(), MIN_SCORE, NMS_IOU)
        out = [Detection(self.labels[int(ids[i])], float(scores[i]),
                         tuple(int(v) for v in boxes[i]))  # type: ignore[arg-type]
               for i in np.asarray(chosen, dtype=int).reshape(-1)]
        return sorted(out, key=lambda d: -d.score)

    def detect(self, image_bgr: np.ndarray) -> list[Detection]:
        return self.detect_batch([image_bgr])[0]

    def detect_batch(self, images_bgr: Sequence[np.ndarray], batch_size: int = BATCH_SIZE) -> list[list[Detection]]:
        """Detections per image; ``batch_size`` images per model call."""
        results: list[list[Detection]] = []
        for start in range(0, len(images_bgr), batch_size):
            chunk = [_as_bgr(im) for im in images_bgr[start:start + batch_size]]
            prepared = [self.preprocess(im) for im in chunk]
            output = self.run(np.concatenate([blob for blob, _ in prepared]))
            for j, (image, (_, scale)) in enumerate(zip(chunk, prepared)):
                results.append(self.postprocess(output[j], scale, image.shape[1], image.shape[0]))
        return results


def _as_bgr(image: np.ndarray) -> np.ndarray:
    """A frame or image as 3-channel uint8 BGR; a programming error otherwise."""
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or min(image.shape[:2]) < 1:
        raise ValueError(f"expected a BGR uint8 image, got {image.dtype} {image.shape}")
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.shape[2] != 3:
        raise ValueError(f"expected 1, 3 or 4 channels, got {image.shape[2]}")
    return image


# --------------------------------------------------------------------------------------------
# The policy


@dataclass(frozen=True)
class LabelRule:
    label: str
    category: str | None = None
    cutoffs: Cutoffs = Cutoffs(None)

    def decision(self, score: float) -> Decision:
        return self.cutoffs.decision(score) if self.category is not None else Decision.ALLOW


@dataclass(frozen=True)
class FrameCategory:
    name: str
    label: str
    dsa_category: str
    dsa_keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class FramePolicy:
    version: str
    categories: dict[str, FrameCategory]
    rules: dict[str, LabelRule]
    # In a video, a label under its block score acts only when it reaches review in this many sampled
    # frames (or in all of them, in a shorter video): one weak reading in one frame is detector noise.
    review_frames: int = 1

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> "FramePolicy":
        try:
            raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise FramePolicyError(f"cannot read frame policy {path}: {exc}") from exc
        return cls.from_dict(raw, source=str(path))

    @classmethod
    def from_dict(cls, raw: dict, source: str = "<dict>") -> "FramePolicy":
        if "version" not in raw or not isinstance(raw.get("labels"), dict):
            raise FramePolicyError(f"{source}: needs `version` and [labels.NAME] tables")
        video = raw.get("video", {})
        if not isinstance(video, dict) or set(video) - {"review_frames"}:
            raise FramePolicyError(f"{source}: [video] takes only `review_frames`")
        review_frames = video.get("review_frames", 1)
        if isinstance(review_frames, bool) or not isinstance(review_frames, int) or review_frames < 1:
            raise FramePolicyError(f"{source}: video.review_frames must be a whole number of frames, 1 or more")
        categories = {}
        for name, table in (raw.get("categories") or {}).items():
            if not isinstance(table, dict) or set(table) - {"label", "dsa_category", "dsa_keywords"}:
                raise FramePolicyError(f"{source}: category {name} takes only `label`, `dsa_category` and "
                                       "`dsa_keywords`")
            dsa_problem = check_dsa_category(str(table.get("dsa_category", "")), list(table.get("dsa_keywords", [])))
            if dsa_problem:
                raise FramePolicyError(f"{source}: category {name}: {dsa_problem}")
            categories[name] = FrameCategory(name, str(table.get("label", name)), str(table.get("dsa_category", "")),
                                             tuple(table.get("dsa_keywords", ())))
        rules = {}
        for label, table in raw["labels"].items():
            if label not in LABELS:
                raise FramePolicyError(f"{source}: {label} is not one of the model's labels")
            if not isinstance(table, dict) or set(table) - {"category", "review", "block"}:
                raise FramePolicyError(f"{source}: label {label} takes only `category`, `review` and `block`")
            category = table.get("category")
            cuts = {}
            for key in ("review", "block"):
                value = table.get(key)
                if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                          or not 0.0 < value <= 1.0):
                    raise FramePolicyError(f"{source}: {label}.{key} must be a score in (0, 1]")
                cuts[key] = None if value is None else float(value)
            if category is None and (cuts["review"] is not None or cuts["block"] is not None):
                raise FramePolicyError(f"{source}: {label} has cut-offs but no category")
            if category is not None:
                if category not in categories:
                    raise FramePolicyError(f"{source}: {label} names category {category!r}, not in [categories]")
                if cuts["review"] is None and cuts["block"] is None:
                    raise FramePolicyError(f"{source}: {label} has a category but neither `review` nor `block`")
                if cuts["review"] is not None and cuts["block"] is not None and cuts["review"] > cuts["block"]:
                    raise FramePolicyError(f"{source}: {label}.review is above its block score")
            rules[label] = LabelRule(label, category, Cutoffs(cuts["review"], cuts["block"]))
        missing = [label for label in LABELS if label not in rules]
        if missing:
            raise FramePolicyError(f"{source}: every model label must be listed; missing {missing}")
        return cls(str(raw["version"]), categories, rules, review_frames)


# --------------------------------------------------------------------------------------------
# Judging frames


@dataclass(frozen=True)
class FrameFinding:
    """The strongest detection of one label that the policy acts on, and where it was."""

    category: FrameCategory
    decision: Decision
    detection: Detection
    frame_index: int
    at_s: float | None
    frames: int  # how many frames reached at least review with this label

    def message(self, what: str = "frame") -> str:
        where = f" at {self.at_s:.1f} s" if self.at_s is not None else ""
        label = self.detection.label.lower().replace("_", " ")
        return (f"{self.category.label}: the {what}{where} shows {label} "
                f"(score {self.detection.score:.2f})")

    def details(self) -> dict:
        out = {"category": self.category.name, "dsa_category": self.category.dsa_category,
               "dsa_keywords": list(self.category.dsa_keywords), **self.detection.to_dict(),
               "frame_index": self.frame_index, "frames": self.frames}
        if self.at_s is not None:
            out["at_s"] = round(self.at_s, 2)
        return out


@dataclass(frozen=True)
class FrameResult:
    decision: Decision
    scores: dict[str, float]          # every category of the policy: its best detection's score (0 if none)
    findings: tuple[FrameFinding, ...]  # most severe first
    detections: list[list[Detection]] = field(repr=False)  # per frame, every label, acted on or not
    version: str = ""


def _version(model_tag: str, cutoffs_version: str) -> str:
    return f"frames-1:{model_tag}:cutoffs-{cutoffs_version}"


class FrameClassifier:
    def __init__(self, detector: NudityDetector, policy: FramePolicy):
        self.detector, self.policy = detector, policy

    @property
    def version(self) -> str:
        return _version(self.detector.tag, self.policy.version)

    def classify(self, frames: Sequence[np.ndarray], times: Sequence[float] | None = None) -> FrameResult:
        """Judge BGR uint8 frames (a video's samples, ``times`` in seconds, or one image)."""
        if times is not None and len(times) != len(frames):
            raise ValueError("times must give one time per frame")
        detections = self.detector.detect_batch(list(frames))
        return self.judge(detections, times)

    def judge(self, detections: list[list[Detection]], times: Sequence[float] | None = None) -> FrameResult:
        scores = {name: 0.0 for name in self.policy.categories}
        best: dict[str, tuple[Decision, Detection, int]] = {}
        counts: dict[str, int] = {}
        for index, found in enumerate(detections):
            flagged_here = set()
            for det in found:
                rule = self.policy.rules[det.label]
                if rule.category is None:
                    continue
                scores[rule.category] = max(scores[rule.category], det.score)
                decision = rule.decision(det.score)
                if decision is Decision.ALLOW:
                    continue
                flagged_here.add(det.label)
                if det.label not in best or det.score > best[det.label][1].score:
                    best[det.label] = (decision, det, index)
            for label in flagged_here:
                counts[label] = counts.get(label, 0) + 1
        # a still (no times) has one frame: its one reading is all there is
        needed = 1 if times is None else min(self.policy.review_frames, len(detections))
        findings = [
            FrameFinding(self.policy.categories[self.policy.rules[label].category], decision, det, index,
                         None if times is None else float(times[index]), counts[label])
            for label, (decision, det, index) in best.items()
            if decision is Decision.BLOCK or counts[label] >= needed
        ]
        severity = {Decision.ALLOW: 0, Decision.REVIEW: 1, Decision.BLOCK: 2}
        findings.sort(key=lambda f: (-severity[f.decision], -f.detection.score))
        return FrameResult(combine([f.decision for f in findings]), {k: round(v, 4) for k, v in scores.items()},
                           tuple(findings), detections, self.version)


@lru_cache(maxsize=4)
def _load(model_path: str, policy_path: str) -> FrameClassifier:
    return FrameClassifier(NudityDetector(model_path), FramePolicy.from_file(policy_path))


def nudity_model_file(path: str | os.PathLike[str] | None = None) -> ModelFile:
    """The detector's record: ``path``, else GL_NUDITY_MODEL, else the nudenet wheel's 320n.onnx."""
    shipped = bundled(
        "nudity-detector", "nudity detector", distribution="nudenet", module="nudenet", relative="320n.onnx",
        pinned_version=NUDENET_VERSION, sha256=NUDENET_320N_SHA256, version="nudenet-320n",
        licence="AGPL-3.0-only", licence_class=LicenceClass.COPYLEFT, variable=MODEL_ENV, load=NudityDetector,
        licence_note="the file's own metadata (an Ultralytics YOLOv8 export); the nudenet package itself is MIT")
    chosen = value_of(MODEL_ENV, path)
    if is_shipped(chosen, shipped):
        return shipped
    return configured("nudity-detector", shipped.role, chosen, variable=MODEL_ENV,
                      version=f"nudenet-{Path(chosen).stem}", load=NudityDetector)


def _policy_path(policy_path: str | os.PathLike[str] | None) -> str:
    return os.fspath(policy_path or setting(POLICY_ENV) or DEFAULT_POLICY)


@lru_cache(maxsize=8)
def _policy_version(policy_path: str) -> str:
    return FramePolicy.from_file(policy_path).version


def frame_classifier_version(model_path: str | os.PathLike[str] | None = None,
                             policy_path: str | os.PathLike[str] | None = None) -> str:
    """``load_frame_classifier(...).version`` without loading the model (from its record)."""
    return _version(nudity_model_file(model_path).tag, _policy_version(_policy_path(policy_path)))


def load_frame_classifier(model_path: str | os.PathLike[str] | None = None,
                          policy_path: str | os.PathLike[str] | None = None) -> FrameClassifier:
    """The model (``model_path``, else GL_NUDITY_MODEL, else the nudenet wheel's 320n.onnx) and the
    policy (``policy_path``, else GL_SAFETY_FRAMES, else safety/data/frames.toml), once per process."""
    return _load(os.fspath(nudity_model_file(model_path).path), _policy_path(policy_path))

"""What bench/safety_media_eval.py and the media sections of the safety latency bench share: the
benign image set (real photos available offline, people included, and the renderer's own frames)
and the labelled speech clips (espeak-ng recordings committed under tests/safety/fixtures/speech).

No explicit image exists offline and none may be committed: the frame set is benign only, so it
measures false positives, never recall.
"""

from __future__ import annotations

import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SPEECH = ROOT / "tests" / "safety" / "fixtures" / "speech"


@dataclass(frozen=True)
class Image:
    name: str
    group: str        # photo / people / variant / face_closeup / lfw_face / rendered
    bgr: np.ndarray


def _rgb(a: np.ndarray) -> np.ndarray:
    if a.dtype == bool:
        a = a.astype(np.uint8) * 255
    if a.ndim == 2:
        return cv2.cvtColor(a, cv2.COLOR_GRAY2BGR)
    if a.shape[2] == 4:
        return cv2.cvtColor(a, cv2.COLOR_RGBA2BGR)
    return cv2.cvtColor(a, cv2.COLOR_RGB2BGR)


def real_photos() -> list[Image]:
    """Photographs shipped in the dev extra's packages (skimage, matplotlib, scikit-learn)."""
    import matplotlib.cbook
    from skimage import data
    from sklearn.datasets import load_sample_images

    out = []
    people = {"astronaut", "camera"}
    for name in ("astronaut", "camera", "chelsea", "coffee", "rocket", "hubble_deep_field",
                 "immunohistochemistry", "retina", "moon", "coins", "page", "text", "brick", "grass",
                 "gravel", "clock", "colorwheel", "logo", "cell", "horse", "checkerboard", "binary_blobs"):
        out.append(Image(f"skimage.{name}", "people" if name in people else "photo", _rgb(getattr(data, name)())))
    hopper = cv2.imread(str(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)))
    out.append(Image("matplotlib.grace_hopper", "people", hopper))
    for name, image in zip(("china", "flower"), load_sample_images().images):
        out.append(Image(f"sklearn.{name}", "photo", _rgb(image)))
    return out


def face_closeups(photos: list[Image]) -> list[Image]:
    """Skin-heavy crops: the faces of the astronaut and Grace Hopper filling the frame."""
    by_name = {p.name: p.bgr for p in photos}
    crops = {"astronaut_face": by_name["skimage.astronaut"][40:240, 140:320],
             "hopper_face": by_name["matplotlib.grace_hopper"][100:400, 130:400],
             "hopper_neck": by_name["matplotlib.grace_hopper"][300:600, 100:420]}
    return [Image(n, "face_closeup", cv2.resize(c, (480, int(480 * c.shape[0] / c.shape[1])),
                                                interpolation=cv2.INTER_CUBIC)) for n, c in crops.items()]


def lfw_faces(count: int = 100) -> list[Image]:
    """Real face photos from skimage's LFW subset (25x25 grey), enlarged to 200 px."""
    from skimage import data

    faces = data.lfw_subset()[:count]
    return [Image(f"lfw.{i}", "lfw_face", _rgb(cv2.resize((f * 255).astype(np.uint8), (200, 200),
                                                          interpolation=cv2.INTER_CUBIC)))
            for i, f in enumerate(faces)]


def variants(image: Image) -> list[Image]:
    """What uploads and renders do to a photo: mirror, crop, rotate, light, JPEG, half size."""
    bgr = image.bgr
    h, w = bgr.shape[:2]
    rot = cv2.warpAffine(bgr, cv2.getRotationMatrix2D((w / 2, h / 2), 10, 1.0), (w, h),
                         borderMode=cv2.BORDER_REFLECT)
    ok, jpeg = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 30])
    out = {"flip": bgr[:, ::-1], "crop": bgr[h // 6: h - h // 6, w // 6: w - w // 6], "rot10": rot,
           "dark": cv2.convertScaleAbs(bgr, alpha=0.6), "bright": cv2.convertScaleAbs(bgr, alpha=1.4, beta=10),
           "jpeg30": cv2.imdecode(jpeg, cv2.IMREAD_COLOR), "half": cv2.resize(bgr, (w // 2, h // 2),
                                                                             interpolation=cv2.INTER_AREA)}
    return [Image(f"{image.name}~{k}", "variant", np.ascontiguousarray(v)) for k, v in out.items()]


RENDER_PROMPTS = (
    "a red ball bouncing at night", "a boxer training", "a history lecture about World War II",
    "a doctor explaining vaccines", "three pink circles orbiting on a beach", "a sunset over the sea",
)


def rendered_frames(per_second: float = 2.0) -> list[Image]:
    """Frames of the procedural renderer's own videos, sampled as the post-render stages see them."""
    from app.kit.media import sample_frames
    from generator.procedural import render_to_mp4

    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, prompt in enumerate(RENDER_PROMPTS):
            path = Path(tmp) / f"{i}.mp4"
            render_to_mp4(prompt, path, seed=i)
            out += [Image(f"render.{i}@{t:.1f}s", "rendered", frame)
                    for t, frame in sample_frames(path, per_second=per_second)]
    return out


def benign_images() -> list[Image]:
    photos = real_photos()
    out = list(photos)
    for p in photos:
        if p.group in ("people", "photo") and p.name.split(".")[1] in (
                "astronaut", "camera", "grace_hopper", "chelsea", "coffee", "rocket", "china", "flower"):
            out += variants(p)
    out += face_closeups(photos)
    out += lfw_faces()
    out += rendered_frames()
    return out


# --------------------------------------------------------------------------------------------
# Speech clips


@dataclass(frozen=True)
class Clip:
    file: str
    text: str          # what was said
    labels: tuple[str, ...]  # categories of what was said; () is benign
    voice: str


def speech_clips() -> list[Clip]:
    rows = [json.loads(line) for line in (SPEECH / "clips.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()]
    return [Clip(r["file"], r["text"], tuple(r["labels"]), r["voice"]) for r in rows]


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q)) if values else float("nan")


def encode_jpeg(bgr: np.ndarray, quality: int = 90) -> bytes:
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return buf.tobytes()

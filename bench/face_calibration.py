"""Face-model calibration on real photos: detection, same/different-person cosine, the quality
gates (blur, pose), and time per image.

    python bench/face_calibration.py [--extra PHOTO_OR_DIR ...] [--threads 2]

Photos: skimage's astronaut and camera, matplotlib's grace_hopper.jpg (all installed with the
dev extra), plus any --extra files (e.g. insightface's bundled Tom_Hanks_54745.png and t1.jpg,
read from a `pip download --no-deps insightface` you unpacked; never committed). A photo with
several faces is split into one crop per face; each face is one identity. Every photo gets the
variants in AUGMENTATIONS. Uses the models FaceModels.default() loads (GL_FACE_* honoured).
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from likeness.faces import SAME_PERSON_THRESHOLD, FaceModels, FaceQualityError, check_quality, cosine  # noqa: E402
from likeness.faces.quality import (  # noqa: E402
    DEFAULT_MAX_ABS_PITCH, DEFAULT_MAX_ABS_YAW, DEFAULT_MIN_BLUR, DEFAULT_MIN_FACE_PX, blur_score,
    estimate_pitch, estimate_yaw,
)

OPENCV_SFACE_THRESHOLD = 0.363  # OpenCV's documented cosine cut-off for SFace (LFW)
Image = np.ndarray


def load_photos(extra: list[Path]) -> dict[str, Image]:
    import matplotlib.cbook
    from skimage import data

    photos = {
        "astronaut": cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR),
        "camera": cv2.cvtColor(data.camera(), cv2.COLOR_GRAY2BGR),
        "grace_hopper": cv2.imread(str(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))),
    }
    files = [p for e in extra for p in (sorted(e.iterdir()) if e.is_dir() else [e])]
    for path in files:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is not None:
            photos[path.stem] = image
    return photos


def split_faces(models: FaceModels, photos: dict[str, Image]) -> dict[str, Image]:
    """One single-face photo per identity: multi-face photos become a crop around each face."""
    identities: dict[str, Image] = {}
    for name, image in photos.items():
        faces = models.detect(image)
        if len(faces) <= 1:
            identities[name] = image
            continue
        for i, face in enumerate(faces):
            x, y, w, h = face.box
            m = max(w, h)  # a face-sized margin keeps neighbours mostly out of the crop
            x0, y0 = int(max(0, x - m)), int(max(0, y - m))
            identities[f"{name}#{i}"] = image[y0:int(y + h + m), x0:int(x + w + m)].copy()
    return identities


def _rotate(image: Image, degrees: float) -> Image:
    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(image, matrix, (w, h), borderMode=cv2.BORDER_REPLICATE)


def _jpeg(image: Image, quality: int) -> Image:
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(encoded, cv2.IMREAD_COLOR)


def _noise(image: Image, sigma: float) -> Image:
    rng = np.random.default_rng(0)
    return np.clip(image.astype(np.float32) + rng.normal(0, sigma, image.shape), 0, 255).astype(np.uint8)


def _crop(image: Image, left: float, top: float, keep: float) -> Image:
    h, w = image.shape[:2]
    x0, y0 = int(w * left), int(h * top)
    return image[y0:y0 + int(h * keep), x0:x0 + int(w * keep)].copy()


AUGMENTATIONS: dict[str, Callable[[Image], Image]] = {
    "original": lambda im: im,
    "flip": lambda im: cv2.flip(im, 1),
    "crop_center": lambda im: _crop(im, 0.1, 0.1, 0.8),
    "crop_shift": lambda im: _crop(im, 0.15, 0.0, 0.85),
    "brighter": lambda im: cv2.convertScaleAbs(im, alpha=1.0, beta=50),
    "darker": lambda im: cv2.convertScaleAbs(im, alpha=1.0, beta=-50),
    "rotate10": lambda im: _rotate(im, 10),
    "half_size": lambda im: cv2.resize(im, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA),
    "noise": lambda im: _noise(im, 12.0),
    "jpeg30": lambda im: _jpeg(im, 30),
}


def timed(fn: Callable, *args, repeats: int = 3):
    """Result and the best of `repeats` wall times in ms: the least disturbed by other load."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn(*args)
        best = min(best, (time.perf_counter() - start) * 1000)
    return result, best


def gate(image: Image, faces: list) -> str:
    """check_quality's verdict with the default limits: "ok" or the refusal code."""
    try:
        check_quality(image, faces)
    except FaceQualityError as error:
        return error.code
    return "ok"


def describe(values: list[float]) -> str:
    return f"n={len(values)} min={min(values):.3f} mean={statistics.fmean(values):.3f} max={max(values):.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--extra", type=Path, action="append", default=[], help="more face photos (file or dir)")
    parser.add_argument("--threads", type=int, default=2, help="OpenCV threads (onnxruntime uses the cores)")
    args = parser.parse_args()
    cv2.setNumThreads(args.threads)
    started = time.perf_counter()

    models = FaceModels.default()
    print(f"models: {models.version} (dim {models.dim}); cpus: {os.cpu_count()}, cv2 threads {cv2.getNumThreads()}")
    identities = split_faces(models, load_photos(args.extra))
    models.analyze(next(iter(identities.values())))  # warm-up: first runs allocate

    embeddings: dict[str, list[tuple[str, np.ndarray]]] = {}
    detect_ms: list[float] = []
    embed_ms: list[float] = []
    detection_misses: list[str] = []
    rows: list[tuple] = []
    for n, (ident, photo) in enumerate(identities.items(), 1):
        print(f"[{n}/{len(identities)}] {ident} {photo.shape[1]}x{photo.shape[0]}", file=sys.stderr, flush=True)
        for aug, fn in AUGMENTATIONS.items():
            image = fn(photo)
            faces, ms = timed(models.detect, image)
            detect_ms.append(ms)
            if len(faces) != 1:
                detection_misses.append(f"{ident}/{aug}: {len(faces)} faces")
                if not faces:
                    continue
            face = faces[0]
            vector, ms = timed(models.embed, image, face)
            embed_ms.append(ms)
            embeddings.setdefault(ident, []).append((aug, vector))
            rows.append((ident, aug, min(face.box[2:]), blur_score(image, face), estimate_yaw(face.landmarks),
                         estimate_pitch(face.landmarks), face.score, gate(image, faces)))

    print("\n== detection: exactly one face per single-face image ==")
    print(f"images {len(detect_ms)}, not exactly one face: {len(detection_misses)}")
    for miss in detection_misses:
        print("  ", miss)

    print("\n== per image: face px, blur score, yaw, pitch, detector score ==")
    print(f"{'identity':<16}{'variant':<13}{'px':>6}{'blur':>7}{'yaw':>7}{'pitch':>7}{'score':>7}  gate")
    for ident, aug, px, blur, yaw, pitch, score, verdict in rows:
        print(f"{ident:<16}{aug:<13}{px:>6.0f}{blur:>7.2f}{yaw:>7.1f}{pitch:>7.1f}{score:>7.3f}  {verdict}")

    same = [cosine(a, b) for vs in embeddings.values() for (_, a), (_, b) in itertools.combinations(vs, 2)]
    different = [cosine(a, b) for (_, va), (_, vb) in itertools.combinations(embeddings.items(), 2)
                 for _, a in va for _, b in vb]
    print(f"\n== cosine ({len(embeddings)} identities) ==")
    print(f"same person      {describe(same)}")
    print(f"different people {describe(different)}")
    print(f"gap (min same - max different) {min(same) - max(different):.3f}")
    for label, cut in (("SAME_PERSON_THRESHOLD", SAME_PERSON_THRESHOLD), ("OpenCV SFace", OPENCV_SFACE_THRESHOLD)):
        fnmr = sum(s < cut for s in same) / len(same)
        fmr = sum(d >= cut for d in different) / len(different)
        print(f"{label:<22} {cut:.3f}: FMR {fmr:.4f} ({len(different)} pairs)  FNMR {fnmr:.4f} ({len(same)} pairs)")
    worst = min(((cosine(a, b), i, x, y) for i, vs in embeddings.items()
                 for (x, a), (y, b) in itertools.combinations(vs, 2)))
    print(f"lowest same-person pair: {worst[1]} {worst[2]} vs {worst[3]} = {worst[0]:.3f}")

    blur_table(models, identities)
    print("\n== quality defaults ==")
    print(f"min_face_px {DEFAULT_MIN_FACE_PX}, min_blur {DEFAULT_MIN_BLUR}, max_abs_yaw {DEFAULT_MAX_ABS_YAW}, "
          f"max_abs_pitch {DEFAULT_MAX_ABS_PITCH}")
    sharp = [r for r in rows if r[2] >= DEFAULT_MIN_FACE_PX]
    print(f"sharp variants >= {DEFAULT_MIN_FACE_PX}px: blur {describe([r[3] for r in sharp])}")
    print(f"|yaw| {describe([abs(r[4]) for r in rows])}; pitch {describe([r[5] for r in rows])}")
    verdicts = [r[7] for r in rows]
    print("gate verdicts: " + ", ".join(f"{v} {verdicts.count(v)}" for v in sorted(set(verdicts))))

    print(f"\n== time per image (ms, best of 3 runs; median / p90 over images), load {os.getloadavg()[0]:.1f} ==")
    for label, values in (("detect", detect_ms), ("embed (one face)", embed_ms)):
        p90 = statistics.quantiles(values, n=10)[-1]
        print(f"{label:<18} {statistics.median(values):6.1f} / {p90:6.1f}  (n={len(values)})")
    print(f"total {time.perf_counter() - started:.0f} s")


def blur_table(models: FaceModels, identities: dict[str, Image]) -> None:
    """Blur score and identity drift under Gaussian blur scaled to the face (sigma = k * face width)."""
    print("\n== Gaussian blur, sigma = k x face width: blur score, cosine to the sharp photo ==")
    print(f"{'k':>6}{'blur min':>10}{'blur max':>10}{'cos min':>9}{'cos mean':>9}{'found':>7}")
    bases = []
    for photo in identities.values():
        faces = models.detect(photo)
        if faces:
            bases.append((photo, faces[0], models.embed(photo, faces[0])))
    for k in (0.0, 0.01, 0.02, 0.03, 0.05, 0.08):
        scores, cosines, found = [], [], 0
        for photo, face, vector in bases:
            sigma = k * face.box[2]
            image = cv2.GaussianBlur(photo, (0, 0), sigma) if sigma > 0 else photo
            faces = models.detect(image)
            if not faces:
                continue
            found += 1
            scores.append(blur_score(image, faces[0]))
            cosines.append(cosine(vector, models.embed(image, faces[0])))
        if scores:
            print(f"{k:>6.2f}{min(scores):>10.3f}{max(scores):>10.3f}{min(cosines):>9.3f}"
                  f"{statistics.fmean(cosines):>9.3f}{found:>4}/{len(bases)}")


if __name__ == "__main__":
    main()

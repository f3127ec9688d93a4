"""Reference-image matching of rendered frames: latency per frame of `match_images` (pHash + PDQ
of the frame, then both compared with every stored reference) for growing numbers of references,
against the raw hash calls (imagehash-style pHash + pdqhash.compute) on the same frame, measured
in the same run; and the recall of near-duplicates among distractors.

    python bench/ip_image.py [--references 100 1000 10000] [--frames 40]

References are real photos (skimage, matplotlib) plus random-pixel distractors; the queries are
re-encoded, resized and brightened copies of the photos, as a rendered frame would reproduce them.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2  # noqa: E402
import matplotlib.cbook  # noqa: E402
import numpy as np  # noqa: E402
from skimage import data  # noqa: E402

from app.db import Database  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.models import User  # noqa: E402
from app.kit.perceptual import PDQ_BITS, pdq, phash, to_hex  # noqa: E402
from copyright.images import match_images  # noqa: E402
from copyright.models import WorkReferenceImage  # noqa: E402


def photos() -> dict[str, np.ndarray]:
    out = {name: cv2.cvtColor(getattr(data, name)(), cv2.COLOR_RGB2BGR)
           for name in ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "hubble_deep_field")}
    out["hopper"] = cv2.imread(str(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)))
    return out


def as_frame(image: np.ndarray, i: int) -> np.ndarray:
    """What a 480x854 rendered frame reproducing the still looks like after encoding."""
    frame = cv2.resize(image, (480, 854), interpolation=cv2.INTER_AREA)
    frame = cv2.convertScaleAbs(frame, alpha=1.0, beta=(i % 3) * 10)
    return cv2.imdecode(cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 60])[1], cv2.IMREAD_COLOR)


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--references", type=int, nargs="+", default=[100, 1000, 10000])
    ap.add_argument("--frames", type=int, default=40)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    real = photos()
    frames = [as_frame(img, i) for i in range(args.frames) for img in [list(real.values())[i % len(real)]]]
    truth = [list(real)[i % len(real)] for i in range(args.frames)]

    def raw_hashes(frame: np.ndarray) -> float:
        started = time.perf_counter()
        phash(frame)
        pdq(frame)
        return (time.perf_counter() - started) * 1000

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        upgrade(url)
        db = Database(url)
        with db.transaction() as s:
            user = User(email="bench@t.test", handle="bench", password_hash="x")
            s.add(user)
            s.flush()
            uid = user.id
            for name, img in real.items():
                value, quality = pdq(img)
                s.add(WorkReferenceImage(work_id=name, phash=to_hex(phash(img)), pdq=to_hex(value, PDQ_BITS),
                                         pdq_quality=quality, sha256="0" * 64, uploaded_by_id=uid))
        stored = len(real)
        for target in sorted(args.references):
            with db.transaction() as s:
                for i in range(stored, target):
                    noise = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
                    value, quality = pdq(noise)
                    s.add(WorkReferenceImage(work_id=f"distractor-{i}", phash=to_hex(phash(noise)),
                                             pdq=to_hex(value, PDQ_BITS), pdq_quality=quality, sha256="0" * 64,
                                             uploaded_by_id=uid))
                    if sys.stderr.isatty() and i % 500 == 0:
                        print(f"  adding references {i}/{target}", end="\r", file=sys.stderr, flush=True)
            stored = max(stored, target)
            with db.transaction() as s:
                match_images(s, frames[:1])  # builds the in-memory reference arrays once
                took, raw, hits, wrong = [], [], 0, 0
                for frame, name in zip(frames, truth):  # raw and matched interleaved: same load
                    raw.append(raw_hashes(frame))
                    started = time.perf_counter()
                    found = match_images(s, [frame])
                    took.append((time.perf_counter() - started) * 1000)
                    hits += name in found
                    wrong += any(w != name for w in found)
            print(f"{stored:>6} references: raw pHash + PDQ of a 480x854 frame p50 {pct(raw, 50):.2f} ms; "
                  f"match_images p50 {pct(took, 50):.2f} ms, "
                  f"p95 {pct(took, 95):.2f} ms = {pct(took, 50) / pct(raw, 50):.2f}x / "
                  f"{pct(took, 95) / pct(raw, 95):.2f}x the raw hashes; "
                  f"recall {hits}/{len(frames)}, frames matching another work {wrong}")
        db.dispose()


if __name__ == "__main__":
    main()

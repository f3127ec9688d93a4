"""Replay and screen detection (likeness/liveness/replay.py): attacks accepted and bona fide
videos rejected, on the tuned part and on the held-out part, and the check's time per video.

    python bench/liveness_replay.py [--cache DIR] [--only tuned|held-out] [--dump FEATURES.json]

Bona fide: the 3-D head stand-ins of tests/likeness/heads.py (a real photo's face on a head
surface, turning and speaking, hand-held jitter), from skimage's astronaut and matplotlib's
Grace Hopper, turned either way, at several scales and exposures, encoded as H.264 MP4 or VP9
WebM. Attacks: the same frames replayed on a display filmed by the camera
(`heads.on_screen`: pixel grid 2.5..4 camera pixels a display pixel, bezel, room, glare), one
display placement a video, then encoded the same way; "close" replays are filmed so near that no
edge of the display shows. Every clip is read back as the product reads it
(`app.kit.media.sample_frames` at 12 fps, longer side <= 480) and its faces found with YuNet
(`FaceModels.default().detect`).

The held-out part uses other yaws, exposures, scales, jitter and display seeds than the tuned
part; the thresholds in replay.py were set on the tuned part only. `--cache DIR` keeps the decoded
frames and landmarks so that a second run only re-runs the check.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.kit.media import sample_frames  # noqa: E402
from likeness.faces import FaceModels  # noqa: E402
from likeness.liveness.replay import replay_report  # noqa: E402
from tests.likeness import heads  # noqa: E402
from tests.likeness.liveness.fixtures.builders import write_media  # noqa: E402

FPS = 12
FRAMES = 36  # 3 s, as an enrolment video


@dataclass(frozen=True)
class Clip:
    split: str        # tuned | held-out
    kind: str         # bona_fide | replay | replay_close
    photo: str
    direction: str
    yaw: float
    codec: str        # mp4 | webm
    gain: float = 1.0     # exposure: the frame's values times gain (bona fide and the replayed content)
    scale: float = 1.0    # framing: above 1 zoomed in on the face (for a replay: the replayed video), below 1
                          # a smaller video (the camera's frame)
    seed: int = 0         # display placement / pitch (replays), jitter offset (all)

    @property
    def name(self) -> str:
        return (f"{self.split}-{self.kind}-{self.photo}-{self.direction}{self.yaw:g}-{self.codec}"
                f"-g{self.gain:g}-s{self.scale:g}-{self.seed}")


def clips() -> list[Clip]:
    out: list[Clip] = []
    photos = ("astronaut", "hopper")
    # The replayed video is framed closer on the astronaut, whose face is small in her photo: filmed
    # on a display from far enough to see its edges, it would be too small to pass the face checks.
    replay_zoom = {"tuned": {"astronaut": 1.3, "hopper": 1.0}, "held-out": {"astronaut": 1.4, "hopper": 1.1}}
    # Tuned part.
    for photo in photos:
        zoom = replay_zoom["tuned"][photo]
        for direction, yaw in (("left", 22.0), ("right", 30.0)):
            for codec in ("mp4", "webm"):
                for gain, scale in ((1.0, 1.0), (0.6, 1.0), (1.0, 1.25)):
                    out.append(Clip("tuned", "bona_fide", photo, direction, yaw, codec, gain, scale, 0))
                for seed in (1, 2, 3):
                    out.append(Clip("tuned", "replay", photo, direction, yaw, codec, 1.0, zoom, seed))
                out.append(Clip("tuned", "replay_close", photo, direction, yaw, codec, 1.0, 1.0, 4))
    # Held-out part: other yaws, exposures, scales, jitter and display seeds.
    for photo in photos:
        zoom = replay_zoom["held-out"][photo]
        for direction, yaw in (("left", 34.0), ("right", 18.0)):
            for codec in ("mp4", "webm"):
                for gain, scale in ((1.3, 1.0), (0.8, 0.75)):
                    out.append(Clip("held-out", "bona_fide", photo, direction, yaw, codec, gain, scale, 50))
                for seed, gain in ((101, 1.0), (102, 0.8)):
                    out.append(Clip("held-out", "replay", photo, direction, yaw, codec, gain, zoom, seed))
                out.append(Clip("held-out", "replay_close", photo, direction, yaw, codec, 1.0, 1.0, 103))
    return out


def _photos() -> dict[str, np.ndarray]:
    import matplotlib.cbook
    from skimage import data

    return {"astronaut": cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR),
            "hopper": cv2.imread(str(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)))}


def _scaled(frame: np.ndarray, scale: float) -> np.ndarray:
    h, w = frame.shape[:2]
    if scale < 1:  # a smaller video: even sides for the encoders
        size = (int(w * scale) // 2 * 2, int(h * scale) // 2 * 2)
        return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
    if scale > 1:  # zoomed in: the middle of the frame, back to the frame's size
        cw, ch = int(w / scale), int(h / scale)
        x0, y0 = (w - cw) // 2, (h - ch) // 3
        return cv2.resize(frame[y0:y0 + ch, x0:x0 + cw], (w, h), interpolation=cv2.INTER_LINEAR)
    return frame


def _exposed(frame: np.ndarray, gain: float) -> np.ndarray:
    return frame if gain == 1.0 else np.clip(frame.astype(np.float32) * gain, 0, 255).astype(np.uint8)


def render(clip: Clip, head: heads.Head) -> list[np.ndarray]:
    mouth = 0.5 * np.abs(np.sin(0.8 * np.arange(FRAMES) + clip.seed))
    yaws = heads.turn_ramp(FRAMES, clip.yaw, clip.direction)
    frames = [_exposed(heads.render(head, a, m, jitter=clip.seed * 1000 + i), clip.gain)
              for i, (a, m) in enumerate(zip(yaws, mouth))]
    if clip.scale > 1:
        frames = [_scaled(f, clip.scale) for f in frames]
    if clip.kind != "bona_fide":
        fill = 1.12 if clip.kind == "replay_close" else None
        frames = [heads.on_screen(f, clip.seed, index=i, fill=fill) for i, f in enumerate(frames)]
    return [_scaled(f, clip.scale) for f in frames] if clip.scale < 1 else frames


def sampled(clip: Clip, head: heads.Head, models: FaceModels, workdir: Path, cache: Path | None):
    """(frames, landmarks) as verify_liveness sees them."""
    if cache is not None and (cache / f"{clip.name}.npz").exists():
        data = np.load(cache / f"{clip.name}.npz", allow_pickle=False)
        frames = list(data["frames"])
        landmarks = [None if np.isnan(lm).any() else lm for lm in data["landmarks"]]
        return frames, landmarks
    path = write_media(workdir / f"{clip.name}.{clip.codec}", frames=render(clip, head), fps=FPS)
    frames = [f for _, f in sample_frames(path, per_second=FPS)]
    landmarks = []
    for frame in frames:
        faces = models.detect(frame)
        landmarks.append(max(faces, key=lambda f: f.box[2] * f.box[3]).landmarks.reshape(5, 2) if faces else None)
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(cache / f"{clip.name}.npz", frames=np.stack(frames),
                            landmarks=np.stack([np.full((5, 2), np.nan) if lm is None else lm for lm in landmarks]))
    return frames, landmarks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, help="keep decoded frames and landmarks here")
    parser.add_argument("--only", choices=("tuned", "held-out"))
    parser.add_argument("--dump", type=Path, help="write every clip's report here (JSON)")
    args = parser.parse_args()
    models = FaceModels.default()
    photos = _photos()
    prepared = {name: heads.prepare(p, models.analyze(p)[0].face.landmarks.reshape(5, 2)) for name, p in photos.items()}
    rows, times = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for clip in clips():
            if args.only and clip.split != args.only:
                continue
            frames, landmarks = sampled(clip, prepared[clip.photo], models, Path(tmp), args.cache)
            start = time.perf_counter()
            report = replay_report(frames, landmarks)
            times.append(time.perf_counter() - start)
            rows.append((clip, report))
    if args.dump:
        args.dump.write_text(json.dumps([{**asdict(c), "name": c.name, **asdict(r)} for c, r in rows], indent=1,
                                        default=str))
    print(f"{'part':9} {'kind':13} {'clips':>5} {'suspected':>9} {'rate':>7} {'grid':>5} {'border':>6}"
          "   (rate: attacks accepted, APCER; bona fide rejected, BPCER)")
    for split in ("tuned", "held-out"):
        for kind in ("bona_fide", "replay", "replay_close"):
            chosen = [r for c, r in rows if c.split == split and c.kind == kind]
            if not chosen:
                continue
            flagged = sum(r.suspected for r in chosen)
            rate = flagged / len(chosen) if kind == "bona_fide" else 1 - flagged / len(chosen)
            grid = sum("screen_grid" in r.signs for r in chosen)
            border = sum("screen_border" in r.signs for r in chosen)
            print(f"{split:9} {kind:13} {len(chosen):5d} {flagged:9d} {rate:7.1%} {grid:5d} {border:6d}")
    for split in ("tuned", "held-out"):
        for kind in ("bona_fide", "replay", "replay_close"):
            chosen = [r for c, r in rows if c.split == split and c.kind == kind and r.grid_peak is not None]
            if chosen:
                peaks, borders = [r.grid_peak for r in chosen], [r.border_share for r in chosen]
                print(f"  {split} {kind}: grid_peak {min(peaks):.2f}..{max(peaks):.2f}, "
                      f"border_share {min(borders):.2f}..{max(borders):.2f}")
    for clip, report in rows:
        wrong = report.suspected != (clip.kind != "bona_fide")
        if wrong:
            print("  wrong:", clip.name, report)
    if times:
        print(f"check time per video: median {statistics.median(times) * 1000:.1f} ms, "
              f"max {max(times) * 1000:.1f} ms ({len(frames)} frames)")


if __name__ == "__main__":
    main()

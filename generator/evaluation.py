"""Judging clips of the synthetic domain against what their captions asked for.

Attributes (colour, shape, count, direction) come from the state parser; physics from the parsed
tracks against the simulator's ground truth for the same scene: does the motion reverse at a
bounce (floor, wall, board), does anything vanish or jump, does a fall fit constant acceleration,
and how far is the on-screen velocity from the simulator's. The same functions run on the
dataset's own clips (the parser's ceiling) and on a model's samples (bench/generator_eval.py).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from generator.dataset import SceneSpec
from generator.state_parser import ParsedClip, parse

ATTRIBUTES = ("colour", "shape", "count", "direction")


@dataclass
class Judged:
    spec: SceneSpec
    parsed: ParsedClip
    attributes: dict[str, bool]
    physics: dict[str, float | None] = field(default_factory=dict)


def _velocity(track: np.ndarray) -> np.ndarray:
    return np.diff(track, axis=0)


def bounce_reversed(parsed: ParsedClip, truth: np.ndarray, events: Sequence[tuple[int, str, int]]) -> float | None:
    """Share of the simulator's bounces whose reversal shows in the parsed tracks: the bouncing
    object's velocity along the bounce's axis changes sign between the frames around it. Parsed
    objects are matched to the simulator's by where they start. None when nothing bounced."""
    frames = truth.shape[0]
    tracks = parsed.tracks
    if tracks.shape[1] == 0:
        return 0.0 if events else None
    start = _first_seen(tracks)
    checks = []
    for frame, kind, obj in events:
        before, after = frame - 1, frame + 1
        if before < 0 or after + 1 >= frames:
            continue
        k = int(np.argmin([np.hypot(*(s - truth[0, obj])) if s is not None else np.inf for s in start]))
        axis = 1 if kind == "floor" else 0
        v = _velocity(tracks[:, k])[:, axis]
        a, b = v[before], v[after]
        checks.append(bool(not np.isnan(a) and not np.isnan(b) and np.sign(a) != np.sign(b)
                           and abs(a) > 0.1 and abs(b) > 0.1))
    return float(np.mean(checks)) if checks else None


def _first_seen(tracks: np.ndarray) -> list[np.ndarray | None]:
    out = []
    for k in range(tracks.shape[1]):
        seen = tracks[~np.isnan(tracks[:, k]).any(axis=1), k]
        out.append(seen[0] if len(seen) else None)
    return out


def continuity(parsed: ParsedClip, size: int) -> float:
    """1 minus the share of frame pairs where the objects vanish or jump more than a quarter of
    the frame (teleport)."""
    track = parsed.track
    bad = 0
    for t in range(len(track) - 1):
        a, b = track[t], track[t + 1]
        if np.isnan(a).any() != np.isnan(b).any():
            bad += 1
        elif not np.isnan(a).any() and np.hypot(*(b - a)) > size / 4:
            bad += 1
    return 1 - bad / max(1, len(track) - 1)


def fall_fit(track: np.ndarray, events: Sequence[tuple[int, str, int]]) -> float | None:
    """R^2 of a constant-acceleration (quadratic) fit to the height before the first floor bounce,
    counted only with a downward acceleration; None when the segment is too short to say."""
    end = min([f for f, kind, _ in events if kind == "floor"], default=len(track) - 1)
    y = track[: end + 1, 1]
    t = np.arange(len(y), dtype=np.float64)
    keep = ~np.isnan(y)
    if keep.sum() < 4:
        return None
    coeffs = np.polyfit(t[keep], y[keep], 2)
    fit = np.polyval(coeffs, t[keep])
    total = ((y[keep] - y[keep].mean()) ** 2).sum()
    r2 = 1 - ((y[keep] - fit) ** 2).sum() / total if total > 0 else 0.0
    return float(r2) if coeffs[0] > 0 else 0.0


def velocity_error(track: np.ndarray, truth: np.ndarray) -> float | None:
    """Mean |v - v_true| over mean |v_true| (on-screen, objects' mean centre)."""
    v, vt = _velocity(track), _velocity(truth.mean(axis=1))
    keep = ~np.isnan(v).any(axis=1)
    if keep.sum() < 2:
        return None
    scale = np.abs(vt[keep]).mean()
    return float(np.abs(v[keep] - vt[keep]).mean() / scale) if scale > 0 else None


def judge(spec: SceneSpec, frames: np.ndarray, truth_positions: np.ndarray,
          events: Sequence[tuple[int, str, int]]) -> Judged:
    parsed = parse(frames)
    attributes = {a: getattr(parsed, a) == getattr(spec, a) for a in ATTRIBUTES}
    physics = {
        # objects of one scene pass through each other in the simulator, so the tracks of several
        # can swap at a crossing: bounces are judged where one object is alone
        "bounce": bounce_reversed(parsed, truth_positions, events) if spec.count == 1 else None,
        "continuity": continuity(parsed, frames.shape[2]),
        "fall_fit": fall_fit(parsed.track, events) if spec.motion == "fall" else None,
        "velocity_error": velocity_error(parsed.track, truth_positions),
    }
    return Judged(spec=spec, parsed=parsed, attributes=attributes, physics=physics)


def attribute_accuracy(judged: Iterable[Judged]) -> dict[str, float]:
    judged = list(judged)
    out = {a: float(np.mean([j.attributes[a] for j in judged])) for a in ATTRIBUTES}
    out["overall"] = float(np.mean([out[a] for a in ATTRIBUTES]))
    return out


def shuffled_accuracy(judged: Sequence[Judged], seed: int = 0) -> dict[str, float]:
    """The same parsed clips scored against other clips' prompts: what matching by chance gives
    on this prompt mix."""
    rng = random.Random(seed)
    others = list(judged)
    rng.shuffle(others)
    out = {a: float(np.mean([getattr(j.parsed, a) == getattr(o.spec, a) for j, o in zip(judged, others, strict=True)]))
           for a in ATTRIBUTES}
    out["overall"] = float(np.mean([out[a] for a in ATTRIBUTES]))
    return out


def physics_summary(judged: Iterable[Judged], fall_r2: float = 0.9) -> dict[str, float | None]:
    judged = list(judged)

    def mean(values):
        values = [v for v in values if v is not None]
        return float(np.mean(values)) if values else None

    return {
        "bounce reversal": mean(j.physics["bounce"] for j in judged),
        "no vanish/teleport": mean(j.physics["continuity"] for j in judged),
        "falls fit constant acceleration": mean(
            None if j.physics["fall_fit"] is None else float(j.physics["fall_fit"] >= fall_r2) for j in judged),
        "velocity error (relative)": mean(j.physics["velocity_error"] for j in judged),
    }

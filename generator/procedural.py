"""Procedural clips: prompt -> deterministic scene -> H.264/AAC MP4.

No ML: shapes named in the prompt move across a gradient background while a short tune derived
from the same scene plays. The platform renders with the video model (generator/render.py); this
stays as a source of known, cheap clips for tests and benchmarks of the scanners (media probing,
frame and audio sampling), where the picture's content must be decided by the test.
"""

from __future__ import annotations

import hashlib
import math
import os
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from generator.encode import EncodeSpec, write_mp4

Color = tuple[int, int, int]

SHAPE_KINDS = ("circle", "square", "triangle", "star", "ring", "bar", "diamond")
MOTIONS = ("slide", "bounce", "spin", "orbit", "fall", "rise", "pulse", "still")
MAX_SHAPES = 6

COLOURS: dict[str, Color] = {
    "red": (220, 40, 40), "green": (40, 190, 70), "blue": (40, 90, 230),
    "yellow": (245, 220, 40), "orange": (245, 140, 30), "purple": (140, 60, 200),
    "pink": (245, 120, 180), "white": (245, 245, 245), "black": (20, 20, 20),
    "grey": (128, 128, 128), "gray": (128, 128, 128), "brown": (130, 80, 40),
    "gold": (230, 180, 40), "golden": (230, 180, 40), "silver": (192, 192, 200),
    "teal": (20, 150, 140), "cyan": (40, 220, 230), "magenta": (220, 40, 200),
    "violet": (160, 90, 230), "indigo": (75, 40, 160), "lime": (160, 230, 40),
    "navy": (20, 30, 110), "maroon": (120, 20, 40), "beige": (225, 210, 170),
    "turquoise": (50, 210, 190), "crimson": (190, 20, 50), "coral": (250, 120, 90),
    "lavender": (190, 160, 240), "olive": (120, 130, 40), "amber": (250, 190, 20),
    "emerald": (30, 170, 100), "scarlet": (240, 40, 20), "aqua": (60, 230, 220),
    "mint": (150, 240, 190), "rose": (240, 90, 130),
}

SHAPE_WORDS: dict[str, str] = {
    **dict.fromkeys(("cube", "box", "square", "block", "crate", "brick", "tile", "dice"), "square"),
    **dict.fromkeys(
        ("ball", "sphere", "circle", "orb", "planet", "sun", "moon", "bubble", "dot", "coin", "egg"),
        "circle",
    ),
    **dict.fromkeys(("ramp", "triangle", "pyramid", "mountain", "hill", "roof", "tent", "cone"), "triangle"),
    **dict.fromkeys(("star", "starfish", "sparkle", "snowflake", "flower"), "star"),
    **dict.fromkeys(("ring", "donut", "doughnut", "hoop", "wheel", "halo", "tire", "bagel"), "ring"),
    **dict.fromkeys(("bar", "stick", "pole", "beam", "plank", "rod", "pillar", "log", "bridge"), "bar"),
    **dict.fromkeys(("diamond", "gem", "crystal", "jewel", "kite", "shard"), "diamond"),
}

MOTION_WORDS: dict[str, str] = {
    **dict.fromkeys(
        ("slide", "slides", "sliding", "slid", "glide", "glides", "gliding", "rolling", "rolls",
         "roll", "drifting", "drifts", "moving", "moves", "racing", "skating"),
        "slide",
    ),
    **dict.fromkeys(
        ("bounce", "bounces", "bouncing", "bouncy", "hopping", "hops", "jumping", "jumps", "dancing"),
        "bounce",
    ),
    **dict.fromkeys(
        ("spin", "spins", "spinning", "rotate", "rotates", "rotating", "twirling", "turning",
         "whirling", "swirling"),
        "spin",
    ),
    **dict.fromkeys(
        ("fall", "falls", "falling", "drop", "drops", "dropping", "sinking", "sinks", "raining",
         "tumbling"),
        "fall",
    ),
    **dict.fromkeys(
        ("rise", "rises", "rising", "float", "floats", "floating", "fly", "flies", "flying",
         "soaring", "ascending", "launching"),
        "rise",
    ),
    **dict.fromkeys(("orbit", "orbits", "orbiting", "circling", "revolving", "swirl"), "orbit"),
    **dict.fromkeys(
        ("pulse", "pulses", "pulsing", "throbbing", "glowing", "beating", "breathing", "growing"),
        "pulse",
    ),
    **dict.fromkeys(("still", "static", "resting", "sitting", "standing", "waiting"), "still"),
}

# Direction words steer the most recent shape: (dx, dy) sign hints.
DIRECTION_WORDS: dict[str, tuple[int, int]] = {
    "down": (0, 1), "downhill": (0, 1), "downward": (0, 1), "downwards": (0, 1),
    "up": (0, -1), "uphill": (0, -1), "upward": (0, -1), "upwards": (0, -1),
    "left": (-1, 0), "right": (1, 0),
}

# Background gradients (top, bottom) and whether to sprinkle stars.
SETTINGS: dict[str, tuple[Color, Color, bool]] = {
    "night": ((8, 12, 40), (30, 40, 90), True),
    "space": ((2, 2, 10), (25, 10, 45), True),
    "sunset": ((250, 140, 60), (90, 40, 110), False),
    "ocean": ((40, 120, 200), (5, 30, 80), False),
    "forest": ((60, 110, 60), (15, 45, 20), False),
    "snow": ((225, 235, 250), (170, 195, 225), False),
    "desert": ((240, 200, 130), (190, 130, 70), False),
    "sky": ((120, 180, 250), (210, 235, 255), False),
}
SETTING_WORDS: dict[str, str] = {
    **dict.fromkeys(("night", "midnight", "nighttime", "dark", "evening"), "night"),
    **dict.fromkeys(("space", "galaxy", "cosmos", "universe", "stars", "starry", "nebula"), "space"),
    **dict.fromkeys(("sunset", "sunrise", "dawn", "dusk", "twilight"), "sunset"),
    **dict.fromkeys(("ocean", "sea", "underwater", "beach", "lake", "water", "waves"), "ocean"),
    **dict.fromkeys(("forest", "jungle", "woods", "trees", "garden", "meadow", "grass"), "forest"),
    **dict.fromkeys(("snow", "snowy", "winter", "ice", "icy", "arctic", "frozen"), "snow"),
    **dict.fromkeys(("desert", "sand", "dunes", "canyon"), "desert"),
    **dict.fromkeys(("sky", "clouds", "cloudy", "day", "daytime", "sunny"), "sky"),
}
# Neutral studio backdrops for prompts that name no setting.
STUDIO_BACKDROPS: tuple[tuple[Color, Color], ...] = (
    ((38, 42, 56), (14, 16, 24)),
    ((52, 40, 62), (18, 14, 26)),
    ((30, 50, 58), (10, 20, 26)),
    ((58, 50, 40), (24, 18, 14)),
)
# Vivid fill colours for shapes the prompt does not colour.
FALLBACK_COLOURS = ("red", "orange", "yellow", "lime", "teal", "cyan", "blue", "violet", "magenta", "pink")

_WORD_RE = re.compile(r"[a-z]+")


@dataclass(frozen=True)
class Shape:
    """One moving shape; positions and speeds are fractions of the frame."""

    kind: str
    color: Color
    x: float  # start centre, fraction of width
    y: float  # start centre, fraction of height
    size: float  # radius, fraction of width
    motion: str
    vx: float  # frame widths per second
    vy: float  # frame heights per second
    phase: float  # radians; staggers periodic motions


@dataclass(frozen=True)
class Scene:
    setting: str  # a SETTINGS key, or "studio"
    background: tuple[Color, Color]  # vertical gradient, top then bottom
    stars: bool
    shapes: tuple[Shape, ...]
    digest: str  # sha256 of the normalised prompt and seed; seeds every random choice


@dataclass(frozen=True)
class RenderSpec:
    width: int = 288
    height: int = 512
    fps: int = 24
    seconds: float = 3.0
    audio_rate: int = 44100
    watermark: str | None = None
    antialias: bool = True  # draw at 2x and downsample: smooth edges for ~0.1 s per clip
    crf: int = 23
    preset: str = "veryfast"

    def __post_init__(self) -> None:
        # yuv420p needs even dimensions; catching it here gives a clear error instead of an encoder one.
        if self.width <= 0 or self.height <= 0 or self.width % 2 or self.height % 2:
            raise ValueError(f"width and height must be positive and even, got {self.width}x{self.height}")
        if self.fps <= 0 or self.seconds <= 0 or self.audio_rate <= 0:
            raise ValueError("fps, seconds and audio_rate must be positive")

    @property
    def frames(self) -> int:
        return max(1, round(self.fps * self.seconds))


@dataclass(frozen=True)
class RenderResult:
    path: Path
    width: int
    height: int
    fps: int
    frames: int
    duration_s: float
    sha256: str
    bytes: int
    scene: Scene = field(repr=False)


# --------------------------------------------------------------------------- prompt parsing


@dataclass
class _Draft:
    kind: str
    color: Color | None
    motion: str | None
    direction: tuple[int, int] = (0, 0)


def _lookup(table: dict[str, str], word: str) -> str | None:
    """Exact match, else a naive plural ("cubes", "boxes")."""
    if word in table:
        return table[word]
    for suffix in ("es", "s"):
        if word.endswith(suffix) and word[: -len(suffix)] in table:
            return table[word[: -len(suffix)]]
    return None


def parse_prompt(prompt: str, seed: int = 0) -> Scene:
    """Derive a deterministic scene from the prompt's colour, shape, motion and setting words."""
    normalised = " ".join(prompt.lower().split())
    digest = hashlib.sha256(f"{seed}\x00{normalised}".encode()).hexdigest()
    rng = random.Random(int(digest[:16], 16))

    drafts, setting = _collect_drafts(_WORD_RE.findall(normalised))
    if not drafts:
        drafts = [_hashed_draft(rng) for _ in range(rng.randint(1, 3))]
    unmoved = next((d for d in drafts if d.motion is None), None)
    if unmoved is not None and not any(d.motion not in (None, "still") for d in drafts):
        # Nothing asked to move: animate one shape so the clip is not a still image
        # (an explicit "still" is honoured).
        unmoved.motion = rng.choice(MOTIONS[:-1])

    if setting is None:
        background, stars, setting = rng.choice(STUDIO_BACKDROPS), False, "studio"
    else:
        top, bottom, stars = SETTINGS[setting]
        background = (top, bottom)

    shapes = tuple(_place(d, i, len(drafts), rng) for i, d in enumerate(drafts))
    return Scene(setting=setting, background=background, stars=stars, shapes=shapes, digest=digest)


def _collect_drafts(words: list[str]) -> tuple[list[_Draft], str | None]:
    """Walk the words once: colours and motions attach to the nearest shape."""
    drafts: list[_Draft] = []
    pending_colour: Color | None = None
    pending_motion: str | None = None
    setting: str | None = None
    for word in words:
        if (colour := COLOURS.get(word)) is not None:
            pending_colour = colour
        elif (kind := _lookup(SHAPE_WORDS, word)) is not None:
            if len(drafts) < MAX_SHAPES:
                drafts.append(_Draft(kind, pending_colour, pending_motion))
            pending_colour = pending_motion = None
        elif (motion := _lookup(MOTION_WORDS, word)) is not None:
            if drafts and drafts[-1].motion is None:
                drafts[-1].motion = motion  # "a ball bouncing"
            else:
                pending_motion = motion  # "a bouncing ball"
        elif word in DIRECTION_WORDS and drafts:
            drafts[-1].direction = DIRECTION_WORDS[word]
        elif setting is None and (found := _lookup(SETTING_WORDS, word)) is not None:
            setting = found
    # Trailing words with no shape after them ("a cube that is green and spinning").
    if drafts and pending_colour is not None:
        target = next((d for d in reversed(drafts) if d.color is None), None)
        if target is not None:
            target.color = pending_colour
    if drafts and pending_motion is not None:
        target = next((d for d in reversed(drafts) if d.motion is None), None)
        if target is not None:
            target.motion = pending_motion
    if not drafts and (pending_colour is not None or pending_motion is not None):
        drafts.append(_Draft("circle", pending_colour, pending_motion))
    return drafts, setting


def _hashed_draft(rng: random.Random) -> _Draft:
    return _Draft(rng.choice(SHAPE_KINDS), None, rng.choice(MOTIONS[:-1]))


def _place(draft: _Draft, index: int, count: int, rng: random.Random) -> Shape:
    """Give a draft its colour, start position and speed; shapes are spread over vertical bands."""
    colour = draft.color or COLOURS[rng.choice(FALLBACK_COLOURS)]
    motion = draft.motion or "still"
    band = (index + 0.5) / count
    x = rng.uniform(0.25, 0.75)
    y = 0.15 + 0.7 * band + rng.uniform(-0.05, 0.05)
    size = rng.uniform(0.11, 0.17) if count <= 2 else rng.uniform(0.08, 0.12)
    speed = rng.uniform(0.12, 0.22)
    dx, dy = draft.direction
    vx = speed * (dx or rng.choice((-1, 1)))
    vy = speed * 0.5 * dy if dy else rng.uniform(-0.04, 0.04)
    if dy and not dx:
        vx *= 0.5  # "sliding down": mostly downhill, a little sideways
    return Shape(draft.kind, colour, x, y, size, motion, vx, vy, rng.uniform(0, 2 * math.pi))


# --------------------------------------------------------------------------- drawing


def _wrap(value: float, margin: float) -> float:
    """Wrap into [-margin, 1 + margin] so shapes leave one edge and re-enter at the other."""
    span = 1 + 2 * margin
    return (value + margin) % span - margin


def _reflect(value: float, lo: float, hi: float) -> float:
    """Bounce off the walls: triangle wave between lo and hi."""
    span = hi - lo
    t = (value - lo) % (2 * span)
    return lo + (t if t <= span else 2 * span - t)


def _pose(shape: Shape, t: float, aspect: float) -> tuple[float, float, float, float]:
    """Centre (fractions), rotation (radians) and scale of a shape at time t."""
    x, y, angle, scale = shape.x, shape.y, 0.0, 1.0
    m = shape.size
    if shape.motion == "slide":
        x, y = _wrap(x + shape.vx * t, m), _wrap(y + shape.vy * t, m * aspect)
        angle = shape.vx * t * 4
    elif shape.motion == "bounce":
        x = _reflect(x + shape.vx * t, m, 1 - m)
        y = y - 0.18 * abs(math.sin(math.pi * 1.4 * t + shape.phase))
    elif shape.motion == "spin":
        angle = shape.phase + 2.5 * t * (1 if shape.vx >= 0 else -1)
    elif shape.motion == "orbit":
        radius = 0.22 + 0.1 * math.sin(shape.phase)
        a = shape.phase + 1.6 * t
        x, y = 0.5 + radius * math.cos(a), 0.5 + radius * math.sin(a) / aspect
    elif shape.motion == "fall":
        y = _wrap(y + (0.18 + abs(shape.vy)) * t, m * aspect)
        angle = shape.phase + 0.8 * t
    elif shape.motion == "rise":
        y = _wrap(y - (0.16 + abs(shape.vy)) * t, m * aspect)
        x = x + 0.04 * math.sin(2.2 * t + shape.phase)
    elif shape.motion == "pulse":
        scale = 1 + 0.28 * math.sin(2 * math.pi * 1.1 * t + shape.phase)
    return x, y, angle, scale


def _polygon(kind: str, cx: float, cy: float, r: float, angle: float) -> list[tuple[float, float]]:
    if kind == "star":
        radii = [r if i % 2 == 0 else r * 0.45 for i in range(10)]
        angles = [angle - math.pi / 2 + i * math.pi / 5 for i in range(10)]
    elif kind == "bar":
        half_w, half_h = r * 1.1, r * 0.3
        corners = ((-half_w, -half_h), (half_w, -half_h), (half_w, half_h), (-half_w, half_h))
        c, s = math.cos(angle), math.sin(angle)
        return [(cx + px * c - py * s, cy + px * s + py * c) for px, py in corners]
    else:
        sides, offset, stretch = {"square": (4, math.pi / 4, 1.0), "triangle": (3, -math.pi / 2, 1.0),
                                  "diamond": (4, 0.0, 1.4)}[kind]
        radii = [r] * sides
        angles = [angle + offset + i * 2 * math.pi / sides for i in range(sides)]
        return [(cx + rad * math.cos(a), cy + rad * math.sin(a) * stretch) for rad, a in zip(radii, angles)]
    return [(cx + rad * math.cos(a), cy + rad * math.sin(a)) for rad, a in zip(radii, angles)]


def _outline(colour: Color) -> Color:
    """Contrasting edge so dark shapes stay visible at night and light ones in snow."""
    luma = 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]
    return (25, 25, 30) if luma > 110 else (235, 235, 240)


def _draw_shape(draw: ImageDraw.ImageDraw, shape: Shape, t: float, width: int, height: int) -> None:
    fx, fy, angle, scale = _pose(shape, t, width / height)
    cx, cy, r = fx * width, fy * height, shape.size * width * scale
    edge = _outline(shape.color)
    edge_w = max(1, width // 144)  # 2 px at the default width, scaled when supersampling
    if shape.kind in ("circle", "ring"):
        box = (cx - r, cy - r, cx + r, cy + r)
        if shape.kind == "circle":
            draw.ellipse(box, fill=shape.color, outline=edge, width=edge_w)
        else:
            ring_w = max(3, int(r * 0.35))
            inset = edge_w / 2
            draw.ellipse(box, outline=edge, width=ring_w + edge_w)
            draw.ellipse((box[0] + inset, box[1] + inset, box[2] - inset, box[3] - inset),
                         outline=shape.color, width=ring_w)
        # An off-centre dot makes rotation visible on round shapes.
        dr = r * (0.55 if shape.kind == "circle" else 0.82)
        dx, dy = cx + dr * math.cos(angle - 0.8), cy + dr * math.sin(angle - 0.8)
        dot = max(2.0, r * 0.14)
        draw.ellipse((dx - dot, dy - dot, dx + dot, dy + dot), fill=edge)
    else:
        draw.polygon(_polygon(shape.kind, cx, cy, r, angle), fill=shape.color, outline=edge, width=edge_w)


def background_image(scene: Scene, width: int, height: int) -> Image.Image:
    """Static backdrop, drawn once per render: gradient plus optional stars."""
    top, bottom = (np.array(c, dtype=np.float32) for c in scene.background)
    ramp = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    pixels = np.broadcast_to(top + (bottom - top) * ramp, (height, width, 3)).copy()
    if scene.stars:
        rng = np.random.default_rng(int(scene.digest[16:32], 16))
        count = width * height // 900
        ys, xs = rng.integers(0, height, count), rng.integers(0, width, count)
        pixels[ys, xs] = rng.uniform(150, 255, (count, 1))
    return Image.fromarray(pixels.astype(np.uint8), "RGB")


def draw_frame(scene: Scene, background: Image.Image, t: float) -> Image.Image:
    """One RGB frame at time t (seconds)."""
    frame = background.copy()
    draw = ImageDraw.Draw(frame)
    for shape in scene.shapes:
        _draw_shape(draw, shape, t, frame.width, frame.height)
    return frame


# --------------------------------------------------------------------------- audio

_PENTATONIC_MAJOR = (0, 2, 4, 7, 9)
_PENTATONIC_MINOR = (0, 3, 5, 7, 10)


def tune_notes(scene: Scene) -> tuple[list[int], float]:
    """MIDI pitches of a looping arpeggio and its step length in seconds, from the scene."""
    scale = _PENTATONIC_MINOR if scene.setting in ("night", "space", "forest") else _PENTATONIC_MAJOR
    root = 48 + int(scene.digest[32:34], 16) % 12
    pitches = {root, root + 7}
    for i, shape in enumerate(scene.shapes):
        degree = (sum(shape.color) // 37 + SHAPE_KINDS.index(shape.kind) + i) % len(scale)
        pitches.add(root + 12 + scale[degree])
    moving = sum(s.motion != "still" for s in scene.shapes)
    step = 0.24 - 0.02 * min(moving, 4)  # busier scenes get a quicker arpeggio
    up = sorted(pitches)
    return up + up[-2:0:-1], step


def _midi_hz(note: int) -> float:
    return 440.0 * 2 ** ((note - 69) / 12)


def synth_audio(scene: Scene, seconds: float, rate: int) -> np.ndarray:
    """Stereo float32 samples, shape (2, n): plucked arpeggio over a soft pad, peak 0.5."""
    n = round(seconds * rate)
    t = np.arange(n, dtype=np.float32) / rate
    notes, step = tune_notes(scene)
    out = np.zeros((2, n), dtype=np.float32)

    root_hz = _midi_hz(min(notes))
    pad = 0.12 * (np.sin(2 * np.pi * root_hz * t) + 0.6 * np.sin(2 * np.pi * root_hz * 1.5 * t))
    out += pad * np.minimum(1.0, t / 0.6)

    tail = int(step * 4 * rate)  # let each pluck ring over the next few
    for i, start in enumerate(np.arange(0.0, seconds, step)):
        s = int(start * rate)
        seg = t[s : s + tail] - start
        hz = _midi_hz(notes[i % len(notes)])
        wave = np.sin(2 * np.pi * hz * seg) + 0.3 * np.sin(4 * np.pi * hz * seg) + 0.1 * np.sin(6 * np.pi * hz * seg)
        env = np.minimum(1.0, seg / 0.01) * np.exp(-seg / 0.22)  # 10 ms attack avoids clicks
        pan = 0.5 + 0.3 * math.sin(i * 1.3)  # gentle stereo movement
        out[0, s : s + tail] += wave * env * (1 - pan)
        out[1, s : s + tail] += wave * env * pan

    fade = np.minimum(1.0, np.minimum(t / 0.05, (seconds - t) / 0.3)).clip(0.0, 1.0)
    out *= fade
    peak = float(np.abs(out).max()) or 1.0
    return (out * (0.5 / peak)).astype(np.float32)


# --------------------------------------------------------------------------- encoding


def render_to_mp4(
    prompt: str,
    out_path: str | os.PathLike[str],
    *,
    seed: int = 0,
    spec: RenderSpec = RenderSpec(),
) -> RenderResult:
    """Render the prompt to an H.264/AAC MP4 at out_path, atomically."""
    target = Path(out_path)
    scene = parse_prompt(prompt, seed)
    audio = synth_audio(scene, spec.frames / spec.fps, spec.audio_rate)
    digest, size = write_mp4(target, _frames(scene, spec), audio, EncodeSpec(
        width=spec.width, height=spec.height, fps=spec.fps, audio_rate=spec.audio_rate, crf=spec.crf,
        preset=spec.preset, watermark=spec.watermark))
    return RenderResult(
        path=target, width=spec.width, height=spec.height, fps=spec.fps, frames=spec.frames,
        duration_s=spec.frames / spec.fps, sha256=digest, bytes=size, scene=scene,
    )


def _frames(scene: Scene, spec: RenderSpec) -> Iterator[Image.Image]:
    scale = 2 if spec.antialias else 1
    # Nearest-neighbour upscaling keeps each star a crisp single pixel after the downsample.
    background = background_image(scene, spec.width, spec.height).resize(
        (spec.width * scale, spec.height * scale), Image.Resampling.NEAREST)
    for index in range(spec.frames):
        image = draw_frame(scene, background, index / spec.fps)
        yield image.reduce(scale) if scale > 1 else image

"""The synthetic captioned video set the text-to-video model is trained and judged on.

Objects of a few shapes, colours and counts move under simple physics (falling and bouncing on
the floor, rolling, bouncing off walls, sliding down a ramp, a ball off a basketball backboard),
over several backgrounds, sometimes under a panning camera. Each clip comes with its caption and
its ground truth (every object's position per frame), so a generated clip can be judged the way
physics-video research judges one: parse the objects' states back out of the frames
(generator/state_parser.py) and compare with what the caption asked for.

Object colours are saturated and every background, floor, ramp and board is not: that is what
lets a parser find the objects by colour. Everything is drawn from a seeded generator, so a
clip's seed gives the same clip on any machine. Combinations of colour x shape x motion are
split into seen and held-out ones (HELD_OUT), never trained on, to measure generalisation.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw

Color = tuple[int, int, int]

# Saturated, far apart in hue: a parser tells them apart at 32 x 32 pixels.
COLOURS: dict[str, Color] = {
    "red": (225, 30, 30), "green": (30, 190, 50), "blue": (30, 70, 235),
    "yellow": (240, 220, 20), "purple": (150, 40, 210), "orange": (250, 130, 10),
}
SHAPES = ("ball", "cube", "triangle")
SHAPE_PLURALS = {"ball": "balls", "cube": "cubes", "triangle": "triangles"}
MOTIONS = ("fall", "roll", "wall", "ramp", "backboard")
COUNT_WORDS = {1: "a", 2: "two", 3: "three"}

# Unsaturated, so never mistaken for an object: (name, top, bottom) of a vertical gradient.
BACKGROUNDS: tuple[tuple[str, Color, Color], ...] = (
    ("grey studio", (70, 70, 74), (40, 40, 44)),
    ("pale wall", (205, 200, 190), (170, 165, 155)),
    ("dusk", (95, 92, 105), (55, 52, 60)),
    ("concrete", (150, 150, 146), (110, 110, 106)),
)
FLOOR: Color = (25, 25, 25)
RAMP: Color = (120, 110, 100)
BOARD: Color = (235, 235, 235)
PAN_STRIPE: Color = (0, 0, 0)  # blended at 12 % into the background: texture that shows a pan

GRAVITY = 2.5        # world units per second squared; the world is 1 x 1, y down (a bounce within a second)
RESTITUTION = 0.75   # speed kept at a bounce
FLOOR_Y = 0.92       # the floor's top edge
RADIUS = 0.085       # every object's half-size, in world units


def combination_key(colour: str, shape: str, motion: str) -> str:
    return f"{colour}/{shape}/{motion}"


def _held_out() -> frozenset[str]:
    """About one combination in seven, chosen by hash (stable across versions), leaving every
    colour, shape and motion seen in training."""
    out = set()
    for colour in COLOURS:
        for shape in SHAPES:
            for motion in MOTIONS:
                key = combination_key(colour, shape, motion)
                if int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % 7 == 0:
                    out.add(key)
    return frozenset(out)


HELD_OUT: frozenset[str] = _held_out()


@dataclass(frozen=True)
class SceneSpec:
    colour: str
    shape: str
    motion: str
    count: int
    direction: str           # the way the objects first move on screen: left, right, up, down
    background: str
    pan: str | None          # the camera panning "left" / "right", or None
    seed: int

    @property
    def combination(self) -> str:
        return combination_key(self.colour, self.shape, self.motion)

    @property
    def held_out(self) -> bool:
        return self.combination in HELD_OUT


@dataclass
class Clip:
    spec: SceneSpec
    caption: str
    frames: np.ndarray                 # (T, H, W, 3) uint8
    positions: np.ndarray              # (T, count, 2) object centres on screen, in pixels (x, y)
    # (frame, "floor"/"wall"/"board", object): the object bounced between this frame and the next
    events: list[tuple[int, str, int]] = field(default_factory=list)


# -- captions ---------------------------------------------------------------------------------

_PHRASES = {
    "fall": ("{subject} {falls} and {bounces} on the floor", "{subject} {drops} onto the floor and {bounces}"),
    "roll": ("{subject} {rolls} to the {direction}", "{subject} {rolls} {direction} along the floor"),
    "wall": ("{subject} {bounces} off the {side} wall", "{subject} {moves} {direction} and {bounces} off the wall"),
    "ramp": ("{subject} {slides} down a ramp to the {direction}", "{subject} {slides} down the ramp"),
    "backboard": ("{subject} {bounces} off the backboard", "{subject} {is} thrown at a basketball backboard and {bounces} back"),
}
_VERBS = {  # singular, plural
    "falls": ("falls", "fall"), "drops": ("drops", "drop"), "bounces": ("bounces", "bounce"),
    "rolls": ("rolls", "roll"), "moves": ("moves", "move"), "slides": ("slides", "slide"), "is": ("is", "are"),
}


def caption_for(spec: SceneSpec, variant: int = 0) -> str:
    noun = spec.shape if spec.count == 1 else SHAPE_PLURALS[spec.shape]
    article = COUNT_WORDS[spec.count]
    if spec.count == 1 and spec.colour[0] in "aeiou":
        article = "an"
    subject = f"{article} {spec.colour} {noun}"
    verbs = {k: v[0 if spec.count == 1 else 1] for k, v in _VERBS.items()}
    templates = _PHRASES[spec.motion]
    side = spec.direction if spec.direction in ("left", "right") else "right"
    text = templates[variant % len(templates)].format(subject=subject, direction=spec.direction, side=side, **verbs)
    text += f", {spec.background} background"
    if spec.pan:
        text += f", the camera pans {spec.pan}"
    return text


def vocabulary() -> tuple[str, ...]:
    """Every word a caption of this set can contain, sorted: the text encoder's known words."""
    words: set[str] = set()
    for colour in COLOURS:
        for shape in SHAPES:
            for motion in MOTIONS:
                for count in COUNT_WORDS:
                    for direction in ("left", "right", "up", "down"):
                        for background, _, _ in BACKGROUNDS:
                            for pan in (None, "left"):
                                for variant in range(2):
                                    spec = SceneSpec(colour, shape, motion, count, direction, background, pan, 0)
                                    words.update(re.findall(r"[a-z]+", caption_for(spec, variant)))
    return tuple(sorted(words))


# -- sampling ---------------------------------------------------------------------------------

def sample_spec(rng: random.Random, *, held_out: bool | None = False) -> SceneSpec:
    """A random scene; `held_out` True draws only held-out combinations, False only seen ones,
    None either."""
    while True:
        colour, shape, motion = rng.choice(list(COLOURS)), rng.choice(SHAPES), rng.choice(MOTIONS)
        if held_out is None or (combination_key(colour, shape, motion) in HELD_OUT) == held_out:
            break
    count = rng.choice((1, 1, 2, 3))
    if motion == "fall":
        direction = "down"
    elif motion == "backboard":
        direction = "right"
    else:
        direction = rng.choice(("left", "right"))
    # the frame's edges are the walls and the board stands still; a pan against a ramp's slide
    # would turn it into a drop on screen: pans only over falls and rolls
    pan = rng.choice((None, None, None, "left", "right")) if motion in ("fall", "roll") else None
    return SceneSpec(colour=colour, shape=shape, motion=motion, count=count, direction=direction,
                     background=rng.choice(BACKGROUNDS)[0], pan=pan, seed=rng.randrange(2**31))


# -- physics ----------------------------------------------------------------------------------

RAMP_SLOPE = 0.6  # rise over run


def ramp_geometry(direction: str) -> tuple[float, float, float]:
    """(x at the top, x at the foot, y at the top) of a ramp falling towards `direction`."""
    sign = -1.0 if direction == "left" else 1.0
    x_top, x_foot = 0.5 - sign * 0.42, 0.5 + sign * 0.3
    return x_top, x_foot, FLOOR_Y - RAMP_SLOPE * abs(x_foot - x_top)


def simulate(spec: SceneSpec, frames: int, fps: float) -> tuple[np.ndarray, list[tuple[int, str, int]]]:
    """World positions (T, count, 2) of every object, and the frames where something bounced.
    Small fixed sub-steps, so bounces land where they would in continuous time."""
    rng = random.Random(spec.seed)
    sub = 8
    dt = 1.0 / fps / sub
    sign = -1.0 if spec.direction == "left" else 1.0
    starts = []
    for i in range(spec.count):
        # objects of one scene are spread out so they never overlap on screen
        lane = (i + 0.5) / spec.count
        if spec.motion == "fall":
            p = [0.15 + 0.7 * lane + rng.uniform(-0.03, 0.03), rng.uniform(0.12, 0.3)]
            v = [0.0, rng.uniform(0.0, 0.1)]
        elif spec.motion == "roll":
            p = [0.5 - sign * (0.4 - 0.27 * i) + rng.uniform(-0.02, 0.02), FLOOR_Y - RADIUS]
            v = [sign * rng.uniform(0.45, 0.6), 0.0]
        elif spec.motion == "wall":
            p = [0.5 + sign * 0.1 + rng.uniform(-0.05, 0.05), 0.25 + 0.6 * lane]
            v = [sign * rng.uniform(0.9, 1.1), 0.0]
        elif spec.motion == "ramp":
            # on the ramp's surface near its top, one behind another
            x_top, _, y_top = ramp_geometry(spec.direction)
            x = x_top + sign * (0.08 + 0.2 * (spec.count - 1 - i))
            p = [x, y_top + RAMP_SLOPE * abs(x - x_top) - RADIUS * 1.2]
            v = [sign * 0.3 * math.cos(math.atan(RAMP_SLOPE)), 0.3 * math.sin(math.atan(RAMP_SLOPE))]
        else:  # backboard: thrown up and right, the board at the right edge
            # a diagonal line, so their paths never cross before the board
            p = [0.1 + 0.2 * i + rng.uniform(-0.02, 0.02), 0.7 - 0.22 * i]
            v = [rng.uniform(1.1, 1.3), -rng.uniform(0.9, 1.1)]
        starts.append((p, v))

    out = np.zeros((frames, spec.count, 2), np.float32)
    events: list[tuple[int, str, int]] = []
    state = [[list(p), list(v)] for p, v in starts]
    for t in range(frames):
        for k, (p, _) in enumerate(state):
            out[t, k] = p
        for _ in range(sub):
            for k, (p, v) in enumerate(state):
                if spec.motion == "roll":
                    v[0] *= 1 - 0.15 * dt  # rolling friction
                elif spec.motion == "wall":
                    pass  # no gravity: a puck on a table seen from above
                elif spec.motion == "ramp":
                    angle = math.atan(RAMP_SLOPE)
                    if p[1] < FLOOR_Y - RADIUS - 1e-6:  # on the ramp: accelerates along it
                        speed = math.hypot(*v) + GRAVITY * math.sin(angle) * dt
                        v[0], v[1] = sign * speed * math.cos(angle), speed * math.sin(angle)
                    else:  # at its foot: rolls on along the floor
                        v[0], v[1] = v[0] * (1 - 0.15 * dt), 0.0
                else:
                    v[1] += GRAVITY * dt
                p[0] += v[0] * dt
                p[1] += v[1] * dt
                if p[1] > FLOOR_Y - RADIUS and v[1] > 0:
                    p[1] = FLOOR_Y - RADIUS
                    if spec.motion == "ramp":
                        v[1] = 0.0
                    else:
                        v[1] = -v[1] * RESTITUTION
                        events.append((t, "floor", k))
                wall_hit = (p[0] < RADIUS and v[0] < 0) or (p[0] > 1 - RADIUS and v[0] > 0)
                board_x = 0.86 - RADIUS
                if spec.motion == "backboard" and p[0] > board_x and v[0] > 0:
                    p[0] = board_x
                    v[0] = -v[0] * RESTITUTION
                    events.append((t, "board", k))
                elif wall_hit:
                    p[0] = min(max(p[0], RADIUS), 1 - RADIUS)
                    v[0] = -v[0] * RESTITUTION
                    events.append((t, "wall", k))
    # one event per (frame, kind, object)
    return out, sorted(set(events))


# -- drawing ----------------------------------------------------------------------------------

def _background(spec: SceneSpec, size: int, offset_px: float) -> Image.Image:
    _, top, bottom = next(b for b in BACKGROUNDS if b[0] == spec.background)
    ramp = np.linspace(0.0, 1.0, size, dtype=np.float32)[:, None, None]
    img = (np.array(top, np.float32) * (1 - ramp) + np.array(bottom, np.float32) * ramp)
    img = np.repeat(img, size, axis=1)
    if spec.pan:
        # faint vertical stripes fixed in the world: under a pan they slide across the frame
        xs = (np.arange(size) + offset_px) % max(4, size // 4)
        stripe = (xs < max(1, size // 16))[None, :, None]
        img = np.where(stripe, img * 0.88, img)
    return Image.fromarray(img.clip(0, 255).astype(np.uint8))


def _draw_object(draw: ImageDraw.ImageDraw, shape: str, cx: float, cy: float, r: float, colour: Color) -> None:
    if shape == "ball":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour)
    elif shape == "cube":
        draw.rectangle((cx - r, cy - r, cx + r, cy + r), fill=colour)
    else:
        draw.polygon([(cx, cy - r), (cx + r, cy + r), (cx - r, cy + r)], fill=colour)


def render(spec: SceneSpec, *, frames: int = 8, size: int = 32, fps: float = 8.0) -> Clip:
    """Draw a clip: a supersampled canvas (four times the size) shrunk with a box filter, so
    edges are anti-aliased as a camera's would be."""
    world, events = simulate(spec, frames, fps)
    big = size * 4
    pan_speed = 0.0 if spec.pan is None else (0.25 if spec.pan == "right" else -0.25)
    images, positions = [], np.zeros((frames, spec.count, 2), np.float32)
    for t in range(frames):
        # a camera panning right moves the world left on screen
        shift = pan_speed * t / fps
        canvas = _background(spec, big, shift * big)
        draw = ImageDraw.Draw(canvas)
        draw.rectangle((0, FLOOR_Y * big, big, big), fill=FLOOR)
        if spec.motion == "ramp":
            x_top, x_foot, y_top = ramp_geometry(spec.direction)
            pts = [((x_top - shift) * big, y_top * big), ((x_foot - shift) * big, FLOOR_Y * big),
                   ((x_top - shift) * big, FLOOR_Y * big)]
            draw.polygon(pts, fill=RAMP)
        if spec.motion == "backboard":
            bx = (0.86 - shift) * big
            draw.rectangle((bx, 0.15 * big, bx + 0.05 * big, 0.6 * big), fill=BOARD)
        for k in range(spec.count):
            x, y = float(world[t, k, 0]) - shift, float(world[t, k, 1])
            _draw_object(draw, spec.shape, x * big, y * big, RADIUS * big, COLOURS[spec.colour])
            positions[t, k] = (x * size, y * size)
        images.append(np.asarray(canvas.resize((size, size), Image.Resampling.BOX)))
    return Clip(spec=spec, caption=caption_for(spec, spec.seed), frames=np.stack(images), positions=positions,
                events=events)


def clips(n: int, *, seed: int = 0, held_out: bool | None = False, frames: int = 8, size: int = 32,
          fps: float = 8.0) -> Iterator[Clip]:
    """`n` clips from `seed`: the same arguments give the same clips."""
    rng = random.Random(seed)
    for _ in range(n):
        yield render(sample_spec(rng, held_out=held_out), frames=frames, size=size, fps=fps)

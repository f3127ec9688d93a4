"""Stand-ins for selfie videos, rendered from one real photo: a textured 3-D head that turns and
speaks, and the presentation attacks of ISO/IEC 30107-3 built from the same material.

What a bona fide video is here (no camera, no real recordings offline): the photo's face is
mapped onto a generic head surface (an ellipsoid with a nose ridge and eye sockets, fitted to the
five landmarks YuNet finds) and rendered in perspective as it turns about the neck, so the nose
moves against the cheeks the way parallax moves it; the background stays put (the clean plate
is the photo with the head inpainted away). The mouth opens in time with the speech: the jaw
below the mouth line drops by the audio's loudness envelope and the gap shows a dark cavity.
A hand-held camera adds a little jitter. It is not a real person: its texture is a flat photo,
its shading does not change as it turns, and its mouth is drawn. That is the limit of every rate
measured on it (bench/liveness_pad.py says so).

Attacks: `render(..., surface="plane")` turns the whole photo as one flat print (a homography, as a
print held and tilted is), with or without the mouth moving (a print with the mouth cut out and
the attacker's own mouth behind it); a mouth driven by another utterance (dubbed); another face
part-way (a swap); a still face on a moving background; and `on_screen` replays frames on a
display filmed by the camera (pixel grid, bezel, glare).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

RATE = 16000


@dataclass
class Head:
    """A photo prepared for rendering: its landmarks and the head's ellipse, depth and clean plate."""
    photo: np.ndarray        # BGR uint8
    landmarks: np.ndarray    # (5, 2): right eye, left eye, nose, right mouth corner, left mouth corner
    centre: np.ndarray       # (2,) the head ellipse's centre
    axes: tuple[float, float]
    eye_distance: float
    plate: np.ndarray        # the photo with the head inpainted away


def prepare(photo: np.ndarray, landmarks: np.ndarray) -> Head:
    lm = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    eyes = (lm[0] + lm[1]) / 2
    mouth = (lm[3] + lm[4]) / 2
    eye_distance = float(np.linalg.norm(lm[1] - lm[0]))
    centre = eyes + 0.45 * (mouth - eyes) + np.array([0.0, 0.1 * eye_distance])
    axes = (1.15 * eye_distance, 1.65 * eye_distance)
    mask = np.zeros(photo.shape[:2], np.uint8)
    cv2.ellipse(mask, (int(centre[0]), int(centre[1])), (int(axes[0] * 1.12), int(axes[1] * 1.1)), 0, 0, 360, 255, -1)
    small = cv2.resize(photo, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    small_mask = cv2.resize(mask, (small.shape[1], small.shape[0]), interpolation=cv2.INTER_NEAREST)
    plate = cv2.resize(cv2.inpaint(small, small_mask, 7, cv2.INPAINT_TELEA), (photo.shape[1], photo.shape[0]))
    plate = np.where(mask[..., None] > 0, plate, photo)
    return Head(photo, lm, centre, axes, eye_distance, plate)


def open_mouth(image: np.ndarray, head: Head, amount: float) -> np.ndarray:
    """The jaw below the mouth line dropped by `amount` (0..1) of a third of the mouth's width, and
    the gap filled by the mouth's dark inside."""
    if amount <= 0.02:
        return image
    lm = head.landmarks
    left, right = lm[3], lm[4]
    centre = (left + right) / 2
    width = float(np.linalg.norm(right - left))
    drop = amount * 0.34 * width
    h, w = image.shape[:2]
    x0, x1 = int(max(0, centre[0] - 1.3 * width)), int(min(w, centre[0] + 1.3 * width))
    y0, y1 = int(max(0, centre[1] - 0.2 * width)), int(min(h, centre[1] + 1.6 * width))
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    across = np.exp(-((xx - centre[0]) / (0.75 * width)) ** 2)
    below = np.clip((yy - centre[1]) / (0.08 * width), 0, 1) * np.clip(1 - (yy - centre[1]) / (1.5 * width), 0, 1)
    shift = drop * across * below
    out = image.copy()
    out[y0:y1, x0:x1] = cv2.remap(image, xx, (yy - shift).astype(np.float32), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    cavity = (int(centre[0]), int(centre[1] + drop / 2))
    axes = (max(1, int(0.42 * width)), max(1, int(drop / 2)))
    cv2.ellipse(out, cavity, axes, float(np.degrees(np.arctan2(*(right - left)[::-1]))), 0, 360,
                (38, 28, 52), -1, cv2.LINE_AA)
    if drop > 0.12 * width:  # upper teeth
        teeth = (cavity[0], int(centre[1] + 0.05 * width))
        cv2.ellipse(out, teeth, (int(0.3 * width), max(1, int(0.05 * width))), 0, 0, 180, (205, 215, 220), -1,
                    cv2.LINE_AA)
    return out


def _depth(head: Head, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Height of the head surface above the ellipse's plane (pixels, toward the camera)."""
    e = head.eye_distance
    u = (xs - head.centre[0]) / head.axes[0]
    v = (ys - head.centre[1]) / head.axes[1]
    z = 0.95 * e * np.sqrt(np.clip(1 - u * u - v * v, 0, None))
    lm = head.landmarks
    eyes_y = (lm[0, 1] + lm[1, 1]) / 2
    nose = lm[2]
    # The nose: a ridge from between the eyes to the tip, highest at the tip, gone just below it.
    along = np.clip((ys - eyes_y) / max(nose[1] - eyes_y, 1.0), 0, None)
    ridge = np.where(along <= 1, 0.18 + 0.32 * along, 0.5 * np.exp(-((along - 1) / 0.25) ** 2))
    z += e * ridge * np.exp(-((xs - nose[0]) / (0.2 * e)) ** 2) * (along > 0)
    for eye in lm[:2]:
        z -= 0.1 * e * np.exp(-(((xs - eye[0]) / (0.3 * e)) ** 2 + ((ys - eye[1]) / (0.22 * e)) ** 2))
    return z


def _splat(target: np.ndarray, xs: np.ndarray, ys: np.ndarray, depth: np.ndarray, colours: np.ndarray,
           inside: np.ndarray) -> None:
    """Write `colours` at (xs, ys), the nearest (largest depth) sample winning each pixel."""
    h, w = target.shape[:2]
    xi, yi = np.rint(xs).astype(np.int64), np.rint(ys).astype(np.int64)
    keep = inside & (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
    idx, d, c = (yi * w + xi)[keep], depth[keep], colours[keep]
    order = np.lexsort((-d, idx))  # by pixel, nearest first
    idx, c = idx[order], c[order]
    first = np.ones(len(idx), bool)
    first[1:] = idx[1:] != idx[:-1]
    target.reshape(-1, target.shape[2])[idx[first]] = c[first]


def _turn(xs, ys, z, theta: float, pivot, behind: float, camera: float):
    """Rotate points about the vertical axis through `pivot` at depth `behind`, then project them."""
    dx = xs - pivot[0]
    rx = dx * np.cos(theta) + (z - behind) * np.sin(theta)
    rz = -dx * np.sin(theta) + (z - behind) * np.cos(theta) + behind
    scale = camera / (camera - rz)
    return pivot[0] + rx * scale, pivot[1] + (ys - pivot[1]) * scale, rz


def render(head: Head, yaw_degrees: float, mouth: float = 0.0, *, surface: str = "head", jitter: int | None = None,
           texture: np.ndarray | None = None, camera: float = 9.0) -> np.ndarray:
    """One frame: the head turned by `yaw_degrees` (positive: the subject turns to their left, the
    nose moves toward the image's right), the mouth `mouth` open (0..1). `surface="plane"` turns
    the whole photo as a flat print instead (held `camera` eye distances from the lens: a print
    held close shows the perspective a tilted head also shows). `texture` replaces the photo
    (another face, mapped onto the same surface)."""
    theta = np.radians(yaw_degrees)
    image = open_mouth(head.photo if texture is None else texture, head, mouth)
    h, w = image.shape[:2]
    e = head.eye_distance
    if surface == "plane":
        corners = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
        px, py, _ = _turn(corners[:, 0], corners[:, 1], np.zeros(4), theta, (w / 2, h / 2), 0.0, camera * e)
        matrix = cv2.getPerspectiveTransform(corners, np.float32(np.stack([px, py], axis=1)))
        out = cv2.warpPerspective(image, matrix, (w, h), flags=cv2.INTER_LINEAR, borderValue=(96, 96, 96))
    else:
        out = head.plate.copy()
        cx, cy = head.centre
        ax, ay = head.axes
        x0, x1 = int(max(0, cx - ax)), int(min(w, cx + ax + 1))
        y0, y1 = int(max(0, cy - ay)), int(min(h, cy + ay + 1))
        ys, xs = np.mgrid[y0:y1:0.5, x0:x1:1 / 3]
        z = _depth(head, xs, ys)
        colours = cv2.resize(image[y0:y1, x0:x1], (xs.shape[1], xs.shape[0]), interpolation=cv2.INTER_LINEAR)
        inside = (((xs - cx) / ax) ** 2 + ((ys - cy) / ay) ** 2 <= 1).reshape(-1)
        px, py, rz = _turn(xs, ys, z, theta, head.centre, -0.6 * e, camera * e)  # the neck's axis is behind the face
        _splat(out, px.reshape(-1), py.reshape(-1), rz.reshape(-1), colours.reshape(-1, 3), inside)
    if jitter is not None:
        rng = np.random.default_rng(jitter)
        dx_, dy_, rot = rng.uniform(-2, 2), rng.uniform(-2, 2), rng.uniform(-0.6, 0.6)
        m = cv2.getRotationMatrix2D((w / 2, h / 2), rot, 1.0)
        m[:, 2] += (dx_, dy_)
        out = cv2.warpAffine(out, m, (w, h), borderMode=cv2.BORDER_REPLICATE)
    return out


# -- speech --------------------------------------------------------------------------------------

def loudness(pcm: np.ndarray, times: np.ndarray, window_s: float = 0.06) -> np.ndarray:
    """The speech's loudness at `times` (seconds), 0..1: the RMS the lips check measures
    (likeness.liveness.lips.loudness_at) over its 95th percentile."""
    from likeness.liveness.lips import loudness_at
    level = loudness_at(pcm, times, window_s)
    top = np.percentile(level, 95) if level.max() > 0 else 1.0
    return np.clip(level / max(top, 1e-6), 0, 1)


def mouth_track(pcm: np.ndarray, fps: float, frames: int, lead_s: float = 0.03) -> np.ndarray:
    """How open the mouth is in each frame for this speech: its loudness a moment later (the mouth
    opens just before the sound), softened, zero in silence."""
    times = np.arange(frames) / fps + lead_s
    level = loudness(pcm, times)
    level[level < 0.12] = 0.0
    return np.sqrt(level)


# -- whole clips ---------------------------------------------------------------------------------

def turn_ramp(frames: int, max_yaw: float, direction: str, start: float = 0.3, end: float = 0.75) -> np.ndarray:
    """Yaw per frame: facing the camera, then turning smoothly in `direction` (the subject's)."""
    t = np.arange(frames) / max(frames - 1, 1)
    ramp = np.clip((t - start) / (end - start), 0, 1)
    ramp = ramp * ramp * (3 - 2 * ramp)
    return (1.0 if direction == "left" else -1.0) * max_yaw * ramp


def _room(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """What is around the display: a wall lit from one side, a few soft shapes (furniture, a door)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = rng.uniform(70, 170, size=3).astype(np.float32)
    slope = rng.uniform(-0.35, 0.35, size=2)
    light = 1 + slope[0] * (xx / w - 0.5) + slope[1] * (yy / h - 0.5)
    room = base[None, None, :] * light[..., None]
    for _ in range(int(rng.integers(2, 5))):
        x0, y0 = rng.uniform(-0.2, 1.0) * w, rng.uniform(-0.2, 1.0) * h
        x1, y1 = x0 + rng.uniform(0.1, 0.5) * w, y0 + rng.uniform(0.1, 0.6) * h
        cv2.rectangle(room, (int(x0), int(y0)), (int(x1), int(y1)), rng.uniform(30, 220, size=3).tolist(), -1)
    room = cv2.GaussianBlur(room, (0, 0), rng.uniform(2.0, 6.0))  # out of focus: the camera is on the display
    return room


def on_screen(frame: np.ndarray, seed: int = 0, tilt: float = 8.0, *, index: int = 0, pitch: float | None = None,
              fill: float | None = None, blur: float | None = None) -> np.ndarray:
    """`frame` shown on a display and filmed by the camera (a replay attack), same size out.

    The display, its placement and its glare come from `seed` (one replayed video: one seed);
    `index` (the frame's number) moves the hand-held camera a little. The display's pixels are
    `pitch` camera pixels apart (default: drawn in 2.5..4), each one three vertical sub-pixel
    stripes (red, green, blue) in a dark matrix, so its resolution is the camera's over `pitch`;
    the picture fills `fill` of the frame's width (default 0.72..0.84: the whole dark bezel and
    the room around it in view; above 1 the camera is so close that no edge of the display shows). The
    display is turned by up to `tilt` pixels of perspective and a degree or two, a little out of
    the camera's focus (the lens blur that, with the sensor's sampling of the stripes, makes
    moire), brighter and bluer than the scene was, with a glare patch and a veil of reflected
    light on its glass, and the camera adds its noise. What it leaves out: a real display's
    pixels are usually finer than the camera resolves (then only moire fringes show), and no
    flicker or rolling-shutter banding is drawn."""
    rng = np.random.default_rng(seed)
    h, w = frame.shape[:2]
    pitch = float(rng.uniform(2.5, 4.0)) if pitch is None else float(pitch)
    fill = float(rng.uniform(0.72, 0.84)) if fill is None else float(fill)
    # The display: the frame at the panel's resolution, with a display's tone (gamma, gain, a blue cast).
    cols = max(8, int(round(fill * w / pitch)))
    rows = max(8, int(round(cols * h / w)))
    panel = cv2.resize(frame, (cols, rows), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    panel = panel ** rng.uniform(0.8, 1.1) * rng.uniform(0.9, 1.1) * np.float32([1.08, 1.0, 0.95])
    # Each display pixel: 6x6 samples, two per sub-pixel column, the last row and the gap after
    # each sub-pixel dark (the black matrix).
    s = 6
    big = np.repeat(np.repeat(panel, s, axis=0), s, axis=1)
    mask = np.zeros((s, s, 3), np.float32)
    for channel, column in ((2, 0), (1, 2), (0, 4)):  # red, green, blue, left to right
        mask[:, column, channel] = 1.0
        mask[:, column + 1, channel] = 0.8
    mask[s - 1] *= 0.6
    big *= np.tile(mask, (rows, cols, 1)) / mask.mean(axis=(0, 1))  # the same light on average
    # A little out of focus (lens and sensor: over a camera pixel), then seen by the camera in perspective.
    big = cv2.GaussianBlur(big, (0, 0), (rng.uniform(1.1, 1.5) if blur is None else blur) * s / pitch)
    sw, sh = cols * pitch, rows * pitch  # the picture's size on the camera
    jitter = np.random.default_rng([seed, index])
    bezel = rng.uniform(0.03, 0.06)  # its width, over the picture's
    # Off the frame's centre, but with the whole bezel in view when the display fits in the frame.
    spare = (1 - fill * (1 + 2 * bezel)) / 2 - 0.025
    off = spare if spare > 0 else 0.04
    cx = w / 2 + rng.uniform(-off, off) * w + jitter.uniform(-1.5, 1.5)
    cy = h / 2 + rng.uniform(-off, off) * h + jitter.uniform(-1.5, 1.5)
    angle = np.radians(rng.uniform(-2.0, 2.0) + jitter.uniform(-0.3, 0.3))
    skew = tilt * rng.uniform(0.5, 1.0) * rng.choice([-1.0, 1.0])

    def place(width: float, height: float) -> np.ndarray:
        corners = np.float32([[-width / 2, -height / 2], [width / 2, -height / 2], [width / 2, height / 2],
                              [-width / 2, height / 2]])
        corners[:, 1] *= 1 + np.float32([-1, 1, 1, -1]) * skew / max(height, 1.0)  # one side nearer
        rot = np.float32([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        return corners @ rot.T + np.float32([cx, cy])

    screen = place(sw, sh)
    bezel_width = bezel * sw
    scene = _room(h, w, rng)
    rim = np.zeros((h, w), np.uint8)
    cv2.fillConvexPoly(rim, np.rint(place(sw + 2 * bezel_width, sh + 2 * bezel_width)).astype(np.int32), 255)
    rim = cv2.GaussianBlur(rim, (0, 0), 0.7).astype(np.float32)[..., None] / 255.0
    scene = scene * (1 - rim) + rng.uniform(10, 30) * rim
    src = np.float32([[0, 0], [big.shape[1], 0], [big.shape[1], big.shape[0]], [0, big.shape[0]]])
    matrix = cv2.getPerspectiveTransform(src, screen)
    shown = cv2.warpPerspective(big, matrix, (w, h), flags=cv2.INTER_LINEAR) * 255.0
    inside = cv2.warpPerspective(np.ones(big.shape[:2], np.float32), matrix, (w, h), flags=cv2.INTER_LINEAR)[..., None]
    scene = scene * (1 - inside) + shown * inside
    # Light reflected by the glass (display and bezel): a veil, and a glare patch.
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    gx, gy = rng.uniform(0.2, 0.8) * w, rng.uniform(0.15, 0.6) * h
    glare = rng.uniform(40, 90) * np.exp(-(((xx - gx) / (rng.uniform(0.08, 0.2) * w)) ** 2
                                            + ((yy - gy) / (rng.uniform(0.05, 0.12) * h)) ** 2))
    glass = np.maximum(inside[..., 0], rim[..., 0])
    scene += (glare + rng.uniform(5, 20))[..., None] * glass[..., None]
    scene += jitter.normal(0, 1.5, scene.shape).astype(np.float32)  # the camera's sensor noise
    return np.clip(scene, 0, 255).astype(np.uint8)

"""The platform's renderer: the video model's clip, brought to the feed's size and length, with a
soundtrack made from the motion the clip shows, encoded by generator/encode.py.

The model samples a few small frames (8 at 32 px for ours); each is upscaled and held for its
share of the video (a stop-motion pace: blending neighbouring frames ghosts moving objects). The
sound follows the picture, not the prompt: the state parser tracks the objects in the sampled
frames and every reversal of an object's motion (a bounce off the floor, a wall, the board) gets
an impact where it shows, over a quiet ambient bed.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from scipy.signal import lfilter

from app.kit.files import sha256_of
from generator import provenance, watermark
from generator.dataset import BACKGROUNDS
from generator.encode import EncodeSpec, write_mp4
from generator.state_parser import parse
from generator.model_files import default_model_dir
from generator.speech import dialogue, speak
from generator.video_model import GreenlightVideoPipeline, load_pipeline

VIDEO_SIZE = 384   # square frames; the invisible watermark wants >= 256 px a side
AUDIO_RATE = 44100
CAMERA_MOVE = "camera-move-1"  # what renders an input image (`camera_move`), as records and manifests name it
REMIX_STRENGTH = 0.6  # how far a remix re-noises its parent's clip: 0 keeps it, 1 ignores it
IMPACT_MIN_SPEED = 0.5  # px per model frame on each side of a reversal: slower is jitter, not a bounce


@dataclass(frozen=True)
class RenderSettings:
    fps: int = 24
    seconds: float = 3.0
    steps: int = 20
    guidance: float = 3.0
    size: int = VIDEO_SIZE
    watermark: str | None = None     # the visible label
    generation_id: str | None = None  # carried by the invisible watermark (generator/watermark.py)
    # The gates and consent receipts for the C2PA manifest (generator/provenance.py): signed when given
    provenance: dict | None = None
    # Cameos' aligned face crops (112x112 BGR), composited onto figures that cross the scene
    faces: tuple = ()
    # A remix: (prompt, seed) of each ancestor, root first; the render continues the parent's clip
    lineage: tuple = ()
    # Image-to-video: the still the video is made of (a slow camera move over it)
    input_image: Path | None = None


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
    model: str                      # model_id(): directory name and weights hash
    seed: int
    steps: int
    impacts_s: tuple[float, ...]    # where the soundtrack has an impact
    timings: dict[str, float] = field(default_factory=dict)  # seconds: sample, sound, encode (pictures), sign
    batch: int = 1                  # clips sampled in the same model call (`sample` is that call's time)


@functools.lru_cache(maxsize=8)
def model_id(directory: Path) -> str:
    """`<directory name>@<first 12 hex of the denoiser weights' sha256>`: which weights rendered it."""
    weights = directory / "unet" / "diffusion_pytorch_model.safetensors"
    return f"{directory.name}@{sha256_of(weights)[:12]}"


@functools.lru_cache(maxsize=2)
def pipeline(directory: str) -> GreenlightVideoPipeline:
    """Loaded once per process and directory (a few hundred ms); the worker renders with it many times."""
    pipe = load_pipeline(directory)
    pipe.set_progress_bar_config(disable=True)  # a worker's log is not a terminal
    # a render worker on a GPU node samples there; the noise is drawn on the CPU either way, so a
    # seed gives the same starting noise on both (the samples then differ in the last bits)
    return pipe.to("cuda") if torch.cuda.is_available() else pipe


def model_caption(pipe: GreenlightVideoPipeline, prompt: str) -> str:
    """The prompt as our model's captions read: they always end by naming a background
    (generator/dataset.py), and a prompt that names none drifts (measured on the shipped weights,
    "a red ball bounces off the backboard": 2 of 12 seeds red, counts up to 5; with the studio
    named, 6 of 6 red). Such a prompt gets the set's first background. A model that was not
    trained on those captions (no "background" in its vocabulary) gets the prompt as written."""
    vocabulary = getattr(pipe.text_encoder.config, "vocabulary", ())
    if "background" not in vocabulary:
        return prompt
    lowered = prompt.lower()
    if any(name in lowered for name, _, _ in BACKGROUNDS):
        return prompt
    return f"{prompt.rstrip(' .,')}, {BACKGROUNDS[0][0]} background"


def sample_clip(pipe: GreenlightVideoPipeline, prompt: str, *, seed: int, steps: int, guidance: float,
                lineage: tuple = ()) -> np.ndarray:
    """The model's frames for the prompt, (T, h, w, 3) uint8; the same seed gives the same clip.

    A remix replays its lineage: the root's clip from its own seed, then each descendant's from
    its parent's clip re-noised (SDEdit at REMIX_STRENGTH) with the root's noise, so the result
    keeps the parent's layout and motion where the new prompt allows."""
    def noise() -> torch.Generator:
        return torch.Generator().manual_seed((lineage[0][1] if lineage else seed) % 2**63)

    clip = None
    for text in [p for p, _ in lineage] + [prompt]:
        out = pipe(model_caption(pipe, text), num_inference_steps=steps, guidance_scale=guidance, generator=noise(),
                   init_frames=None if clip is None else clip[None], strength=REMIX_STRENGTH)
        clip = out.frames[0]
    return clip


def sample_clips(pipe: GreenlightVideoPipeline, prompts: Sequence[str], seeds: Sequence[int], *, steps: int,
                 guidance: float) -> list[np.ndarray]:
    """Plain text-to-video clips for several prompts in one call: each starts from its own seed's
    noise, drawn as `sample_clip` draws it, so a clip is the one it would be alone (up to the last
    bits of float arithmetic in a larger batch)."""
    size = pipe.unet.config.sample_size
    shape = (1, pipe.unet.config.in_channels, size, size)
    latents = torch.cat([torch.randn(shape, generator=torch.Generator().manual_seed(seed % 2**63))
                         for seed in seeds])
    out = pipe([model_caption(pipe, p) for p in prompts], num_inference_steps=steps, guidance_scale=guidance,
               latents=latents)
    return list(out.frames)


def sample_batch(pipe: GreenlightVideoPipeline, prompts: Sequence[str], seeds: Sequence[int], *, steps: int,
                 guidance: float) -> list[np.ndarray]:
    """`sample_clips`, halving the batch on out-of-memory until it fits (one clip that does not fit
    raises): a GPU worker's batch size is a ceiling, not a promise."""
    try:
        return sample_clips(pipe, prompts, seeds, steps=steps, guidance=guidance)
    except torch.OutOfMemoryError:
        if len(prompts) == 1:
            raise
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        half = len(prompts) // 2
        return (sample_batch(pipe, prompts[:half], seeds[:half], steps=steps, guidance=guidance)
                + sample_batch(pipe, prompts[half:], seeds[half:], steps=steps, guidance=guidance))


def camera_move(image_path: Path, *, frames: int, size: int) -> np.ndarray:
    """An input image animated: a slow push-in on its centre square (zoom 1 to 1.15), so every
    face in it stays on screen, large, for the post-render scan. The model is not conditioned on
    the image: at 32 px it would erase the faces it must keep."""
    with Image.open(image_path) as im:
        rgb = im.convert("RGB")
    side = min(rgb.size)
    left, top = (rgb.width - side) // 2, (rgb.height - side) // 2
    out = []
    for k in range(frames):
        zoom = 1 + 0.15 * k / max(frames - 1, 1)
        inset = side * (1 - 1 / zoom) / 2
        box = (left + inset, top + inset, left + side - inset, top + side - inset)
        out.append(np.asarray(rgb.resize((size, size), Image.Resampling.BICUBIC, box=box)))
    return np.stack(out)


def frame_index(i: int, frames_out: int, frames_in: int) -> int:
    """Which sampled frame shows at output frame i: each holds for an equal share of the video."""
    return min(frames_in - 1, i * frames_in // frames_out)


def draw_frame(clip: np.ndarray, index: int, size: int) -> Image.Image:
    """One output frame: sampled frame `index` upscaled to size x size."""
    return Image.fromarray(clip[index]).resize((size, size), Image.Resampling.BICUBIC)


def impact_frames(clip: np.ndarray) -> list[int]:
    """Sampled frames at which a tracked object's motion reverses along either axis: where a bounce
    shows. A frame counts once however many objects reverse on it."""
    tracks = parse(clip).tracks  # (T, objects, 2)
    found: set[int] = set()
    if tracks.shape[0] < 3:
        return []
    velocity = np.diff(tracks, axis=0)  # velocity[t] = position[t+1] - position[t]
    for t in range(1, velocity.shape[0]):
        before, after = velocity[t - 1], velocity[t]
        with np.errstate(invalid="ignore"):
            flips = (np.sign(before) != np.sign(after)) & (np.abs(before) >= IMPACT_MIN_SPEED) \
                & (np.abs(after) >= IMPACT_MIN_SPEED)
        if np.any(flips & ~np.isnan(before) & ~np.isnan(after)):
            found.add(t)
    return sorted(found)


def soundtrack(impacts_s: list[float], seconds: float, rate: int, seed: int,
               speech: np.ndarray | None = None) -> np.ndarray:
    """Stereo float32 (2, n): a low ambient bed (filtered noise and a soft drone), at each impact
    a thump with a short click on top, and `speech` (mono at `rate`, generator/speech.py) from a
    quarter second in, over the rest (cut at the video's end). Peak 0.5."""
    n = round(seconds * rate)
    rng = np.random.default_rng(seed % 2**63)
    t = np.arange(n, dtype=np.float32) / rate
    # Brown noise (integrated white noise, leaky so it stays centred) reads as room tone.
    white = rng.standard_normal(n).astype(np.float32)
    brown = lfilter([0.02], [1.0, -0.995], white).astype(np.float32)
    bed = 0.06 * brown / (np.abs(brown).max() or 1.0) + 0.02 * np.sin(2 * np.pi * 55.0 * t)
    audio = np.stack([bed, np.roll(bed, rate // 50)]).astype(np.float32)
    for k, at in enumerate(impacts_s):
        start = int(at * rate)
        if start >= n:
            continue
        seg = t[: min(n - start, int(0.35 * rate))]
        thump = np.sin(2 * np.pi * (70 + 60 * np.exp(-seg / 0.03)) * seg) * np.exp(-seg / 0.09)
        click = rng.standard_normal(seg.shape[0]).astype(np.float32) * np.exp(-seg / 0.006)
        hit = 0.8 * thump + 0.25 * click
        pan = 0.5 + 0.25 * np.sin(k * 1.7)
        audio[0, start:start + seg.shape[0]] += hit * (1 - pan)
        audio[1, start:start + seg.shape[0]] += hit * pan
    if speech is not None and speech.size:
        start = int(0.25 * rate)
        said = speech[: max(0, n - start)]
        # the voice sits well above the effects: its peak at 3 times the loudest impact's or bed's
        level = 3 * (float(np.abs(audio).max()) or 1.0) / (float(np.abs(said).max()) or 1.0)
        audio[:, start:start + said.size] += said * level
    fade = np.clip(np.minimum(t / 0.05, (seconds - t) / 0.2), 0.0, 1.0)
    audio *= fade
    peak = float(np.abs(audio).max()) or 1.0
    return (audio * (0.5 / peak)).astype(np.float32)


def _pictures(clip: np.ndarray, frames_out: int, settings: RenderSettings):
    """The output frames. Without cameos each sampled frame is drawn and marked once however
    long it holds; with them every frame is composited (the figures move at the video's rate)."""
    bits = watermark.payload_for(settings.generation_id) if settings.generation_id else None

    def mark(picture: np.ndarray) -> np.ndarray:
        return watermark.embed(picture, bits) if bits is not None else picture

    figures = [Figure.of(face, k, len(settings.faces), settings.size) for k, face in enumerate(settings.faces)]
    held, shown = -1, None
    for i in range(frames_out):
        k = frame_index(i, frames_out, clip.shape[0])
        if figures:
            canvas = draw_frame(clip, k, settings.size).convert("RGB")
            for figure in figures:
                figure.draw(canvas, i / max(frames_out - 1, 1))
            yield Image.fromarray(mark(np.asarray(canvas)))
            continue
        if k != held:
            held, shown = k, mark(np.asarray(draw_frame(clip, k, settings.size).convert("RGB")))
        yield Image.fromarray(shown.copy())  # the encoder draws the label onto what it gets


HEAD = 0.4  # a figure's head, as a share of the frame's side: the face scan needs faces it can read


@dataclass(frozen=True)
class Figure:
    """A cameo on screen: the owner's enrolled face as the head of a simple figure that walks
    across the scene. The crop is tight (the aligned 112 px face), so it is padded by repeating
    its edges and blended in through a feathered oval, giving the detector a whole head."""

    head: Image.Image   # RGB
    mask: Image.Image   # L, feathered oval
    body_colour: tuple[int, int, int]
    start: float        # x at t=0, as a share of the side
    end: float
    size: int

    @classmethod
    def of(cls, face_bgr: np.ndarray, k: int, n: int, size: int) -> "Figure":
        from PIL import ImageDraw, ImageFilter

        face = np.ascontiguousarray(face_bgr[:, :, ::-1])
        pad = face.shape[0] // 5
        padded = np.pad(face, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
        side = round(size * HEAD)
        head = Image.fromarray(padded).resize((side, round(side * 1.1)), Image.Resampling.BICUBIC)
        mask = Image.new("L", head.size, 0)
        ImageDraw.Draw(mask).ellipse((side * 0.06, side * 0.02, side * 0.94, side * 1.08), fill=255)
        mask = mask.filter(ImageFilter.GaussianBlur(side / 30))
        lane = (k + 0.5) / n
        left, right = 0.15 + 0.2 * lane, 0.55 + 0.3 * lane
        start, end = (left, right) if k % 2 == 0 else (right, left)
        colours = ((40, 90, 200), (200, 60, 60), (60, 160, 90), (200, 150, 40))
        return cls(head, mask, colours[k % len(colours)], start, end, size)

    def draw(self, canvas: Image.Image, t: float) -> None:
        from PIL import ImageDraw

        w, h = self.head.size
        cx = (self.start + (self.end - self.start) * t) * self.size
        top = self.size * 0.36 + self.size * 0.015 * np.sin(t * 6 * np.pi)  # a walking bob
        body = (cx - w * 0.6, top + h * 0.97, cx + w * 0.6, top + h * 0.97 + self.size * 0.5)
        ImageDraw.Draw(canvas).rounded_rectangle(body, radius=w // 3, fill=self.body_colour)
        canvas.paste(self.head, (round(cx - w / 2), round(top)), self.mask)


@dataclass(frozen=True)
class Sampled:
    """A clip the model sampled in a batch (render_batch): the batch's sampling time and size."""
    clip: np.ndarray
    seconds: float
    batch: int


def render_to_mp4(prompt: str, out_path: str | os.PathLike[str], *, seed: int,
                  settings: RenderSettings = RenderSettings(), model_dir: Path | None = None,
                  sampled: Sampled | None = None) -> RenderResult:
    """Sample (unless `sampled` brings the clip), picture, sound, encode: the MP4 at out_path,
    written atomically."""
    directory = Path(model_dir or default_model_dir())
    started = time.perf_counter()
    if sampled is not None:
        clip, batch = sampled.clip, sampled.batch
        started -= sampled.seconds
    elif settings.input_image is not None:
        clip, batch = camera_move(settings.input_image, frames=8, size=settings.size), 1
    else:
        clip, batch = sample_clip(pipeline(str(directory)), prompt, seed=seed, steps=settings.steps,
                                  guidance=settings.guidance, lineage=settings.lineage), 1
    sampled_at = time.perf_counter()
    frames_out = max(1, round(settings.fps * settings.seconds))
    duration = frames_out / settings.fps
    per_frame = duration / clip.shape[0]
    # a still under a camera move has nothing that bounces
    impacts = [] if settings.input_image is not None else [round(k * per_frame, 4) for k in impact_frames(clip)]
    said = dialogue(prompt)
    audio = soundtrack(impacts, duration, AUDIO_RATE, seed, speech=speak(said, AUDIO_RATE) if said else None)
    pictures = _pictures(clip, frames_out, settings)
    prepared = time.perf_counter()
    encode = EncodeSpec(width=settings.size, height=settings.size, fps=settings.fps, audio_rate=AUDIO_RATE,
                        watermark=settings.watermark)
    target = Path(out_path)
    # an input image under a camera move was not made by the model
    made_by = CAMERA_MOVE if settings.input_image is not None else model_id(directory)
    signed = {}

    def sign(encoded: Path, final: Path) -> None:
        began = time.perf_counter()
        provenance.sign(encoded, final, provenance.manifest(
            title=final.name, model=made_by, generation_id=settings.generation_id or "",
            policies=settings.provenance.get("policies", []), consent=settings.provenance.get("consent", [])))
        signed["sign"] = time.perf_counter() - began

    digest, size = write_mp4(target, pictures, audio, encode, finish=sign if settings.provenance is not None else None)
    done = time.perf_counter() - signed.get("sign", 0.0)
    return RenderResult(
        path=target, width=settings.size, height=settings.size, fps=settings.fps, frames=frames_out,
        duration_s=duration, sha256=digest, bytes=size, model=made_by, seed=seed,
        steps=settings.steps, impacts_s=tuple(impacts),
        # pictures are drawn lazily while encoding: their time is in `encode`
        timings={"sample": sampled_at - started, "sound": prepared - sampled_at, "encode": done - prepared} | signed,
        batch=batch,
    )


@dataclass(frozen=True)
class RenderJob:
    prompt: str
    out_path: Path
    seed: int
    settings: RenderSettings = RenderSettings()


def batchable(settings: RenderSettings) -> bool:
    """Plain text-to-video: a remix replays its lineage and an input image is not sampled."""
    return not settings.lineage and settings.input_image is None


def render_batch(jobs: Sequence[RenderJob], model_dir: Path | None = None) -> list[RenderResult | Exception]:
    """Several renders: the model samples the batchable jobs of the same steps and guidance in one
    call (`sample_batch`: halved on out-of-memory), then each job gets its sound, marks, encode and
    signature alone. One entry per job, in order: its RenderResult, or the exception that job (or
    its batch's sampling) raised, so one bad job does not fail the others."""
    directory = Path(model_dir or default_model_dir())
    groups: dict[tuple[int, float], list[int]] = {}
    for i, job in enumerate(jobs):
        if len(jobs) > 1 and batchable(job.settings):
            groups.setdefault((job.settings.steps, job.settings.guidance), []).append(i)
    done: dict[int, Sampled | Exception] = {}
    for (steps, guidance), members in groups.items():
        began = time.perf_counter()
        try:
            clips = sample_batch(pipeline(str(directory)), [jobs[i].prompt for i in members],
                                 [jobs[i].seed for i in members], steps=steps, guidance=guidance)
        except Exception as exc:  # noqa: BLE001 - each job of the batch reports it
            done.update(dict.fromkeys(members, exc))
            continue
        took = time.perf_counter() - began
        done.update({i: Sampled(clip, took, len(members)) for i, clip in zip(members, clips, strict=True)})
    results: list[RenderResult | Exception] = []
    for i, job in enumerate(jobs):
        if isinstance(done.get(i), Exception):
            results.append(done[i])
            continue
        try:
            results.append(render_to_mp4(job.prompt, job.out_path, seed=job.seed, settings=job.settings,
                                         model_dir=directory, sampled=done.get(i)))
        except Exception as exc:  # noqa: BLE001 - reported for this job alone
            results.append(exc)
    return results

"""Write frames and a soundtrack to an H.264/AAC MP4, atomically, with the visible watermark.

Both renderers (the video model's, generator/render.py, and the procedural one the tests and
benchmarks use as a source of known clips) encode through here, so every file the platform
writes has the same container, codecs and label.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFont

AAC_FRAME_SIZE = 1024


@dataclass(frozen=True)
class EncodeSpec:
    width: int
    height: int
    fps: int
    audio_rate: int = 44100
    crf: int = 23
    preset: str = "veryfast"
    watermark: str | None = None  # the visible corner label


@dataclass(frozen=True)
class Watermark:
    box: tuple[int, int, int, int]
    text_mask: Image.Image
    shadow_mask: Image.Image

    def apply(self, frame: Image.Image) -> None:
        frame.paste((0, 0, 0), self.box, self.shadow_mask)
        frame.paste((255, 255, 255), self.box, self.text_mask)


def visible_watermark(text: str, width: int, height: int, opacity: float = 0.7) -> Watermark:
    """Pre-render the corner label once; applying it per frame is two masked pastes."""
    font = ImageFont.load_default(size=max(10, width // 22))
    margin = max(4, width // 36)
    while len(text) > 1 and font.getlength(text) > width - 2 * margin:
        text = text[:-2] + "…"  # keep the label inside the frame
    left, top, right, bottom = font.getbbox(text)
    w, h = right - left + 2, bottom - top + 2
    text_mask, shadow_mask = Image.new("L", (w, h)), Image.new("L", (w, h))
    fill = round(255 * opacity)
    ImageDraw.Draw(text_mask).text((-left, -top), text, font=font, fill=fill)
    ImageDraw.Draw(shadow_mask).text((1 - left, 1 - top), text, font=font, fill=fill // 2)
    x0, y0 = max(0, width - margin - w), max(0, height - margin - h)
    return Watermark((x0, y0, x0 + w, y0 + h), text_mask, shadow_mask)


def partial_file(target: Path) -> Path:
    """A new temporary file beside `target`, named as storage's partial files are
    (`.<name>.<random>.part`), so a killed writer's leftover is found and removed."""
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(fd)
    return Path(name)


def write_mp4(path: str | os.PathLike[str], frames: Iterable[Image.Image], audio: np.ndarray,
              spec: EncodeSpec, *, finish: Callable[[Path, Path], None] | None = None) -> tuple[str, int]:
    """Encode to `path` atomically (a temporary file renamed into place, never a half-written
    one); returns the file's sha256 and size. `audio` is float32 stereo, shape (2, n). `finish`,
    when given, writes the final file from the encoded one (signing: generator/provenance.py),
    atomically itself."""
    target = Path(path)
    tmp = partial_file(target)
    try:
        _encode(frames, audio, spec, tmp)
        if finish is None:
            digest, size = _hash_and_sync(tmp)
            os.replace(tmp, target)
        else:
            finish(tmp, target)
            digest, size = _hash_and_sync(target)
    finally:
        tmp.unlink(missing_ok=True)
    _sync_dir(target.parent)
    return digest, size


def _encode(frames: Iterable[Image.Image], audio: np.ndarray, spec: EncodeSpec, path: Path) -> None:
    watermark = visible_watermark(spec.watermark, spec.width, spec.height) if spec.watermark else None
    # faststart puts the index first so browsers can play while downloading.
    with av.open(str(path), "w", format="mp4", container_options={"movflags": "+faststart"}) as out:
        video_stream = out.add_stream("libx264", rate=spec.fps)
        video_stream.width, video_stream.height = spec.width, spec.height
        video_stream.pix_fmt = "yuv420p"
        video_stream.options = {"crf": str(spec.crf), "preset": spec.preset}
        audio_stream = out.add_stream("aac", rate=spec.audio_rate, layout="stereo")
        audio_stream.bit_rate = 96_000

        chunks = _audio_frames(audio, spec.audio_rate)
        next_chunk = next(chunks, None)
        for index, image in enumerate(frames):
            if watermark is not None:
                watermark.apply(image)
            frame = av.VideoFrame.from_image(image)
            frame.pts, frame.time_base = index, Fraction(1, spec.fps)
            out.mux(video_stream.encode(frame))
            # Interleave audio up to the current video time so the muxer's buffer stays small.
            while next_chunk is not None and next_chunk.pts / spec.audio_rate < (index + 1) / spec.fps:
                out.mux(audio_stream.encode(next_chunk))
                next_chunk = next(chunks, None)
        while next_chunk is not None:
            out.mux(audio_stream.encode(next_chunk))
            next_chunk = next(chunks, None)
        out.mux(video_stream.encode(None))
        out.mux(audio_stream.encode(None))


def _audio_frames(samples: np.ndarray, rate: int) -> Iterator[av.AudioFrame]:
    """Planar float frames of AAC_FRAME_SIZE samples (the encoder accepts a short last one), pts in samples."""
    for start in range(0, samples.shape[1], AAC_FRAME_SIZE):
        chunk = samples[:, start : start + AAC_FRAME_SIZE]
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="fltp", layout="stereo")
        frame.sample_rate, frame.pts, frame.time_base = rate, start, Fraction(1, rate)
        yield frame


def _hash_and_sync(path: Path) -> tuple[str, int]:
    """sha256 and size of the finished file, flushed to disk before it is renamed into place."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
            size += len(block)
        os.fsync(f.fileno())
    return h.hexdigest(), size


def _sync_dir(directory: Path) -> None:
    """Persist the rename itself; best effort where directories cannot be opened (Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

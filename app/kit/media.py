"""Reading media, one way for every domain: one error type, frame sampling, 16 kHz mono audio.

Uploads (cameo enrolment videos) and rendered videos (face scans, integrity checks, safety
classifiers) are read here with PyAV, whose bundled FFmpeg reads MP4, MOV, WebM, WAV, FLAC, ...

* ``MediaError``: why a file cannot be used, as a stable ``code`` (``MEDIA_ERROR_CODES``);
* ``open_media`` / ``check_container_duration``: open for reading and refuse long media early;
* ``sample_frames``: upright BGR frames about ``per_second`` times a second, on the media clock;
* ``load_audio``: the first audio stream as a 16 kHz mono int16 ``AudioTrack``, on the same clock;
* ``read_image``: a still image (an input image, a reference picture) as an upright BGR array.
"""

from __future__ import annotations

import io
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Union

import av
import numpy as np

from app.model_files import UNKNOWN_LICENCE, LicenceClass, ModelFile, installed_version, module_dir

#: Stable machine-readable reasons (docs/errors.md); ``MediaError`` accepts no other code.
MEDIA_ERROR_CODES = frozenset({
    "media_unreadable",  # not media, corrupt, truncated, unsupported
    "media_no_video",
    "media_no_audio",
    "media_bad_codec",
    "media_too_long",
    "media_too_large",
    "media_too_few_frames",
})

#: Decoded media may run this much past ``max_seconds`` (codec priming/padding) before it is refused.
DURATION_SLACK_S = 0.1
#: The rate of every ``AudioTrack``.
SAMPLE_RATE = 16000
#: ``read_image`` refuses images of more pixels than this (read from the header, before decoding).
MAX_IMAGE_PIXELS = 40_000_000

MediaSource = Union[str, "os.PathLike[str]", BinaryIO]


class MediaError(ValueError):
    """A file that cannot be used; ``code`` is one of ``MEDIA_ERROR_CODES``, for APIs and logs.

    Picklable: job queues carry exceptions between processes.
    """

    def __init__(self, code: str, message: str) -> None:
        if code not in MEDIA_ERROR_CODES:
            raise ValueError(f"unknown media error code {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def __reduce__(self):
        return (type(self), (self.code, self.message))


def open_media(source: MediaSource) -> "av.container.InputContainer":
    """``av.open`` for reading, with every failure turned into ``media_unreadable``."""
    if isinstance(source, os.PathLike):
        source = os.fspath(source)
    try:
        return av.open(source, mode="r", metadata_errors="ignore")
    except (av.FFmpegError, OSError, ValueError, EOFError) as exc:
        raise MediaError("media_unreadable", f"cannot open media: {exc}") from exc


def check_container_duration(container: "av.container.InputContainer", max_seconds: float) -> None:
    """Refuse early when the container declares a duration over the limit (the decoders check again)."""
    if container.duration is not None and container.duration / av.time_base > max_seconds + DURATION_SLACK_S:
        raise MediaError(
            "media_too_long",
            f"media lasts {container.duration / av.time_base:.1f} s, the limit is {max_seconds:g} s")


# --------------------------------------------------------------------------------------------
# Video


def _fit(width: int, height: int, max_side: int) -> tuple[int, int]:
    scale = min(1.0, max_side / max(width, height))
    # even sizes keep swscale's chroma handling simple
    return max(2, int(round(width * scale / 2)) * 2), max(2, int(round(height * scale / 2)) * 2)


def sample_frames(path: MediaSource, *, per_second: float | None = 5.0, max_seconds: float = 30.0,
                  max_side: int = 480) -> list[tuple[float, np.ndarray]]:
    """Frames of the first video stream as ``(time_s, BGR uint8 array)``, about ``per_second`` a second.

    The first frame is always kept; times are on the media clock (those of the audio from
    ``load_audio``). ``per_second=None`` keeps every frame; otherwise it must be positive.
    Frames are scaled so their longer side is at most ``max_side`` and turned upright when the
    stream carries a rotation (phones record portrait video as rotated landscape). Raises
    ``MediaError``: ``media_unreadable``, ``media_no_video``, ``media_too_long`` (declared
    duration or a frame past ``max_seconds``).
    """
    if per_second is not None and not (per_second > 0 and math.isfinite(per_second)):
        raise ValueError("per_second must be positive (None keeps every frame)")
    step = 1.0 / per_second if per_second else 0.0
    frames: list[tuple[float, np.ndarray]] = []
    with open_media(path) as container:
        if not container.streams.video:
            raise MediaError("media_no_video", "the media has no video stream")
        check_container_duration(container, max_seconds)
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        rate = float(stream.average_rate or stream.guessed_rate or 30)
        # timestamps jitter by a tick of the container's time base (1 ms in WebM): allow a
        # quarter frame, so that per_second == fps keeps every frame and never picks early
        tolerance = min(step, 1.0 / rate) / 4
        next_t = None
        try:
            for index, frame in enumerate(container.decode(stream)):
                t = float(frame.time) if frame.time is not None else index / rate
                if t > max_seconds + DURATION_SLACK_S:
                    raise MediaError("media_too_long", f"video runs past the {max_seconds:g} s limit")
                if next_t is None:
                    next_t = t
                if t + tolerance < next_t:
                    continue
                while step and next_t <= t + tolerance:
                    next_t += step
                width, height = _fit(frame.width, frame.height, max_side)
                image = frame.to_ndarray(format="bgr24", width=width, height=height,
                                         interpolation="AREA")
                quarter_turns = int(round((frame.rotation or 0) / 90.0)) % 4
                if quarter_turns:  # rotation is counter-clockwise, as np.rot90 turns
                    image = np.ascontiguousarray(np.rot90(image, quarter_turns))
                frames.append((t, image))
        except MediaError:
            raise
        except (av.FFmpegError, ValueError, EOFError) as exc:
            raise MediaError("media_unreadable", f"video does not decode: {exc}") from exc
    if not frames:
        raise MediaError("media_no_video", "the video stream holds no frames")
    return frames


# --------------------------------------------------------------------------------------------
# Audio


@dataclass(frozen=True, eq=False)
class AudioTrack:
    """Mono 16-bit PCM at 16 kHz; ``samples[0]`` is at media time 0."""

    samples: np.ndarray
    rate: int = SAMPLE_RATE

    def __post_init__(self) -> None:
        samples = np.asarray(self.samples)
        if samples.ndim != 1 or samples.dtype != np.int16:
            raise ValueError("samples must be a 1-D int16 array")
        if self.rate != SAMPLE_RATE:
            raise ValueError(f"AudioTrack is {SAMPLE_RATE} Hz (got {self.rate}); decode with load_audio")
        object.__setattr__(self, "samples", samples)

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.rate


def load_audio(path: MediaSource, max_seconds: float = 30.0) -> AudioTrack:
    """Decode the first audio stream of any container PyAV reads into a 16 kHz mono ``AudioTrack``.

    Raises ``MediaError`` with code ``media_unreadable``, ``media_no_audio`` or
    ``media_too_long`` (declared duration or decoded audio beyond ``max_seconds``).
    If the audio stream starts after media time 0 (it can in MP4/MOV), the gap is filled with
    silence so that times in the track match times in the video.
    """
    with open_media(path) as container:
        if not container.streams.audio:
            raise MediaError("media_no_audio", "the media has no audio stream")
        check_container_duration(container, max_seconds)
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        limit = int((max_seconds + DURATION_SLACK_S) * SAMPLE_RATE)
        chunks: list[np.ndarray] = []
        total = 0
        start_time: float | None = None
        try:
            for frame in container.decode(stream):
                if start_time is None and frame.time is not None:
                    start_time = float(frame.time)
                for out in resampler.resample(frame):
                    chunk = out.to_ndarray().reshape(-1)
                    chunks.append(chunk)
                    total += len(chunk)
                if total > limit:
                    raise MediaError("media_too_long", f"audio runs past the {max_seconds:g} s limit")
            for out in resampler.resample(None):
                chunk = out.to_ndarray().reshape(-1)
                chunks.append(chunk)
                total += len(chunk)
        except MediaError:
            raise
        except (av.FFmpegError, ValueError, EOFError) as exc:
            raise MediaError("media_unreadable", f"audio does not decode: {exc}") from exc
    if total == 0:
        raise MediaError("media_no_audio", "the audio stream holds no samples")
    samples = np.concatenate(chunks).astype(np.int16, copy=False)
    if start_time:
        shift = int(round(start_time * SAMPLE_RATE))
        if shift > 0:  # audio starts late: pad to keep the video's clock
            samples = np.concatenate([np.zeros(min(shift, limit), np.int16), samples])
        elif shift < 0:  # encoder priming before time 0
            samples = samples[-shift:]
    if len(samples) > limit:
        raise MediaError("media_too_long", f"audio runs past the {max_seconds:g} s limit")
    return AudioTrack(samples=samples)


# --------------------------------------------------------------------------------------------
# Still images


def read_image(source: "bytes | str | os.PathLike[str]", *, max_pixels: int = MAX_IMAGE_PIXELS) -> np.ndarray:
    """A still image (JPEG, PNG, WebP, the first frame of a GIF, ...) as an upright BGR uint8 array.

    ``source`` is the encoded bytes or a path. EXIF orientation is applied; alpha is dropped.
    The size is read from the header before any pixel is decoded, so a decompression bomb
    costs nothing. Raises ``MediaError``: ``media_unreadable`` (missing, empty, not an image,
    truncated, corrupt), ``media_too_large`` (more than ``max_pixels`` pixels).
    """
    from PIL import Image, ImageOps  # Pillow is only needed where images are read

    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    else:
        try:
            with open(os.fspath(source), "rb") as handle:
                data = handle.read()
        except OSError as exc:
            raise MediaError("media_unreadable", f"cannot read the image: {exc}") from exc
    if not data:
        raise MediaError("media_unreadable", "the image is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise MediaError("media_too_large",
                                     f"the image is {width}x{height}, over {max_pixels} pixels")
                image.load()  # a truncated or corrupt file fails here, not later
                rgb = ImageOps.exif_transpose(image).convert("RGB")
    except MediaError:
        raise
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as exc:
        raise MediaError("media_unreadable", f"not a readable image ({type(exc).__name__}: {exc})") from exc
    if min(rgb.size) < 1:
        raise MediaError("media_unreadable", "the image has no pixels")
    return np.ascontiguousarray(np.asarray(rgb)[:, :, ::-1])


# --- the codec libraries, as a model record (app/model_files.py) -------------------------------

#: The codecs Greenlight needs: H.264 and AAC encoders (the renderer), H.264 and AAC decoders (every scan).
NEEDED_CODECS = (("libx264", "w"), ("aac", "w"), ("h264", "r"), ("aac", "r"))


def _load_codecs(_libraries: Path) -> list["av.codec.Codec"]:
    """The FFmpeg libraries PyAV links are the ones it loaded with itself: ask them for every codec."""
    return [av.codec.Codec(name, mode) for name, mode in NEEDED_CODECS]


def codec_model_file() -> ModelFile:
    """PyAV's bundled FFmpeg (``av.libs`` beside the package on Linux, inside it elsewhere). FFmpeg
    itself is LGPL, but the wheel links x264 and x265, which are GPL-2.0-or-later: so is the whole.
    Not pinned: av is a version range whose wheels differ per platform, so its hash is read."""
    package = module_dir("av")
    libraries = package.parent / "av.libs" if package else Path("<av is not installed>")
    if package and not libraries.is_dir():
        libraries = package
    gpl = libraries.is_dir() and any(libraries.rglob("libx26[45]*"))
    return ModelFile(
        name="video-codec", role="codec", path=libraries, version=f"av-{installed_version('av')}",
        licence="GPL-2.0-or-later" if gpl else UNKNOWN_LICENCE,
        licence_class=LicenceClass.COPYLEFT if gpl else LicenceClass.UNKNOWN,
        source="av", source_version=installed_version("av"),
        licence_note=("FFmpeg is LGPL-3.0-or-later as built, but the wheel links libx264 and libx265 "
                      "(GPL-2.0-or-later); without them: PyAV built against an FFmpeg without GPL parts"
                      if gpl else "no bundled x264/x265: the licence is your FFmpeg build's"),
        load=_load_codecs)

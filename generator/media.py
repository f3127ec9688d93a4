"""Inspect rendered files: probe container facts, judge playability.

probe() states facts (and refuses files it cannot or should not read, raising app.kit.media's
MediaError); check_playable() applies policy, so callers choose which codecs they accept.
Frame sampling and audio decoding for scanners live in app.kit.media.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import av

from app.kit.files import sha256_of
from app.kit.media import MediaError

# Demuxers that turn arbitrary text into "video" (ANSI art); a text file is not media.
_TEXT_DEMUXERS = frozenset({"tty", "bin", "xbin", "adf", "idf"})
# A decode that yields much less than the container declares means the file was cut short.
_TRUNCATION_RATIO = 0.9


@dataclass(frozen=True)
class MediaInfo:
    container: str  # demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
    video_codec: str | None
    audio_codec: str | None
    width: int  # 0 without video
    height: int
    fps: float  # 0.0 without video
    frames: int  # decoded count when probed with decode=True, else the declared count
    duration_s: float
    audio_rate: int  # 0 without audio
    audio_channels: int
    bytes: int
    sha256: str


def probe(
    path: str | os.PathLike[str],
    *,
    max_bytes: int = 200 * 1024 * 1024,
    max_seconds: float = 120.0,
    decode: bool = True,
) -> MediaInfo:
    """Describe a media file; raises MediaError for unreadable, too large or too long files."""
    source = Path(path)
    size = _file_size(source)
    if size > max_bytes:
        raise MediaError("media_too_large", f"{size} bytes exceeds the limit of {max_bytes}")
    try:
        digest = sha256_of(source)
    except OSError as exc:
        raise MediaError("media_unreadable", f"cannot read {source.name}: {exc.strerror}") from exc
    try:
        with av.open(str(source), "r") as container:
            return _describe(container, size, digest, max_seconds, decode)
    except av.FFmpegError as exc:
        raise MediaError("media_unreadable", f"cannot decode {source.name}: {exc}") from exc


def check_playable(
    info: MediaInfo,
    *,
    allowed_video: tuple[str, ...] = ("h264",),
    allowed_audio: tuple[str, ...] = ("aac",),
    min_frames: int = 8,
) -> list[tuple[str, str]]:
    """Policy problems as (code, message) pairs; an empty list means the file is fine to serve."""
    problems: list[tuple[str, str]] = []
    if info.video_codec is None:
        problems.append(("media_no_video", "the file has no video stream"))
    elif info.video_codec not in allowed_video:
        problems.append(("media_bad_codec", f"video codec {info.video_codec} is not one of {allowed_video}"))
    if info.audio_codec is None:
        problems.append(("media_no_audio", "the file has no audio stream"))
    elif info.audio_codec not in allowed_audio:
        problems.append(("media_bad_codec", f"audio codec {info.audio_codec} is not one of {allowed_audio}"))
    if info.video_codec is not None and info.frames < min_frames:
        problems.append(("media_too_few_frames", f"{info.frames} frames, need at least {min_frames}"))
    return problems


# --------------------------------------------------------------------------- helpers


def _file_size(path: Path) -> int:
    try:
        stat = path.stat()
    except OSError as exc:
        raise MediaError("media_unreadable", f"cannot stat {path.name}: {exc.strerror}") from exc
    if not path.is_file():
        raise MediaError("media_unreadable", f"{path.name} is not a regular file")
    return stat.st_size



def _describe(container: av.container.InputContainer, size: int, digest: str,
              max_seconds: float, decode: bool) -> MediaInfo:
    if container.format.name in _TEXT_DEMUXERS:
        raise MediaError("media_unreadable", "text, not media")
    video = container.streams.video[0] if container.streams.video else None
    audio = container.streams.audio[0] if container.streams.audio else None
    if video is None and audio is None:
        raise MediaError("media_unreadable", "no audio or video streams")
    duration = _duration(container, video or audio)
    if duration > max_seconds:
        raise MediaError("media_too_long", f"{duration:.1f} s exceeds the limit of {max_seconds:.1f} s")

    fps = float(video.average_rate or video.guessed_rate or 0) if video is not None else 0.0
    frames = 0
    if video is not None:
        frames = _count_frames(container, video, max_seconds) if decode else (
            video.frames or round(duration * fps))
        if decode and not duration and fps:
            duration = frames / fps
    layout = audio.codec_context.layout if audio is not None else None
    return MediaInfo(
        container=container.format.name,
        video_codec=video.codec_context.name if video is not None else None,
        audio_codec=audio.codec_context.name if audio is not None else None,
        width=video.codec_context.width if video is not None else 0,
        height=video.codec_context.height if video is not None else 0,
        fps=fps,
        frames=frames,
        duration_s=duration,
        audio_rate=audio.codec_context.sample_rate if audio is not None else 0,
        audio_channels=len(layout.channels) if layout is not None else 0,
        bytes=size,
        sha256=digest,
    )


def _duration(container: av.container.InputContainer, stream: av.stream.Stream) -> float:
    if container.duration is not None and container.duration > 0:
        return container.duration / av.time_base
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    return 0.0


def _count_frames(container: av.container.InputContainer, video: av.VideoStream,
                  max_seconds: float) -> int:
    """Decode every frame: proves the stream is intact, not just that the header parses."""
    video.thread_type = "AUTO"
    count = 0
    first: float | None = None
    for frame in container.decode(video):
        count += 1
        if frame.time is not None:
            first = frame.time if first is None else first
            if frame.time - first > max_seconds:  # headers can lie about duration
                raise MediaError("media_too_long", f"video runs past {max_seconds:.1f} s")
    declared = video.frames
    if declared and count < declared * _TRUNCATION_RATIO:
        raise MediaError("media_unreadable", f"decoded {count} of {declared} declared frames; file truncated?")
    return count


def transcode(source: str | os.PathLike[str], target: str | os.PathLike[str], *, crf: int = 23,
              size: tuple[int, int] | None = None, transform=None) -> Path:
    """Re-encode the video of `source` to an H.264 MP4 (no audio) at `crf`, resized to `size` and
    each frame passed through `transform` (RGB array -> RGB array) first: the copies a re-upload
    makes, for measuring what survives them (fingerprints, the invisible watermark)."""
    import numpy as np

    out_path = Path(target)
    with av.open(str(source)) as src, av.open(str(out_path), "w", format="mp4") as out:
        stream_in = src.streams.video[0]
        rate = stream_in.average_rate or 24
        stream = None
        for frame in src.decode(stream_in):
            rgb = frame.to_ndarray(format="rgb24")
            if transform is not None:
                rgb = transform(rgb)
            if size is not None:
                from PIL import Image
                rgb = np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR))
            h, w = rgb.shape[:2]
            rgb = np.ascontiguousarray(rgb[: h - h % 2, : w - w % 2])  # yuv420p wants even sides
            if stream is None:
                stream = out.add_stream("libx264", rate=rate)
                stream.width, stream.height, stream.pix_fmt = rgb.shape[1], rgb.shape[0], "yuv420p"
                stream.options = {"crf": str(crf), "preset": "veryfast"}
            out.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        if stream is not None:
            out.mux(stream.encode(None))
    return out_path

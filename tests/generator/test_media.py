"""Media probing and policy checks against real files written with PyAV (sampling: tests/app/test_media.py)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from app.kit.media import MediaError
from generator.media import MediaInfo, check_playable, probe
from generator.procedural import RenderResult, render_to_mp4

pytestmark = pytest.mark.slow


def write_clip(
    path: Path,
    *,
    video_codec: str | None = "libx264",
    audio: bool = True,
    frames: int = 24,
    fps: int = 12,
) -> Path:
    """A small synthetic clip: a moving gradient and/or a 440 Hz tone."""
    with av.open(str(path), "w", format="mp4") as out:
        video = audio_stream = None
        if video_codec is not None:
            video = out.add_stream(video_codec, rate=fps)
            video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        if audio:
            audio_stream = out.add_stream("aac", rate=22050, layout="mono")
        if video is not None:
            for i in range(frames):
                pixels = np.full((48, 64, 3), (i * 10) % 256, dtype=np.uint8)
                frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
                frame.pts, frame.time_base = i, Fraction(1, fps)
                out.mux(video.encode(frame))
            out.mux(video.encode(None))
        if audio_stream is not None:
            seconds = frames / fps
            n = int(22050 * seconds)
            tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(n) / 22050)).astype(np.float32)
            for start in range(0, n, 1024):
                chunk = av.AudioFrame.from_ndarray(tone[None, start : start + 1024], format="fltp", layout="mono")
                chunk.sample_rate, chunk.pts, chunk.time_base = 22050, start, Fraction(1, 22050)
                out.mux(audio_stream.encode(chunk))
            out.mux(audio_stream.encode(None))
    return path


def codes(info: MediaInfo) -> list[str]:
    return [code for code, _ in check_playable(info)]


def expect_error(code: str, path: Path, **kwargs: float) -> MediaError:
    with pytest.raises(MediaError) as caught:
        probe(path, **kwargs)  # type: ignore[arg-type]
    assert caught.value.code == code
    assert caught.value.message and code in str(caught.value)
    return caught.value


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> RenderResult:
    return render_to_mp4("a red ball bouncing at night", tmp_path_factory.mktemp("media") / "clip.mp4")


# --------------------------------------------------------------------------- probe


def test_probe_describes_a_rendered_clip(clip: RenderResult) -> None:
    info = probe(clip.path)
    assert info.container.startswith("mov,mp4")
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")
    assert (info.width, info.height, info.fps, info.frames) == (288, 512, 24.0, 72)
    assert info.duration_s == pytest.approx(3.0, abs=0.1)
    assert (info.audio_rate, info.audio_channels) == (44100, 2)
    assert (info.bytes, info.sha256) == (clip.bytes, clip.sha256)
    assert check_playable(info) == []


def test_probe_without_decoding_uses_declared_frames(clip: RenderResult) -> None:
    assert probe(clip.path, decode=False).frames == 72


def test_random_bytes_are_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "noise.mp4"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 20_000, dtype=np.uint8).tobytes())
    expect_error("media_unreadable", path)


@pytest.mark.parametrize("keep", [0.02, 0.1, 0.5])
def test_truncated_mp4_is_unreadable(clip: RenderResult, tmp_path: Path, keep: float) -> None:
    data = clip.path.read_bytes()
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[: int(len(data) * keep)])
    expect_error("media_unreadable", path)


def test_text_file_is_unreadable(tmp_path: Path) -> None:
    # FFmpeg's tty demuxer would happily play this as ANSI-art "video".
    path = tmp_path / "notes.mp4"
    path.write_text("this is not a video\n" * 50)
    expect_error("media_unreadable", path)


def test_empty_missing_and_directory_paths_are_unreadable(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    expect_error("media_unreadable", empty)
    expect_error("media_unreadable", tmp_path / "missing.mp4")
    expect_error("media_unreadable", tmp_path)


def test_size_is_checked_before_reading(clip: RenderResult) -> None:
    error = expect_error("media_too_large", clip.path, max_bytes=clip.bytes - 1)
    assert str(clip.bytes) in error.message
    assert probe(clip.path, max_bytes=clip.bytes).bytes == clip.bytes


def test_long_media_is_refused(clip: RenderResult) -> None:
    expect_error("media_too_long", clip.path, max_seconds=2.0)
    expect_error("media_too_long", clip.path, max_seconds=2.0, decode=False)


# --------------------------------------------------------------------------- check_playable


def test_audio_only_file_has_no_video(tmp_path: Path) -> None:
    info = probe(write_clip(tmp_path / "audio.m4a", video_codec=None))
    assert (info.video_codec, info.audio_codec, info.width, info.frames) == (None, "aac", 0, 0)
    assert info.audio_channels == 1
    assert codes(info) == ["media_no_video"]


def test_video_only_file_has_no_audio(tmp_path: Path) -> None:
    info = probe(write_clip(tmp_path / "silent.mp4", audio=False))
    assert (info.video_codec, info.audio_codec, info.frames) == ("h264", None, 24)
    assert codes(info) == ["media_no_audio"]


def test_mpeg4_video_is_a_bad_codec(tmp_path: Path) -> None:
    info = probe(write_clip(tmp_path / "old.mp4", video_codec="mpeg4"))
    assert info.video_codec == "mpeg4"  # probe states facts; policy is check_playable's
    assert codes(info) == ["media_bad_codec"]
    assert check_playable(info, allowed_video=("h264", "mpeg4")) == []


def test_too_few_frames(tmp_path: Path) -> None:
    info = probe(write_clip(tmp_path / "blip.mp4", frames=3))
    assert info.frames == 3
    assert codes(info) == ["media_too_few_frames"]
    assert check_playable(info, min_frames=3) == []

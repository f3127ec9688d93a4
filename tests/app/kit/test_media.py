"""app.kit.media on real files: the one media error, frame sampling and 16 kHz mono audio decoding.

Containers are encoded here with PyAV (H.264+AAC MP4/MOV, VP9+Opus and VP8+Vorbis WebM, WAV),
speech comes from the espeak-ng clips committed as FLAC, and one clip is the procedural
generator's own render. Nothing is mocked.
"""

from __future__ import annotations

import io
import pickle
import random
import re
from pathlib import Path

import av
import numpy as np
import pytest

from app.kit.media import (
    MEDIA_ERROR_CODES, SAMPLE_RATE, AudioTrack, MediaError, load_audio, open_media, read_image, sample_frames,
)
from generator.procedural import RenderResult, render_to_mp4
from tests.likeness.liveness.fixtures.builders import (
    FIXTURES, FORMATS, RATE, encoder_available, pad, read_pcm, scene_frame, write_media, write_wav,
)

ROOT = Path(__file__).resolve().parents[3]
CLIPS = ("digits_73914.flac", "digits_28056.flac")


@pytest.fixture(scope="module")
def pcm():
    return {name: read_pcm(name) for name in CLIPS}


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> RenderResult:
    return render_to_mp4("a red ball bouncing at night", tmp_path_factory.mktemp("media") / "clip.mp4")


# ------------------------------------------------------------------------------------------
# MediaError


def test_media_error_rejects_unknown_codes():
    with pytest.raises(ValueError):
        MediaError("media_weird", "nope")


@pytest.mark.parametrize("code", sorted(MEDIA_ERROR_CODES))
def test_media_error_carries_a_stable_code_and_survives_pickling(code):
    err = MediaError(code, "what went wrong")
    assert isinstance(err, ValueError)
    assert (err.code, err.message, str(err)) == (code, "what went wrong", f"{code}: what went wrong")
    again = pickle.loads(pickle.dumps(err))  # RQ carries exceptions between processes
    assert type(again) is MediaError
    assert (again.code, again.message, str(again)) == (err.code, err.message, str(err))


def test_every_media_error_code_is_documented():
    documented = (ROOT / "docs" / "errors.md").read_text()
    assert sorted(c for c in MEDIA_ERROR_CODES if f"`{c}`" not in documented) == []
    assert all(re.fullmatch(r"media_[a-z_]+", c) for c in MEDIA_ERROR_CODES)


def test_open_media_turns_every_failure_into_media_unreadable(tmp_path):
    (tmp_path / "empty.mp4").write_bytes(b"")
    for source in (tmp_path / "missing.mp4", tmp_path / "empty.mp4", tmp_path, io.BytesIO(b"")):
        with pytest.raises(MediaError) as err:
            open_media(source).close()
        assert err.value.code == "media_unreadable", source


# ------------------------------------------------------------------------------------------
# sample_frames


def test_frames_come_at_the_requested_rate_as_bgr(tmp_path):
    red = np.zeros((120, 160, 3), np.uint8)
    red[..., 2] = 255
    path = write_media(tmp_path / "red.mp4", frames=[red] * 50, fps=25)  # 2 s
    frames = sample_frames(path, per_second=5)
    times = [t for t, _ in frames]
    assert times == pytest.approx([0.2 * k for k in range(10)], abs=1e-6)
    img = frames[0][1]
    assert img.dtype == np.uint8 and img.shape == (120, 160, 3)
    b, g, r = img[60, 80]
    assert r > 200 and b < 50 and g < 50
    assert len(sample_frames(path, per_second=None)) == 50
    assert len(sample_frames(path, per_second=25)) == 50


def test_frames_are_scaled_to_max_side(tmp_path):
    path = write_media(tmp_path / "big.mp4", frames=[scene_frame(i, 640, 360) for i in range(5)], fps=5)
    _, img = sample_frames(path, max_side=480)[0]
    assert img.shape == (270, 480, 3)
    _, small = sample_frames(path, max_side=1000)[0]
    assert small.shape == (360, 640, 3)


@pytest.mark.parametrize("rotation, corner", [(None, "tl"), (90, "bl"), (-90, "tr"), (180, "br")])
def test_rotated_phone_video_comes_out_upright(tmp_path, rotation, corner):
    img = np.zeros((120, 160, 3), np.uint8)
    img[:30, :40] = 255  # a white block in the top-left corner of the stored picture
    path = write_media(tmp_path / "phone.mov", frames=[img] * 5, fps=5, rotation=rotation)
    _, out = sample_frames(path)[0]
    h, w = out.shape[:2]
    assert (h, w) == ((120, 160) if rotation in (None, 180) else (160, 120))
    quadrants = {"tl": out[: h // 2, : w // 2], "tr": out[: h // 2, w // 2:],
                 "bl": out[h // 2:, : w // 2], "br": out[h // 2:, w // 2:]}
    assert max(quadrants, key=lambda k: quadrants[k].mean()) == corner


@pytest.mark.slow
def test_a_rendered_clip_is_sampled_twice_a_second_from_zero(clip: RenderResult):
    samples = sample_frames(clip.path, per_second=2.0, max_side=512)
    times = [t for t, _ in samples]
    assert times == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0, 2.5], abs=0.05)
    for _, frame in samples:
        assert frame.shape == (512, 288, 3) and frame.dtype == np.uint8
    with av.open(str(clip.path)) as container:
        first = next(container.decode(video=0)).to_ndarray(format="bgr24")
    assert np.array_equal(samples[0][1], first)


@pytest.mark.slow
@pytest.mark.parametrize(("rate", "count"), [(1.0, 3), (0.1, 1), (100.0, 72)])
def test_a_rendered_clip_is_sampled_at_any_rate(clip: RenderResult, rate: float, count: int):
    samples = sample_frames(clip.path, per_second=rate)
    assert len(samples) == count and samples[0][0] == 0.0


@pytest.mark.parametrize("per_second", [0, -1.0, float("nan"), float("inf")])
def test_a_rate_that_is_not_positive_is_a_programming_error(tmp_path, per_second):
    with pytest.raises(ValueError) as err:
        sample_frames(tmp_path / "x.mp4", per_second=per_second)
    assert not isinstance(err.value, MediaError)


def test_audio_only_media_is_media_no_video(tmp_path, pcm):
    wav = write_wav(tmp_path / "voice.wav", pad(pcm["digits_28056.flac"], 0.2, 0.2))
    m4a = write_media(tmp_path / "audio.m4a", fmt="mp4", audio=pcm["digits_28056.flac"])
    for path in (wav, m4a):
        with pytest.raises(MediaError) as err:
            sample_frames(path)
        assert err.value.code == "media_no_video", path


@pytest.mark.parametrize("name, seed, size", [("junk.webm", 1, 8192), ("junk.mp4", 0, 4096)])
def test_random_bytes_are_media_unreadable_to_the_sampler(tmp_path, name, seed, size):
    junk = tmp_path / name
    junk.write_bytes(random.Random(seed).randbytes(size))  # seeded: some random bytes probe as audio-only
    with pytest.raises(MediaError) as err:
        sample_frames(junk)
    assert err.value.code == "media_unreadable"


def test_video_over_max_seconds_is_media_too_long(tmp_path):
    path = write_media(tmp_path / "long.mp4", frames=scene_frame, n_frames=40, fps=10)  # 4 s
    with pytest.raises(MediaError) as err:
        sample_frames(path, max_seconds=2.0)
    assert err.value.code == "media_too_long"
    live = write_media(tmp_path / "live.webm", frames=scene_frame, n_frames=40, fps=10, live=True)
    with pytest.raises(MediaError) as err:  # no declared duration: caught by frame time
        sample_frames(live, max_seconds=2.0)
    assert err.value.code == "media_too_long"
    assert len(sample_frames(path, max_seconds=5.0)) == 20


# ------------------------------------------------------------------------------------------
# load_audio and AudioTrack


def test_load_audio_reads_a_wav_exactly(tmp_path, pcm):
    samples = pad(pcm["digits_73914.flac"], 1.0, 0.5)
    got = load_audio(write_wav(tmp_path / "clip.wav", samples))
    assert got.rate == SAMPLE_RATE == 16000 and got.samples.dtype == np.int16 and got.samples.ndim == 1
    assert np.array_equal(got.samples, samples)
    assert got.duration_s == pytest.approx(len(samples) / RATE)


def test_load_audio_reads_the_committed_flac_fixtures():
    for name in CLIPS:
        got = load_audio(FIXTURES / name)
        assert 1.5 < got.duration_s < 3.0


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_load_audio_from_video_containers_keeps_timing(tmp_path, pcm, fmt):
    vcodec, acodec, _ = FORMATS[fmt]
    if not (encoder_available(vcodec) and encoder_available(acodec)):
        pytest.skip(f"PyAV's FFmpeg lacks {vcodec}/{acodec}")
    samples = pad(pcm["digits_73914.flac"], 1.0, 0.5)
    path = write_media(tmp_path / f"clip.{fmt.split('-')[0]}", fmt=fmt, frames=scene_frame, audio=samples)
    got = load_audio(path)
    assert got.duration_s == pytest.approx(len(samples) / RATE, abs=0.1)
    # lossy but aligned: the decoded waveform still correlates with the original at lag 0
    n = min(len(samples), len(got.samples))
    a, b = samples[:n].astype(float), got.samples[:n].astype(float)
    assert np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)) > 0.8


def test_load_audio_accepts_a_file_object(tmp_path, pcm):
    path = write_media(tmp_path / "clip.mp4", frames=scene_frame, audio=pcm["digits_28056.flac"])
    got = load_audio(io.BytesIO(path.read_bytes()))
    assert got.duration_s == pytest.approx(len(pcm["digits_28056.flac"]) / RATE, abs=0.1)


def test_audio_that_starts_late_is_padded_onto_the_media_clock(tmp_path, pcm):
    speech = pcm["digits_73914.flac"]
    path = write_media(tmp_path / "late.mp4", frames=scene_frame, n_frames=35, audio=speech, audio_offset_s=1.0)
    got = load_audio(path)
    assert got.duration_s == pytest.approx(1.0 + len(speech) / RATE, abs=0.1)
    assert not got.samples[: int(0.9 * RATE)].any()  # silence until the audio stream starts


def test_a_video_without_audio_is_media_no_audio(tmp_path):
    path = write_media(tmp_path / "silent.mp4", frames=[scene_frame(i) for i in range(10)])
    with pytest.raises(MediaError) as err:
        load_audio(path)
    assert err.value.code == "media_no_audio"


def test_random_bytes_are_media_unreadable(tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(random.Random(0).randbytes(4096))
    for source in (junk, str(junk), io.BytesIO(junk.read_bytes())):
        with pytest.raises(MediaError) as err:
            load_audio(source)
        assert err.value.code == "media_unreadable"
    assert isinstance(err.value, ValueError)
    again = pickle.loads(pickle.dumps(err.value))
    assert again.code == "media_unreadable" and str(again) == str(err.value)


def test_a_truncated_upload_is_media_unreadable(tmp_path, pcm):
    whole = write_media(tmp_path / "whole.mp4", frames=scene_frame, audio=pcm["digits_73914.flac"])
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(MediaError) as err:
        load_audio(cut)
    assert err.value.code == "media_unreadable"


def test_media_over_max_seconds_is_media_too_long(tmp_path, pcm):
    samples = pad(pcm["digits_73914.flac"], 1.0, 0.5)  # 3.7 s
    path = write_media(tmp_path / "clip.mp4", frames=scene_frame, audio=samples)
    with pytest.raises(MediaError) as err:
        load_audio(path, max_seconds=2.0)
    assert err.value.code == "media_too_long"
    assert load_audio(path, max_seconds=4.0).duration_s < 4.0


def test_too_long_is_caught_while_decoding_when_no_duration_is_declared(tmp_path, pcm):
    samples = pad(pcm["digits_73914.flac"], 1.0, 0.5)
    path = write_media(tmp_path / "live.webm", audio=samples, live=True)
    with pytest.raises(MediaError) as err:
        load_audio(path, max_seconds=2.0)
    assert err.value.code == "media_too_long"


def test_audio_track_validates_its_samples():
    with pytest.raises(ValueError):
        AudioTrack(samples=np.zeros(10, np.float32))
    with pytest.raises(ValueError):
        AudioTrack(samples=np.zeros(10, np.int16), rate=8000)


# --------------------------------------------------------------------------------------------
# read_image: still images (input images) as upright BGR


def _photo_bgr() -> np.ndarray:
    import matplotlib.cbook
    from PIL import Image

    with Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)) as im:
        return np.asarray(im.convert("RGB"))[:, :, ::-1].copy()


def _encode(rgb: np.ndarray, fmt: str, **kw) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format=fmt, **kw)
    return buf.getvalue()


@pytest.mark.parametrize("fmt,exact", [("PNG", True), ("WEBP", False), ("JPEG", False)])
def test_read_image_decodes_common_formats_as_bgr(fmt, exact):
    bgr = _photo_bgr()
    data = _encode(bgr[:, :, ::-1], fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    out = read_image(data)
    assert out.shape == bgr.shape and out.dtype == np.uint8
    if exact or fmt == "WEBP":
        assert np.array_equal(out, bgr)
    else:
        assert np.abs(out.astype(int) - bgr).mean() < 3  # JPEG is lossy, channel order is not


def test_read_image_reads_paths_and_applies_exif_orientation(tmp_path):
    from PIL import Image

    rgb = np.zeros((20, 40, 3), np.uint8)
    rgb[:, :20] = (255, 0, 0)  # red left half
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    path = tmp_path / "phone.png"
    Image.fromarray(rgb).save(path, exif=exif)
    out = read_image(path)
    assert out.shape == (40, 20, 3)  # upright: portrait
    assert tuple(out[2, 10]) == (0, 0, 255)  # the red half is now on top, in BGR


def test_read_image_turns_grey_and_alpha_into_bgr():
    grey = np.arange(64 * 64, dtype=np.uint8).reshape(64, 64)
    assert read_image(_encode(grey, "PNG")).shape == (64, 64, 3)
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., 2] = 200  # blue
    rgba[..., 3] = 10
    out = read_image(_encode(rgba, "PNG"))
    assert out.shape == (8, 8, 3) and tuple(out[0, 0]) == (200, 0, 0)


def test_bad_images_are_media_unreadable(tmp_path):
    good = _encode(_photo_bgr(), "JPEG")
    for bad in (b"", b"not an image" * 50, good[:len(good) // 2], good[:100], bytes(range(256)) * 8):
        with pytest.raises(MediaError) as err:
            read_image(bad)
        assert err.value.code == "media_unreadable"
    with pytest.raises(MediaError) as missing:
        read_image(tmp_path / "nope.jpg")
    assert missing.value.code == "media_unreadable" and "nope.jpg" in str(missing.value)


def test_an_image_over_max_pixels_is_media_too_large_before_decoding():
    data = _encode(np.zeros((100, 100, 3), np.uint8), "PNG")
    with pytest.raises(MediaError) as err:
        read_image(data, max_pixels=9_999)
    assert err.value.code == "media_too_large"
    assert read_image(data, max_pixels=10_000).shape == (100, 100, 3)

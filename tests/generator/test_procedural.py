"""Procedural renderer: prompt parsing, real MP4 output, determinism, atomic writes."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

from generator import media, procedural
from generator.media import check_playable, probe
from generator.procedural import (
    MAX_SHAPES,
    RenderResult,
    RenderSpec,
    parse_prompt,
    render_to_mp4,
    synth_audio,
)

GREEN_CUBE = "a green cube sliding down a ramp"
RED_BALL = "a red ball bouncing at night"
LONG_PROMPT = ("a purple star spinning over a silver moon while golden coins fall into the ocean " * 30)[:2000]
PROMPTS = [GREEN_CUBE, RED_BALL, "zxqv plorb", LONG_PROMPT, "   "]


def first_frame(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return next(container.decode(video=0)).to_ndarray(format="rgb24")


def all_frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def decoded_audio(path: Path) -> tuple[np.ndarray, int]:
    with av.open(str(path)) as container:
        rate = container.streams.audio[0].codec_context.sample_rate
        return np.concatenate([f.to_ndarray() for f in container.decode(audio=0)], axis=1), rate


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, RenderResult]:
    out = tmp_path_factory.mktemp("renders")
    return {p: render_to_mp4(p, out / f"clip{i}.mp4") for i, p in enumerate(PROMPTS)}


# --------------------------------------------------------------------------- parsing


def test_parse_green_cube_on_ramp() -> None:
    scene = parse_prompt(GREEN_CUBE)
    cube, ramp = scene.shapes
    assert (cube.kind, cube.color, cube.motion) == ("square", procedural.COLOURS["green"], "slide")
    assert cube.vy > 0  # "down"
    assert (ramp.kind, ramp.motion) == ("triangle", "still")


def test_parse_red_ball_at_night() -> None:
    scene = parse_prompt(RED_BALL)
    assert scene.setting == "night" and scene.stars
    assert [(s.kind, s.color, s.motion) for s in scene.shapes] == [("circle", procedural.COLOURS["red"], "bounce")]


def test_parse_motion_before_shape_plurals_and_settings() -> None:
    scene = parse_prompt("spinning blue boxes and a falling gold star at sunset")
    assert [(s.kind, s.motion) for s in scene.shapes] == [("square", "spin"), ("star", "fall")]
    assert scene.shapes[0].color == procedural.COLOURS["blue"]
    assert scene.shapes[1].color == procedural.COLOURS["gold"]
    assert scene.setting == "sunset"


def test_explicit_still_is_honoured() -> None:
    assert [s.motion for s in parse_prompt("a still white cube").shapes] == ["still"]
    assert parse_prompt("a white cube").shapes[0].motion != "still"


def test_trailing_colour_and_motion_attach_to_last_shape() -> None:
    (shape,) = parse_prompt("a pyramid that is pink and pulsing").shapes
    assert (shape.kind, shape.color, shape.motion) == ("triangle", procedural.COLOURS["pink"], "pulse")


@pytest.mark.parametrize("prompt", ["zxqv plorb", "", "   ", "!!!", "12345", LONG_PROMPT])
def test_any_prompt_yields_shapes_and_motion(prompt: str) -> None:
    scene = parse_prompt(prompt)
    assert 1 <= len(scene.shapes) <= MAX_SHAPES
    assert any(s.motion != "still" for s in scene.shapes)
    assert all(s.kind in procedural.SHAPE_KINDS and s.motion in procedural.MOTIONS for s in scene.shapes)


def test_parse_is_deterministic_and_seeded() -> None:
    assert parse_prompt(GREEN_CUBE, seed=3) == parse_prompt(GREEN_CUBE, seed=3)
    assert parse_prompt("  A Green   CUBE sliding down a ramp ") == parse_prompt(GREEN_CUBE)
    assert parse_prompt(GREEN_CUBE, seed=1) != parse_prompt(GREEN_CUBE, seed=2)
    assert parse_prompt("zxqv plorb") != parse_prompt("plorb zxqv")


def test_parse_is_stable_across_processes() -> None:
    # Python's hash() is salted per process; the scene must not be.
    code = "from generator.procedural import parse_prompt; print(repr(parse_prompt('zxqv plorb', 7)))"
    outputs = set()
    for salt in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": salt, "PYTHONPATH": str(Path(__file__).parents[2])}
        outputs.add(subprocess.run([sys.executable, "-c", code], env=env, check=True,
                                   capture_output=True, text=True).stdout)
    assert outputs == {repr(parse_prompt("zxqv plorb", 7)) + "\n"}


def test_scene_is_frozen() -> None:
    scene = parse_prompt(GREEN_CUBE)
    with pytest.raises(AttributeError):
        scene.setting = "space"  # type: ignore[misc]
    assert isinstance(hash(scene), int)


@pytest.mark.parametrize("kwargs", [{"width": 287}, {"height": 0}, {"fps": 0}, {"seconds": -1.0}])
def test_render_spec_rejects_bad_values(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RenderSpec(**kwargs)  # type: ignore[arg-type]


def test_tune_is_deterministic_audible_and_prompt_specific() -> None:
    a = synth_audio(parse_prompt(GREEN_CUBE), 3.0, 44100)
    assert a.shape == (2, 132300) and a.dtype == np.float32
    assert np.array_equal(a, synth_audio(parse_prompt(GREEN_CUBE), 3.0, 44100))
    assert 0.05 < float(np.sqrt(np.mean(a**2))) and float(np.abs(a).max()) <= 0.5 + 1e-6
    assert not np.array_equal(a, synth_audio(parse_prompt(RED_BALL), 3.0, 44100))


# --------------------------------------------------------------------------- rendering

@pytest.mark.slow
@pytest.mark.parametrize("prompt", PROMPTS, ids=["green_cube", "red_ball", "nonsense", "long", "blank"])
def test_render_produces_playable_h264_aac(rendered: dict[str, RenderResult], prompt: str) -> None:
    result = rendered[prompt]
    spec = RenderSpec()
    info = probe(result.path)
    assert check_playable(info) == []
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")
    assert (info.width, info.height) == (spec.width, spec.height) == (result.width, result.height)
    assert abs(info.frames - spec.fps * spec.seconds) <= 1 and result.frames == 72
    assert info.fps == pytest.approx(24.0)
    assert info.duration_s == pytest.approx(3.0, abs=0.1) and result.duration_s == pytest.approx(3.0)
    assert (info.bytes, info.sha256) == (result.bytes, result.sha256)
    assert info.audio_rate == 44100 and info.audio_channels == 2
    assert result.scene == parse_prompt(prompt)


@pytest.mark.slow
@pytest.mark.parametrize("prompt", PROMPTS, ids=["green_cube", "red_ball", "nonsense", "long", "blank"])
def test_render_audio_is_present_and_not_silent(rendered: dict[str, RenderResult], prompt: str) -> None:
    samples, rate = decoded_audio(rendered[prompt].path)
    assert samples.shape[1] / rate == pytest.approx(3.0, abs=0.1)
    assert float(np.sqrt(np.mean(samples**2))) > 0.02


@pytest.mark.slow
def test_render_is_deterministic(rendered: dict[str, RenderResult], tmp_path: Path) -> None:
    again = render_to_mp4(GREEN_CUBE, tmp_path / "again.mp4")
    assert again.scene == rendered[GREEN_CUBE].scene
    assert np.array_equal(first_frame(again.path), first_frame(rendered[GREEN_CUBE].path))


@pytest.mark.slow
def test_different_prompts_and_seeds_render_differently(rendered: dict[str, RenderResult], tmp_path: Path) -> None:
    frames = [first_frame(r.path) for r in rendered.values()]
    for i in range(len(frames)):
        for j in range(i + 1, len(frames)):
            assert not np.array_equal(frames[i], frames[j])
    reseeded = render_to_mp4(GREEN_CUBE, tmp_path / "seed9.mp4", seed=9)
    assert not np.array_equal(first_frame(reseeded.path), frames[0])


@pytest.mark.slow
def test_green_cube_is_green_and_moves(rendered: dict[str, RenderResult]) -> None:
    frames = all_frames(rendered[GREEN_CUBE].path)
    for frame in (frames[0], frames[len(frames) // 2], frames[-1]):
        r, g, b = (frame[..., c].astype(int) for c in range(3))
        green = (g > 120) & (g > r + 50) & (g > b + 50)
        assert green.mean() > 0.015  # the cube is ~3% of the frame
    assert np.abs(frames[0].astype(int) - frames[-1].astype(int)).mean() > 0.5


@pytest.mark.slow
@pytest.mark.parametrize("prompt", PROMPTS[1:3])
def test_every_clip_moves(rendered: dict[str, RenderResult], prompt: str) -> None:
    frames = all_frames(rendered[prompt].path)
    assert np.abs(frames[0].astype(int) - frames[-1].astype(int)).mean() > 0.5


@pytest.mark.slow
def test_index_is_written_first_for_streaming(rendered: dict[str, RenderResult]) -> None:
    data = rendered[RED_BALL].path.read_bytes()
    assert 0 < data.index(b"moov") < data.index(b"mdat")


@pytest.mark.slow
def test_custom_spec(tmp_path: Path) -> None:
    spec = RenderSpec(width=160, height=90, fps=12, seconds=1.0, audio_rate=22050, antialias=False)
    result = render_to_mp4(RED_BALL, tmp_path / "small.mp4", spec=spec)
    info = probe(result.path)
    assert (info.width, info.height, info.frames, info.audio_rate) == (160, 90, 12, 22050)
    assert info.duration_s == pytest.approx(1.0, abs=0.1)


@pytest.mark.slow
def test_watermark_marks_its_corner_only(rendered: dict[str, RenderResult], tmp_path: Path) -> None:
    marked = render_to_mp4(RED_BALL, tmp_path / "marked.mp4", spec=RenderSpec(watermark="@handle · greenlight"))
    plain, stamped = (first_frame(p).astype(int) for p in (rendered[RED_BALL].path, marked.path))
    corner = np.abs(plain[-40:, -160:] - stamped[-40:, -160:])
    assert corner.mean() > 5 and corner.max() > 80
    assert np.abs(plain[:256] - stamped[:256]).mean() < 1.0


@pytest.mark.slow
def test_failed_render_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_draw = procedural.draw_frame
    calls = 0

    def flaky_draw(*args: object) -> object:
        nonlocal calls
        calls += 1
        if calls == 30:
            raise RuntimeError("renderer crashed mid-way")
        return real_draw(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(procedural, "draw_frame", flaky_draw)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(RuntimeError, match="mid-way"):
        render_to_mp4(GREEN_CUBE, out_dir / "clip.mp4")
    assert calls == 30
    assert list(out_dir.iterdir()) == []


@pytest.mark.slow
def test_failed_rerender_keeps_previous_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "clip.mp4"
    good = render_to_mp4(GREEN_CUBE, target)

    def broken_draw(*args: object) -> object:
        raise RuntimeError("boom")

    monkeypatch.setattr(procedural, "draw_frame", broken_draw)
    with pytest.raises(RuntimeError):
        render_to_mp4(RED_BALL, target)
    assert [p.name for p in tmp_path.iterdir()] == ["clip.mp4"]
    assert probe(target).sha256 == good.sha256


def test_render_into_missing_directory_fails_cleanly(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        render_to_mp4(GREEN_CUBE, tmp_path / "nope" / "clip.mp4")
    assert list(tmp_path.iterdir()) == []


def test_generator_stays_out_of_other_domains() -> None:
    # Rendering needs nothing of the app; probing only the shared media error and file hash.
    allowed_from_app = {Path(procedural.__file__): set(), Path(media.__file__): {"app.kit.media", "app.kit.files"}}
    forbidden = {"app", "likeness", "copyright", "safety"}
    for source, allowed in allowed_from_app.items():
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                modules = {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                modules = {node.module or ""}
            else:
                continue
            roots = {module.split(".")[0] for module in modules - allowed}
            assert not roots & forbidden, f"{source.name} imports {roots & forbidden}"

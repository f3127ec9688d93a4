"""The platform's renderer: the model's clip to a playable MP4 with a soundtrack that follows the
picture. The render path runs through the session's tiny random pipeline (tests/conftest.py)."""

from __future__ import annotations

import numpy as np
import pytest

from app.kit.media import load_audio
from generator import dataset
from generator.media import check_playable, probe
from generator.render import (
    RenderSettings, frame_index, impact_frames, render_to_mp4, soundtrack,
)

# these tests are about what the model itself samples (tests/conftest.py: model_frames_stand_in)
pytestmark = pytest.mark.real_sampler


def test_each_sampled_frame_holds_for_an_equal_share_of_the_video():
    shown = [frame_index(i, 24, 8) for i in range(24)]
    assert shown == [k for k in range(8) for _ in range(3)]
    assert [frame_index(i, 5, 8) for i in range(5)] == [0, 1, 3, 4, 6]  # fewer out than in: skips


def test_impacts_are_found_where_the_simulator_bounced():
    """On the dataset's own clips (known bounces) the reversals the parser sees match the
    simulator's events: a bounce between frames e and e+1 shows its turn at e or e+1."""
    hits = total = false = found = 0
    for clip in dataset.clips(200, seed=3, held_out=None):
        got = impact_frames(clip.frames)
        for e in {e for e, _, _ in clip.events if 1 <= e <= clip.frames.shape[0] - 2}:
            total += 1
            hits += e in got or e + 1 in got
        found += len(got)
        false += sum(not any(g in (e, e + 1) for e, _, _ in clip.events) for g in got)
    assert total > 100
    assert hits / total >= 0.8  # measured 195 / 227
    assert false / found <= 0.12  # measured 18 / 231


def test_a_clip_that_only_moves_one_way_has_no_impact():
    spec = dataset.SceneSpec(colour="red", shape="ball", motion="roll", count=1, direction="right",
                             background=dataset.BACKGROUNDS[0][0], pan=None, seed=1)
    clip = dataset.render(spec)
    assert clip.events == [] and impact_frames(clip.frames) == []


def _loudness(audio: np.ndarray, rate: int, at: float, width: float = 0.05) -> float:
    a, b = int(at * rate), int((at + width) * rate)
    return float(np.sqrt(np.mean(audio[:, a:b] ** 2)))


def test_the_soundtrack_hits_at_each_impact_over_a_quiet_bed():
    rate = 16000
    audio = soundtrack([0.5, 1.25], 2.0, rate, seed=4)
    assert audio.shape == (2, 32000) and audio.dtype == np.float32
    assert float(np.abs(audio).max()) == pytest.approx(0.5, abs=1e-3)
    bed = _loudness(audio, rate, 0.9)
    assert _loudness(audio, rate, 0.5) > 4 * bed and _loudness(audio, rate, 1.25) > 4 * bed
    quiet = soundtrack([], 2.0, rate, seed=4)
    assert 0 < float(np.sqrt(np.mean(quiet ** 2))) and np.array_equal(quiet, soundtrack([], 2.0, rate, seed=4))


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("render")
    settings = RenderSettings(fps=12, seconds=1.0, steps=4, watermark="@carol · greenlight")
    return {name: render_to_mp4("a red ball bounces off the backboard", out / f"{name}.mp4", seed=seed,
                                settings=settings)
            for name, seed in (("a", 7), ("again", 7), ("other", 8))}


def test_a_render_is_a_playable_square_mp4_with_sound(rendered):
    result = rendered["a"]
    info = probe(result.path)
    assert check_playable(info) == []
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")
    assert (info.width, info.height, info.frames) == (384, 384, 12) == (result.width, result.height, result.frames)
    assert info.duration_s == pytest.approx(1.0, abs=0.1)
    assert info.sha256 == result.sha256 and info.bytes == result.bytes
    assert (result.seed, result.steps) == (7, 4) and result.model.startswith("tiny@") and len(result.model) == 17
    assert set(result.timings) == {"sample", "sound", "encode"} and all(v >= 0 for v in result.timings.values())
    assert load_audio(result.path).samples.std() > 0
    assert not list(result.path.parent.glob("*.part"))


def test_the_same_seed_renders_the_same_file_and_another_seed_another(rendered):
    assert rendered["a"].sha256 == rendered["again"].sha256
    assert rendered["a"].sha256 != rendered["other"].sha256


def test_a_remix_continues_its_parents_clip():
    """Replaying the lineage gives the parent's clip back, and the remix stays near it (SDEdit from
    the parent's frames) where a fresh sample of the same prompt does not."""
    from generator.model_files import default_model_dir
    from generator.render import pipeline, sample_clip

    pipe = pipeline(str(default_model_dir()))
    parent = sample_clip(pipe, "a red ball falls", seed=11, steps=8, guidance=3.0)
    lineage = (("a red ball falls", 11),)
    remix = sample_clip(pipe, "a blue cube rolls left", seed=99, steps=8, guidance=3.0, lineage=lineage)
    fresh = sample_clip(pipe, "a blue cube rolls left", seed=99, steps=8, guidance=3.0)
    distance = lambda a, b: float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean())
    assert distance(remix, parent) < 0.6 * distance(fresh, parent)
    again = sample_clip(pipe, "a blue cube rolls left", seed=5, steps=8, guidance=3.0, lineage=lineage)
    assert np.array_equal(again, remix)  # the parent's seed and frames decide, not the remix's own seed
    # a remix of the remix replays both generations before it
    deeper = sample_clip(pipe, "a green cube", seed=1, steps=8, guidance=3.0,
                         lineage=(*lineage, ("a blue cube rolls left", 99)))
    assert distance(deeper, remix) < distance(deeper, parent)


def test_the_render_job_passes_a_remix_its_lineage(rt, make_api, monkeypatch):
    import generator.render as render
    from tests.conftest import drain

    seen = []
    real = render.sample_clip
    monkeypatch.setattr(render, "sample_clip", lambda *a, **k: seen.append((a[1], k["lineage"])) or real(*a, **k))
    api, _ = make_api("ann@t.test", handle="ann")
    first = api.post("/api/v1/generations", json={"prompt": "a red ball falls"}).get_json()["id"]
    drain(rt)
    second = api.post("/api/v1/generations", json={"prompt": "a blue ball falls", "remix_of": first}).get_json()
    drain(rt)
    third = api.post("/api/v1/generations", json={"prompt": "a green ball", "remix_of": second["id"]}).get_json()
    drain(rt)
    from app.models import Generation
    with rt.db.transaction() as s:
        seeds = {g: s.get(Generation, g).seed for g in (first, second["id"], third["id"])}
    assert [s[0] for s in seen] == ["a red ball falls", "a blue ball falls", "a green ball"]
    assert seen[0][1] == () and seen[1][1] == (("a red ball falls", seeds[first]),)
    assert seen[2][1] == (("a red ball falls", seeds[first]), ("a blue ball falls", seeds[second["id"]]))


def test_a_batch_samples_each_clip_as_it_would_be_alone_and_halves_on_out_of_memory(monkeypatch):
    import torch

    import generator.render as render
    from generator.model_files import default_model_dir

    pipe = render.pipeline(str(default_model_dir()))
    prompts, seeds = ["a red ball falls", "a blue cube rolls left", "two green stars fall"], [3, 4, 5]
    alone = [render.sample_clip(pipe, p, seed=s, steps=6, guidance=3.0) for p, s in zip(prompts, seeds)]
    together = render.sample_clips(pipe, prompts, seeds, steps=6, guidance=3.0)
    # each from its own seed's noise; a larger batch may move the last bits of float arithmetic
    assert all(np.abs(a.astype(int) - b.astype(int)).max() <= 2 for a, b in zip(alone, together, strict=True))
    assert not np.array_equal(together[0], together[1])

    calls, real = [], render.sample_clips

    def fits_one(pipe, prompts, seeds, **kwargs):
        calls.append(len(prompts))
        if len(prompts) > 1:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(pipe, prompts, seeds, **kwargs)

    monkeypatch.setattr(render, "sample_clips", fits_one)
    split = render.sample_batch(pipe, prompts, seeds, steps=6, guidance=3.0)
    assert calls == [3, 1, 2, 1, 1]  # halved, then halved again where it still did not fit
    assert all(np.array_equal(a, b) for a, b in zip(split, alone, strict=True))

    monkeypatch.setattr(render, "sample_clips", lambda *a, **k: (_ for _ in ()).throw(torch.OutOfMemoryError("no")))
    with pytest.raises(torch.OutOfMemoryError):  # one clip that does not fit is the job's failure
        render.sample_batch(pipe, prompts[:1], seeds[:1], steps=6, guidance=3.0)


def test_one_failed_job_of_a_batch_leaves_the_others_rendered(tmp_path, monkeypatch):
    import generator.render as render

    real = render.render_to_mp4

    def second_fails(prompt, out_path, **kwargs):
        if "cube" in prompt:
            raise OSError("disk full")
        return real(prompt, out_path, **kwargs)

    monkeypatch.setattr(render, "render_to_mp4", second_fails)
    settings = RenderSettings(fps=8, seconds=1.0, steps=4)
    jobs = [render.RenderJob(p, tmp_path / f"{i}.mp4", seed=i, settings=settings)
            for i, p in enumerate(["a red ball falls", "a blue cube rolls left", "a green star falls"])]
    first, failed, third = render.render_batch(jobs)
    assert isinstance(failed, OSError) and not (tmp_path / "1.mp4").exists()
    assert (first.batch, third.batch) == (3, 3) and first.path.exists() and third.path.exists()
    (alone,) = render.render_batch(jobs[:1])  # one request is sampled on its own
    assert alone.batch == 1 and alone.timings["sample"] > 0

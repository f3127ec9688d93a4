"""The diffusers pipeline on the CPU: a tiny random one built from configs goes through the same
save_pretrained / from_pretrained path as the trained one; training resumes exactly."""

from dataclasses import replace

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from generator import dataset
from generator.training import MODEL_DIR, TrainConfig, train
from generator.video_model import (
    CaptionEncoder, GreenlightVideoPipeline, from_frames, load_pipeline, new_pipeline, to_frames,
)

TINY = dict(frames=2, size=16, width=16, text_width=32, text_layers=1)


def _tiny():
    torch.manual_seed(0)
    return new_pipeline(dataset.vocabulary(), **TINY)


def test_a_saved_pipeline_loads_from_its_directory_and_samples_the_same(tmp_path):
    pipe = _tiny()
    pipe.save_pretrained(str(tmp_path / "pipe"), safe_serialization=True)
    assert (tmp_path / "pipe" / "unet" / "diffusion_pytorch_model.safetensors").exists()
    loaded = load_pipeline(tmp_path / "pipe")
    assert isinstance(loaded, GreenlightVideoPipeline) and isinstance(loaded.text_encoder, CaptionEncoder)
    outs = [p("two red balls fall", num_inference_steps=3, generator=torch.Generator().manual_seed(1))
            for p in (pipe, loaded)]
    assert outs[0].frames.shape == (1, 2, 16, 16, 3) and outs[0].frames.dtype == np.uint8
    assert np.array_equal(outs[0].frames, outs[1].frames)
    # the starting noise comes back, so a remix can start from it
    again = loaded("two red balls fall", num_inference_steps=3, latents=torch.from_numpy(outs[0].latents))
    assert np.array_equal(again.frames, outs[0].frames)


def test_the_caption_changes_the_sample_and_unknown_words_still_encode():
    pipe = _tiny()
    a, b = (pipe(c, num_inference_steps=2, generator=torch.Generator().manual_seed(3)).frames
            for c in ("a red ball falls", "three blue cubes roll left"))
    assert not np.array_equal(a, b)
    ids = pipe.text_encoder.token_ids(["a zorblax ball"])[0].tolist()
    assert ids[0] == 1 and all(i != 0 for i in ids[1:4]) and ids[2] != ids[3]


def test_frames_and_model_tensors_convert_both_ways():
    clip = next(dataset.clips(1, seed=0, size=16, frames=2))
    x = from_frames(clip.frames[None])
    assert x.shape == (1, 6, 16, 16) and float(x.min()) >= -1 and float(x.max()) <= 1
    assert np.array_equal(to_frames(x)[0], clip.frames)


@pytest.mark.slow
def test_training_saves_a_loadable_pipeline_and_a_resumed_run_matches_an_uninterrupted_one(tmp_path):
    config = TrainConfig(steps=4, batch=2, **TINY)
    seen = []
    whole = train(tmp_path / "whole", config, checkpoint_every=2, progress=lambda s, n, loss: seen.append(loss))
    assert len(seen) == 4 and all(np.isfinite(seen))
    half = TrainConfig(**{**config.__dict__, "steps": 2})
    train(tmp_path / "split", half, checkpoint_every=2)
    # the same directory, more steps: resumes from step 2 (another configuration is refused)
    resumed = train(tmp_path / "split", config, checkpoint_every=2)
    a = load_file(str(whole / "unet" / "diffusion_pytorch_model.safetensors"))
    b = load_file(str(resumed / "unet" / "diffusion_pytorch_model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert resumed.name == MODEL_DIR and isinstance(load_pipeline(resumed), GreenlightVideoPipeline)
    with pytest.raises(ValueError, match="another configuration"):
        train(tmp_path / "split", TrainConfig(**{**config.__dict__, "lr": 1e-3}))
    with pytest.raises(ValueError, match="already at step 4"):
        train(tmp_path / "split", half)


def test_the_train_command_writes_a_pipeline_and_refuses_to_resume_another_configuration(tmp_path):
    from click.testing import CliRunner

    from app.cli import main

    run = CliRunner().invoke
    args = ["generator", "train", "--out", str(tmp_path), "--steps", "2", "--batch", "2", "--width", "16", "--size", "16"]
    result = run(main, args)
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output and isinstance(load_pipeline(tmp_path / MODEL_DIR), GreenlightVideoPipeline)
    result = run(main, [*args[:-2], "--size", "32"])
    assert result.exit_code == 1 and "another configuration" in result.output


def test_a_warm_start_begins_from_the_given_weights(tmp_path):
    from safetensors.torch import load_file as weights_of

    config = TrainConfig(steps=2, batch=2, **TINY)
    first = train(tmp_path / "first", config, checkpoint_every=2)
    warm = train(tmp_path / "warm", replace(config, seed=1), checkpoint_every=2, init=first)
    cold = train(tmp_path / "cold", replace(config, seed=1), checkpoint_every=2)
    unet = "unet/diffusion_pytorch_model.safetensors"
    a, w, c = (weights_of(str(d / unet)) for d in (first, warm, cold))

    def gap(x, y):
        return sum(float((x[k] - y[k]).abs().sum()) for k in x)

    assert 0 < gap(w, a) < 0.1 * gap(c, a)  # it moved on from the first stage, not from scratch

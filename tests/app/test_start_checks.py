"""What `serve`, `worker` and `up` check before starting (app/start_checks.py) and GL_STAGES_OFF.
Bad model files are temporary paths named by override variables."""

from dataclasses import replace

import pytest

from app import domains, pipeline, start_checks
from app.models import User, VerdictRecord
from tests.app.test_model_files import OVERRIDES
from tests.conftest import create_user


@pytest.fixture(autouse=True)
def shipped_models(monkeypatch):
    for name in OVERRIDES:
        monkeypatch.delenv(name, raising=False)


def problems(rt, **config):
    return start_checks.problems(replace(rt, config=replace(rt.config, **config)))


def test_the_shipped_configuration_starts(rt):
    assert start_checks.problems(rt) == []


def test_refusing_agpl_names_the_nudity_stages_and_their_model(rt):
    (problem,) = problems(rt, model_licences="permissive,copyleft,-AGPL-3.0")
    assert "nudity-detector (320n.onnx) is under AGPL-3.0-only" in problem
    assert "stages safety.input_image, safety.frames load it" in problem
    assert problems(rt, model_licences="permissive,copyleft,-AGPL-3.0",
                    stages_off=frozenset({"safety.frames", "safety.input_image"})) == []


def test_refusing_copyleft_also_names_the_codec_which_no_stage_switch_removes(rt):
    found = problems(rt, model_licences="permissive", stages_off=frozenset({"safety.frames", "safety.input_image"}))
    (problem,) = found
    assert problem.startswith("video-codec (av.libs) is under GPL-2.0-or-later (copyleft)")
    assert "generator renderer" in problem and "GL_STAGES_OFF" not in problem


def test_a_missing_model_is_named_with_its_path(rt, monkeypatch, tmp_path):
    missing = tmp_path / "vad.onnx"
    monkeypatch.setenv("GL_VAD_MODEL", str(missing))
    found = problems(rt, model_declared_licences="voice-activity=MIT")
    assert found == [f"voice-activity: no model at {missing} (set by GL_VAD_MODEL)"]
    # Undeclared, the configured file's licence is unknown and refused by default.
    assert any("voice-activity (vad.onnx) states no licence" in p for p in problems(rt))


def test_a_stage_switched_off_neither_runs_nor_is_required(rt, monkeypatch):
    off = frozenset({"likeness.public_figures"})
    assert pipeline.stages(pipeline.PRE_RENDER, off) == tuple(
        s for s in pipeline.stages(pipeline.PRE_RENDER) if s.name != "likeness.public_figures")
    from app import orchestrator

    rt_off = replace(rt, config=replace(rt.config, stages_off=off))
    alice = create_user(rt, "alice@t.test", handle="alice")
    with rt.db.transaction() as s:
        gid = orchestrator.submit_and_gate(rt_off, s, s.get(User, alice.id), "a green cube sliding", [], None)
    with rt.db.transaction() as s:
        stages = {v.stage for v in s.query(VerdictRecord).filter_by(generation_id=gid)}
    assert "safety.prompt" in stages and "likeness.public_figures" not in stages


def test_switching_off_every_producer_of_a_needed_fact_is_named(rt):
    found = problems(rt, stages_off=frozenset({"safety.prompt", "safety.input_image"}))
    assert found == ["copyright.rights needs content.sexual, content.violence, which only safety.input_image, "
                     "safety.prompt produced before it, and GL_STAGES_OFF switches that off: switch "
                     "copyright.rights off too, or one of them back on"]
    assert problems(rt, stages_off=frozenset({"safety.prompt", "safety.input_image", "copyright.rights"})) == []


def test_bad_settings_are_problems_not_crashes(rt):
    assert problems(rt, stages_off=frozenset({"safety.nope"}))[0].startswith("GL_STAGES_OFF names safety.nope")
    assert problems(rt, model_licences="-")[0].startswith("GL_MODEL_LICENCES=")
    assert "no model here" in problems(rt, model_declared_licences="nothing=MIT")[0]


def test_a_domains_own_start_up_check_is_included(rt, monkeypatch):
    rogue = domains.Domain(name="rogue", startup_checks=(lambda runtime: ["rogue: the widget is unplugged"],))
    monkeypatch.setitem(domains._domains, "rogue", rogue)
    assert start_checks.problems(rt) == ["rogue: the widget is unplugged"]

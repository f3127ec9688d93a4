"""The model registry (app/model_files.py): one record per model every stage loads, the shipped files
pinned by hash, configured files described as they are. Installed files are never modified: a bad
file is always a temporary copy named through an override variable."""

import hashlib
from dataclasses import replace
from pathlib import Path

import pytest

from app import domains, model_files
from app.factory import load_plugins
from app.model_files import LicenceClass

OVERRIDES = ("GL_TEXT_EMBEDDER", "GL_MULTILINGUAL_EMBEDDER", "GL_NUDITY_MODEL", "GL_VAD_MODEL", "GL_SPEECH_MODEL",
             "GL_IMAGE_EMBED_MODEL", "GL_FACE_DETECTOR", "GL_FACE_EMBEDDER", "GL_FACE_EMBEDDER_KIND", "GL_GENERATOR_MODEL")


def registry(declared=None):
    return model_files.registry(domains.model_files(), declared)


@pytest.fixture
def shipped(monkeypatch):
    """The registry with no model variable set: every record is a file inside a pinned wheel, the codec or
    a model of ours in the repository (the prompt heads, the video model)."""
    for name in OVERRIDES:
        monkeypatch.delenv(name, raising=False)
    load_plugins()
    return {record.name: record for record in registry()}


def _registered_stages():
    return [stage for domain in domains.domains() for stage in domain.stages]


def test_every_model_a_stage_names_has_one_record(shipped):
    named = {model for stage in _registered_stages() for model in stage.models}
    # The image embedder exists only when an operator configures one (no CLIP weights ship).
    assert named - set(shipped) == {"image-embedder"}
    assert set(shipped) == {"text-embedder", "nudity-detector", "voice-activity", "speech-to-text",
                            "face-detector", "face-embedder", "video-codec", "prompt-head", "prompt-reader", "ip-work-head",
                            "ip-work-facts",
                            "figure-head", "multilingual-embedder", "prompt-head-multilingual", "prompt-reader-multilingual",
                            "video-model"}
    users = model_files.stages_using(_registered_stages())
    assert all(users.get(name) or record.used_by for name, record in shipped.items())


def test_the_shipped_files_are_the_recorded_ones(shipped):
    assert model_files.file_problems(shipped.values()) == []
    for record in shipped.values():
        assert record.licence_class is not LicenceClass.UNKNOWN, record.name
        assert not record.configured and record.source_version
    nudenet = shipped["nudity-detector"]
    assert hashlib.sha256(nudenet.path.read_bytes()).hexdigest() == nudenet.pinned_sha256
    assert (nudenet.licence, nudenet.licence_class) == ("AGPL-3.0-only", LicenceClass.COPYLEFT)
    assert nudenet.tag == f"nudenet-320n:{nudenet.pinned_sha256[:8]}" and nudenet.size == nudenet.path.stat().st_size
    codec = shipped["video-codec"]
    assert codec.role == "codec" and codec.licence == "GPL-2.0-or-later" and codec.pinned_sha256 is None
    assert "generator renderer" in codec.used_by and len(codec.sha256) == 64


def test_a_pinned_file_that_differs_is_named_with_both_hashes(shipped, tmp_path):
    copy = tmp_path / "320n.onnx"
    data = bytearray(shipped["nudity-detector"].path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    # The record as it would be were the installed file altered: same pin, other bytes.
    altered = replace(shipped["nudity-detector"], path=copy)
    problem = altered.file_problem()
    assert problem.startswith(f"nudity-detector: {copy} is not the file nudenet 3.4.2 ships")
    assert altered.pinned_sha256 in problem and hashlib.sha256(bytes(data)).hexdigest() in problem


def test_a_configured_file_is_described_as_it_is(shipped, monkeypatch, tmp_path):
    copy = tmp_path / "detector.onnx"
    copy.write_bytes(shipped["nudity-detector"].path.read_bytes())
    monkeypatch.setenv("GL_NUDITY_MODEL", str(copy))
    load_plugins()
    record = {r.name: r for r in registry()}["nudity-detector"]
    assert record.configured and record.variable == "GL_NUDITY_MODEL" and record.path == copy
    assert (record.licence, record.licence_class) == ("unknown", LicenceClass.UNKNOWN)
    assert record.tag == f"nudenet-detector:{shipped['nudity-detector'].pinned_sha256[:8]}"
    assert record.file_problem() is None and record.load_problem() is None
    copy.write_bytes(b"not a model")
    assert record.tag == f"nudenet-detector:{hashlib.sha256(b'not a model').hexdigest()[:8]}"
    problem = record.load_problem()
    assert problem.startswith(f"nudity-detector: {copy} does not load: ")
    assert model_files.load_problems([record]) == [problem]
    copy.unlink()
    assert record.file_problem() == f"nudity-detector: no model at {copy} (set by GL_NUDITY_MODEL)"
    assert record.tag == "nudenet-detector:missing" and record.size is None


def test_naming_the_shipped_file_keeps_its_pin(shipped, monkeypatch):
    monkeypatch.setenv("GL_VAD_MODEL", str(shipped["voice-activity"].path))
    assert {r.name: r for r in registry()}["voice-activity"] == shipped["voice-activity"]


def test_an_insightface_embedder_is_recorded_as_non_commercial(monkeypatch, tmp_path):
    from likeness.faces.models import face_embedder_file

    weights = tmp_path / "buffalo_l" / "w600k_r50.onnx"
    record = face_embedder_file(weights, "arcface")
    assert record.licence_class is LicenceClass.NON_COMMERCIAL and "insightface" in record.licence
    assert face_embedder_file(tmp_path / "my_arcface.onnx", "arcface").licence_class is LicenceClass.UNKNOWN


def test_a_directory_digest_covers_every_file(tmp_path):
    model = tmp_path / "model"
    (model / "sub").mkdir(parents=True)
    (model / "a.bin").write_bytes(b"a")
    (model / "sub" / "b.bin").write_bytes(b"b")
    first = model_files.digest(model)
    assert first == model_files.digest(model) and model_files.total_size(model) == 2
    (model / "sub" / "b.bin").write_bytes(b"c")
    changed = model_files.digest(model)
    assert changed != first
    (model / "sub" / "b.bin").rename(model / "b.bin")  # same bytes, another place: another model
    assert model_files.digest(model) not in (first, changed)


def test_declared_licences_replace_the_recorded_ones(shipped):
    records = {r.name: r for r in registry({"nudity-detector": ("LicenseRef-ultralytics-enterprise",
                                                                            LicenceClass.PERMISSIVE)})}
    declared = records["nudity-detector"]
    assert declared.licence_declared and declared.licence_class is LicenceClass.PERMISSIVE
    assert declared.pinned_sha256 == shipped["nudity-detector"].pinned_sha256


def test_two_domains_declaring_one_slot_differently_is_a_wiring_error(shipped, monkeypatch, tmp_path):
    other = replace(shipped["text-embedder"], path=tmp_path / "other.safetensors")
    monkeypatch.setitem(domains._domains, "rogue", domains.Domain(name="rogue", model_files=lambda: [other]))
    with pytest.raises(model_files.RegistryConflict, match="text-embedder is declared twice"):
        registry()


def test_shared_records_merge_their_other_loaders(shipped):
    speech = shipped["speech-to-text"]
    assert "likeness enrolment (spoken digits)" in speech.used_by
    assert Path(speech.path).name == "en-us" and speech.path.is_dir()

"""`greenlight models list | check`, and `serve`/`worker`/`up` refusing to start, run as operators run them."""

import pytest

from tests.app.test_cli import gl


@pytest.mark.parametrize("command", [("serve", "--port", "0"), ("worker", "--burst"), ("up", "--port", "0")])
def test_a_start_refuses_naming_every_problem(tmp_path, command):
    missing = tmp_path / "gone" / "320n.onnx"
    result = gl(tmp_path, *command, check=False,
                env_extra={"GL_NUDITY_MODEL": str(missing), "GL_STAGES_OFF": "safety.nope"})
    assert result.returncode == 1
    assert "greenlight will not start" in result.stderr and "GL_STAGES_OFF names safety.nope" in result.stderr
    assert f"nudity-detector: no model at {missing} (set by GL_NUDITY_MODEL)" in result.stderr


def test_models_list_shows_every_model(tmp_path):
    out = gl(tmp_path, "models", "list").stdout
    header, *rows = out.splitlines()
    assert header.split()[:5] == ["MODEL", "ROLE", "VERSION", "SOURCE", "USED"]
    by_name = {row.split()[0]: row for row in rows}
    assert set(by_name) == {"text-embedder", "nudity-detector", "voice-activity", "speech-to-text", "face-detector",
                            "face-embedder", "video-codec", "prompt-head", "prompt-reader", "ip-work-head", "figure-head",
                            "ip-work-facts",
                            "multilingual-embedder", "prompt-head-multilingual", "prompt-reader-multilingual",
                            "video-model"}
    assert "safety.frames, safety.input_image" in by_name["nudity-detector"]
    assert "AGPL-3.0-only" in by_name["nudity-detector"] and "nudenet/320n.onnx" in by_name["nudity-detector"]
    assert "nudenet-320n" in by_name["nudity-detector"] and "nudenet 3.4.2" in by_name["nudity-detector"]


@pytest.mark.slow
def test_models_check_loads_every_model_and_names_one_that_does_not_load(tmp_path):
    assert "every model is in place" in gl(tmp_path, "models", "check").stdout
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"\x08\x07garbage that is no protobuf" * 100)
    result = gl(tmp_path, "models", "check", check=False,
                env_extra={"GL_NUDITY_MODEL": str(corrupt), "GL_MODEL_DECLARED_LICENCES": "nudity-detector=MIT"})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith(f"nudity-detector: {corrupt} does not load:")


def test_a_start_refuses_a_bad_setting_and_an_unmigrated_database(tmp_path):
    bad = gl(tmp_path, "serve", "--port", "0", check=False, env_extra={"GL_FACE_SCAN_UNDECLARED": "bogus"})
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert "GL_FACE_SCAN_UNDECLARED='bogus' is not an option" in bad.stderr
    empty = gl(tmp_path, "serve", "--port", "0", check=False)
    assert empty.returncode == 1 and "run `greenlight db upgrade`" in empty.stderr


def test_a_start_refuses_a_face_embedder_without_its_calibrated_threshold(tmp_path):
    from tests.likeness.faces.test_models import tiny_arcface

    gl(tmp_path, "db", "upgrade")
    tiny = tiny_arcface(tmp_path / "w600k_tiny.onnx")
    env = {"GL_FACE_EMBEDDER": str(tiny), "GL_FACE_EMBEDDER_KIND": "arcface",
           "GL_MODEL_DECLARED_LICENCES": "face-embedder=MIT"}
    refused = gl(tmp_path, "worker", "--burst", check=False, env_extra=env)
    assert refused.returncode == 1 and "the face models cannot be used: no calibrated threshold" in refused.stderr
    assert gl(tmp_path, "worker", "--burst", env_extra=env | {"GL_FACE_SAME_PERSON_THRESHOLD": "0.85"}).returncode == 0


def test_a_start_loads_an_operators_own_model_file_and_refuses_a_corrupt_one(tmp_path):
    gl(tmp_path, "db", "upgrade")
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"\x08\x07garbage that is no protobuf" * 100)
    refused = gl(tmp_path, "worker", "--burst", check=False,
                 env_extra={"GL_NUDITY_MODEL": str(corrupt), "GL_MODEL_DECLARED_LICENCES": "nudity-detector=MIT"})
    assert refused.returncode == 1 and "greenlight will not start" in refused.stderr
    assert f"nudity-detector: {corrupt} does not load:" in refused.stderr

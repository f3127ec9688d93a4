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
    assert header.split()[:3] == ["MODEL", "ROLE", "USED"]
    by_name = {row.split()[0]: row for row in rows}
    assert set(by_name) == {"text-embedder", "nudity-detector", "voice-activity", "speech-to-text", "face-detector",
                            "face-embedder", "video-codec"}
    assert "safety.frames, safety.input_image" in by_name["nudity-detector"]
    assert "AGPL-3.0-only" in by_name["nudity-detector"] and "nudenet/320n.onnx" in by_name["nudity-detector"]


@pytest.mark.slow
def test_models_check_loads_every_model_and_names_one_that_does_not_load(tmp_path):
    assert "every model is in place" in gl(tmp_path, "models", "check").stdout
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"\x08\x07garbage that is no protobuf" * 100)
    result = gl(tmp_path, "models", "check", check=False,
                env_extra={"GL_NUDITY_MODEL": str(corrupt), "GL_MODEL_DECLARED_LICENCES": "nudity-detector=MIT"})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith(f"nudity-detector: {corrupt} does not load:")

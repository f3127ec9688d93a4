"""The image-embedding load path (GL_IMAGE_EMBED_MODEL) on a tiny visual tower the test builds."""

from __future__ import annotations

import warnings

import cv2
import numpy as np
import pytest
from skimage import data

from app.kit.image_embedding import ImageEmbedder, ImageEmbedderError, load_image_embedder
from tests.app.kit.tiny_vit import build_tiny_vit


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's notice about the TorchScript exporter
        return build_tiny_vit(tmp_path_factory.mktemp("vit") / "tiny-vit.onnx")


def bgr(image):
    return cv2.cvtColor(image, cv2.COLOR_RGB2BGR)


def test_the_model_loads_from_its_file_and_reads_its_preprocessing(model_path):
    embedder = load_image_embedder(model_path)
    assert embedder is load_image_embedder(str(model_path))  # loaded once per process
    assert embedder.prep.image_size == 64 and len(embedder.model_id) == 16
    assert embedder.pixels(bgr(data.astronaut())).shape == (3, 64, 64)
    vectors = embedder.embed([bgr(data.astronaut()), bgr(data.coffee())])
    assert vectors.shape == (2, 32) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_a_re_encoded_copy_is_nearer_than_a_different_photo(model_path):
    embedder = ImageEmbedder(model_path)
    original = bgr(data.astronaut())
    copy = cv2.imdecode(cv2.imencode(".jpg", cv2.resize(original, None, fx=0.5, fy=0.5),
                                     [cv2.IMWRITE_JPEG_QUALITY, 50])[1], cv2.IMREAD_COLOR)
    a, b, c = embedder.embed([original, copy, bgr(data.coffee())])
    assert float(a @ b) > 0.97 and float(a @ b) > float(a @ c)


def test_unset_means_off_and_bad_files_are_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("GL_IMAGE_EMBED_MODEL", raising=False)
    assert load_image_embedder() is None
    with pytest.raises(ImageEmbedderError, match="no image-embedding model"):
        ImageEmbedder(tmp_path / "missing.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(ImageEmbedderError, match="not a loadable ONNX model"):
        ImageEmbedder(junk)

"""SFace embeddings through onnxruntime: OpenCV's reference pipeline, identity across variants."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest

from likeness.faces import SAME_PERSON_THRESHOLD, cosine
from likeness.faces.align import ARCFACE_TEMPLATE, align_face, similarity_matrix


def test_embedding_is_unit_float32_of_model_dim_and_deterministic(models, photos):
    (face,) = models.detect(photos["astronaut"])
    first = models.embed(photos["astronaut"], face)
    assert first.dtype == np.float32 and first.shape == (models.dim,) == (128,)
    assert np.linalg.norm(first) == pytest.approx(1.0, abs=1e-5)
    assert np.array_equal(first, models.embed(photos["astronaut"], face))


def test_analyze_embeds_every_face(models, photos, collage):
    hopper_small = cv2.resize(photos["hopper"], None, fx=0.6, fy=0.6, interpolation=cv2.INTER_AREA)
    analyzed = models.analyze(collage(photos["astronaut"], hopper_small))
    assert len(analyzed) == 2
    for item in analyzed:
        assert np.allclose(item.embedding, models.embed(collage(photos["astronaut"], hopper_small), item.face))
    assert cosine(analyzed[0].embedding, analyzed[1].embedding) < SAME_PERSON_THRESHOLD


def test_alignment_matches_opencv_align_crop(models, photos, sface_path):
    recognizer = cv2.FaceRecognizerSF.create(str(sface_path), "")
    for image in photos.values():
        face = models.detect(image)[0]
        row = np.array([*face.box, *face.landmarks.ravel(), face.score], dtype=np.float32)
        reference = recognizer.alignCrop(image, row)
        ours = align_face(image, face.landmarks)
        assert np.abs(reference.astype(int) - ours).mean() < 0.05  # rounding differences only


@pytest.mark.slow
def test_embedding_matches_opencv_face_recognizer(models, photos, sface_path):
    """onnxruntime with our preprocessing == cv2.FaceRecognizerSF.feature (OpenCV < 5)."""
    recognizer = cv2.FaceRecognizerSF.create(str(sface_path), "")
    for image in photos.values():
        face = models.detect(image)[0]
        aligned = align_face(image, face.landmarks)
        reference = recognizer.feature(aligned).ravel()
        assert cosine(models.embedder.embed_aligned(aligned), reference) > 0.9999


def test_similarity_matrix_recovers_a_known_similarity():
    angle, scale, shift = np.radians(17), 2.5, np.array([40.0, -12.0])
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = ARCFACE_TEMPLATE @ (scale * rotation).T + shift
    matrix = similarity_matrix(moved, ARCFACE_TEMPLATE)
    assert np.allclose(moved @ matrix[:, :2].T + matrix[:, 2], ARCFACE_TEMPLATE, atol=1e-9)


def test_cosine():
    assert cosine(np.array([1.0, 0.0]), np.array([2.0, 0.0])) == pytest.approx(1.0)
    assert cosine(np.array([1.0, 0.0]), np.array([0.0, 3.0])) == pytest.approx(0.0)
    assert cosine(np.array([1.0, 1.0]), np.array([-1.0, -1.0])) == pytest.approx(-1.0)
    assert cosine(np.zeros(3), np.ones(3)) == 0.0


@pytest.fixture(scope="module")
def variant_embeddings(models, variants) -> dict[str, dict[str, np.ndarray]]:
    out: dict[str, dict[str, np.ndarray]] = {}
    for name, images in variants.items():
        for aug, image in images.items():
            face = models.detect(image)[0]
            out.setdefault(name, {})[aug] = models.embed(image, face)
    return out


@pytest.mark.slow
def test_same_person_above_threshold_across_variants(variant_embeddings):
    scores = {(name, a, b): cosine(vectors[a], vectors[b])
              for name, vectors in variant_embeddings.items() for a, b in itertools.combinations(vectors, 2)}
    low = {pair: round(s, 3) for pair, s in scores.items() if s < SAME_PERSON_THRESHOLD}
    assert low == {}
    assert np.mean(list(scores.values())) > 0.8


@pytest.mark.slow
def test_different_people_below_threshold_across_variants(variant_embeddings):
    scores = {(x, a, y, b): cosine(va, vb)
              for (x, xs), (y, ys) in itertools.combinations(variant_embeddings.items(), 2)
              for a, va in xs.items() for b, vb in ys.items()}
    high = {pair: round(s, 3) for pair, s in scores.items() if s >= SAME_PERSON_THRESHOLD}
    assert high == {}

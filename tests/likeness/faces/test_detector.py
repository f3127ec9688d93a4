"""YuNet detection on real photos."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from likeness.faces import DetectedFace


@pytest.mark.slow
@pytest.mark.parametrize("name", ["astronaut", "camera", "hopper"])
def test_exactly_one_face_on_each_photo_and_its_variants(models, variants, name):
    counts = {aug: len(models.detect(image)) for aug, image in variants[name].items()}
    assert counts == {aug: 1 for aug in counts}


def test_face_fields_are_in_image_pixels(models, photos):
    (face,) = models.detect(photos["astronaut"])
    assert isinstance(face, DetectedFace)
    x, y, w, h = face.box
    assert 150 < x < 220 and 40 < y < 100 and 70 < w < 120 and 90 < h < 140  # the astronaut's head
    assert face.area == pytest.approx(w * h)
    assert 0.7 <= face.score <= 1.0
    assert face.landmarks.shape == (5, 2) and face.landmarks.dtype == np.float32
    assert not face.landmarks.flags.writeable  # frozen means frozen


def test_landmark_order_is_yunet(models, photos):
    """Right eye (image left), left eye, nose tip, right and left mouth corners."""
    (face,) = models.detect(photos["hopper"])
    right_eye, left_eye, nose, right_mouth, left_mouth = face.landmarks
    assert right_eye[0] < nose[0] < left_eye[0]
    assert right_mouth[0] < left_mouth[0]
    assert max(right_eye[1], left_eye[1]) < nose[1] < min(right_mouth[1], left_mouth[1])


def test_collage_of_three_people_gives_three_faces_largest_first(models, photos, collage):
    hopper_small = cv2.resize(photos["hopper"], None, fx=0.6, fy=0.6, interpolation=cv2.INTER_AREA)
    faces = models.detect(collage(photos["astronaut"], photos["camera"], hopper_small))
    assert len(faces) == 3
    assert [f.area for f in faces] == sorted((f.area for f in faces), reverse=True)
    centres = sorted(f.box[0] + f.box[2] / 2 for f in faces)
    assert centres[0] < 512 < centres[1] < 1024 < centres[2]  # one face in each photo


def test_no_face_in_noise_or_a_blank_image(models):
    noise = np.random.default_rng(1).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    assert models.detect(noise) == []
    assert models.detect(np.full((300, 300, 3), 200, np.uint8)) == []
    assert models.detect(np.zeros((1, 1, 3), np.uint8)) == []


def test_gray_and_bgra_inputs(models, photos):
    gray = cv2.cvtColor(photos["hopper"], cv2.COLOR_BGR2GRAY)
    bgra = cv2.cvtColor(photos["hopper"], cv2.COLOR_BGR2BGRA)
    assert len(models.detect(gray)) == 1
    assert len(models.detect(bgra)) == 1
    with pytest.raises(ValueError):
        models.detect(photos["hopper"].astype(np.float32))


def test_large_photo_is_detected_in_original_coordinates(models, photos):
    (small,) = models.detect(photos["astronaut"])
    big = cv2.resize(photos["astronaut"], None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)  # 1536 px: downscaled
    (large,) = models.detect(big)
    tolerance = 0.06 * large.box[2]  # landmarks jitter a few % of the face between scales
    assert np.allclose(np.array(large.box), 3 * np.array(small.box), atol=tolerance)
    assert np.allclose(large.landmarks, 3 * small.landmarks, atol=tolerance)

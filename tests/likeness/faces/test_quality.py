"""Quality gates on real photos: each refusal has its code; pose estimates have a stated sign."""

from __future__ import annotations

import io
import struct
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image

import likeness.faces
from likeness.faces import (
    SAME_PERSON_THRESHOLD, FaceQualityError, QualityReport, check_quality, decode_image, dominant_face,
    estimate_pitch, estimate_yaw,
)
from likeness.faces.align import ARCFACE_TEMPLATE
from likeness.faces.quality import DEFAULT_MAX_ABS_YAW, DEFAULT_MIN_BLUR


def quality_code(models, image: np.ndarray, **limits) -> str | None:
    try:
        check_quality(image, models.detect(image), **limits)
    except FaceQualityError as error:
        return error.code
    return None


def encode(image_bgr: np.ndarray, ext: str = ".png") -> bytes:
    ok, data = cv2.imencode(ext, image_bgr)
    assert ok
    return data.tobytes()


@pytest.mark.parametrize("name", ["astronaut", "hopper"])
def test_good_photos_pass_with_a_report(models, photos, name):
    faces = models.detect(photos[name])
    report = check_quality(photos[name], faces)
    assert isinstance(report, QualityReport) and report.face is faces[0]
    assert report.size_px >= 64 and report.blur >= DEFAULT_MIN_BLUR
    assert abs(report.yaw) < 15 and abs(report.pitch) < 15


def test_noise_has_no_face(models):
    noise = np.random.default_rng(2).integers(0, 256, (400, 400, 3), dtype=np.uint8)
    assert quality_code(models, noise) == "no_face"


def test_two_people_of_similar_size_are_refused(models, photos, collage):
    hopper_small = cv2.resize(photos["hopper"], None, fx=0.55, fy=0.55, interpolation=cv2.INTER_AREA)
    assert quality_code(models, collage(photos["astronaut"], hopper_small)) == "multiple_faces"


def test_a_small_face_in_the_background_is_not_another_person(models, photos, collage):
    tiny_astronaut = cv2.resize(photos["astronaut"], None, fx=0.4, fy=0.4, interpolation=cv2.INTER_AREA)
    image = collage(photos["hopper"], tiny_astronaut)
    faces = models.detect(image)
    assert len(faces) == 2
    assert dominant_face(faces, image.shape) is faces[0]


def test_tiny_face_is_too_small(models, photos):
    tiny = cv2.resize(photos["astronaut"], None, fx=0.4, fy=0.4, interpolation=cv2.INTER_AREA)
    assert len(models.detect(tiny)) == 1
    assert quality_code(models, tiny) == "face_too_small"


def test_heavy_blur_is_too_blurry(models, photos):
    (face,) = models.detect(photos["hopper"])
    blurred = cv2.GaussianBlur(photos["hopper"], (0, 0), 0.05 * face.box[2])  # sigma 5% of the face
    assert len(models.detect(blurred)) == 1
    assert quality_code(models, blurred) == "face_too_blurry"


def test_near_profile_is_pose_extreme(models, photos):
    camera = cv2.resize(photos["camera"], None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)  # big enough
    assert quality_code(models, camera) == "face_pose_extreme"
    assert quality_code(models, camera, max_abs_yaw=90) is None


def test_yaw_sign_follows_the_nose_and_flips_with_the_image(models, photos):
    (face,) = models.detect(photos["camera"])  # he looks at a camera on the image right
    (mirrored,) = models.detect(cv2.flip(photos["camera"], 1))
    yaw, mirrored_yaw = estimate_yaw(face.landmarks), estimate_yaw(mirrored.landmarks)
    assert yaw > DEFAULT_MAX_ABS_YAW and mirrored_yaw < -DEFAULT_MAX_ABS_YAW
    assert abs(yaw + mirrored_yaw) < 10


def test_yaw_and_pitch_from_landmarks_sign_convention():
    level = ARCFACE_TEMPLATE.copy()
    level[2, 1] = level[:2, 1].mean() + 0.56 * (level[3:, 1].mean() - level[:2, 1].mean())  # YuNet's level nose
    assert abs(estimate_yaw(level)) < 1 and abs(estimate_pitch(level)) < 1
    to_image_right, raised = level.copy(), level.copy()
    to_image_right[2, 0] += 10  # nose toward the image right: the subject turned to their left
    raised[2, 1] -= 8  # nose toward the eyes: chin up
    assert estimate_yaw(to_image_right) > 20 and abs(estimate_pitch(to_image_right)) < 1
    assert estimate_pitch(raised) > 20 and abs(estimate_yaw(raised)) < 1
    # Roll does not change either angle.
    angle = np.radians(30)
    roll = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    assert estimate_yaw(to_image_right @ roll.T) == pytest.approx(estimate_yaw(to_image_right))
    assert estimate_pitch(raised @ roll.T) == pytest.approx(estimate_pitch(raised))


def test_rolled_photo_keeps_its_pose(models, photos):
    h, w = photos["hopper"].shape[:2]
    rolled = cv2.warpAffine(photos["hopper"], cv2.getRotationMatrix2D((w / 2, h / 2), 25, 1.0), (w, h))
    (face,), (rolled_face,) = models.detect(photos["hopper"]), models.detect(rolled)
    assert abs(estimate_yaw(rolled_face.landmarks) - estimate_yaw(face.landmarks)) < 10
    assert abs(estimate_pitch(rolled_face.landmarks) - estimate_pitch(face.landmarks)) < 10


def test_error_carries_code_and_message():
    with pytest.raises(FaceQualityError) as caught:
        dominant_face([], (10, 10, 3))
    assert isinstance(caught.value, ValueError)
    assert caught.value.code == "no_face" and caught.value.message


def test_threshold_is_exported_from_the_package():
    assert likeness.faces.SAME_PERSON_THRESHOLD == SAME_PERSON_THRESHOLD
    assert 0.363 < SAME_PERSON_THRESHOLD < 0.6


def test_decode_png_jpeg_and_gray(photos):
    assert np.array_equal(decode_image(encode(photos["hopper"])), photos["hopper"])
    assert decode_image(encode(photos["hopper"], ".jpg")).shape == photos["hopper"].shape
    gray = decode_image(encode(cv2.cvtColor(photos["hopper"], cv2.COLOR_BGR2GRAY)))
    assert gray.shape == photos["hopper"].shape and gray.dtype == np.uint8


def test_decode_applies_exif_orientation(photos):
    rgb = Image.fromarray(cv2.cvtColor(photos["hopper"], cv2.COLOR_BGR2RGB))  # 512 wide, 600 high
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    buffer = io.BytesIO()
    rgb.save(buffer, "JPEG", exif=exif.tobytes())
    assert decode_image(buffer.getvalue()).shape == (512, 600, 3)


def _png_claiming(width: int, height: int) -> bytes:
    """A 1x1 PNG whose header claims width x height (a decompression bomb's first bytes)."""
    data = encode(np.zeros((1, 1, 3), np.uint8))
    ihdr = struct.pack(">II", width, height) + data[24:29]
    return data[:16] + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr)) + data[33:]


@pytest.mark.parametrize("data", [
    b"", b"not an image at all", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, _png_claiming(100_000, 100_000),
], ids=["empty", "text", "truncated_png", "bomb_header"])
def test_not_an_image(data):
    with pytest.raises(FaceQualityError) as caught:
        decode_image(data)
    assert caught.value.code == "not_an_image"


def test_over_the_pixel_limit_is_refused(photos):
    with pytest.raises(FaceQualityError) as caught:
        decode_image(encode(photos["hopper"]), max_pixels=100_000)
    assert caught.value.code == "not_an_image"


def test_truncated_real_photo_is_not_an_image(photos):
    data = encode(photos["hopper"])
    with pytest.raises(FaceQualityError) as caught:
        decode_image(data[: len(data) // 2])
    assert caught.value.code == "not_an_image"

"""pHash on real photos: near-duplicates are close, different photos are far."""

import cv2
import matplotlib.cbook
import numpy as np
import pytest
from skimage import data

from app.kit.perceptual import PDQ_BITS, PDQ_MIN_QUALITY, distance, from_hex, pdq, phash, to_hex


@pytest.fixture(scope="module")
def photos():
    hopper = cv2.imread(str(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)))
    return {"astronaut": cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR),
            "coffee": cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2BGR),
            "chelsea": cv2.cvtColor(data.chelsea(), cv2.COLOR_RGB2BGR), "hopper": hopper}


def jpeg(image, quality):
    return cv2.imdecode(cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])[1], cv2.IMREAD_COLOR)


VARIANTS = {
    "jpeg40": lambda im: jpeg(im, 40),
    "half": lambda im: cv2.resize(im, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA),
    "brighter": lambda im: cv2.convertScaleAbs(im, alpha=1.0, beta=30),
    "crop3": lambda im: im[im.shape[0] * 3 // 100:, im.shape[1] * 3 // 100:],
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_near_duplicates_stay_close(photos, variant):
    for image in photos.values():
        assert distance(phash(image), phash(VARIANTS[variant](image))) <= 10


def test_different_photos_are_far_apart(photos):
    hashes = {name: phash(im) for name, im in photos.items()}
    names = sorted(hashes)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert distance(hashes[a], hashes[b]) >= 20, (a, b)


def test_hex_round_trip(photos):
    value = phash(photos["coffee"])
    assert from_hex(to_hex(value)) == value and len(to_hex(value)) == 16


# PDQ: same photos, same edits. A 3 % crop is where PDQ gives up and pHash holds (module docstring).
PDQ_NEAR = ("jpeg40", "half", "brighter")


@pytest.mark.parametrize("variant", PDQ_NEAR)
def test_pdq_near_duplicates_stay_within_the_usual_match_distance(photos, variant):
    for image in photos.values():
        (a, qa), (b, qb) = pdq(image), pdq(VARIANTS[variant](image))
        assert distance(a, b) <= 31 and min(qa, qb) >= PDQ_MIN_QUALITY


def test_pdq_of_different_photos_is_far_and_a_crop_defeats_it(photos):
    hashes = {name: pdq(im)[0] for name, im in photos.items()}
    names = sorted(hashes)
    assert min(distance(hashes[a], hashes[b]) for i, a in enumerate(names) for b in names[i + 1:]) >= 100
    assert all(distance(hashes[n], pdq(VARIANTS["crop3"](photos[n]))[0]) > 31 for n in names)


def test_pdq_hex_is_the_threatexchange_form(photos, tmp_path):
    from threatexchange.signal_type.pdq.pdq_hasher import pdq_from_bytes

    ok, png = cv2.imencode(".png", photos["coffee"])
    theirs, quality = pdq_from_bytes(png.tobytes())
    ours, our_quality = pdq(photos["coffee"])
    assert to_hex(ours, PDQ_BITS) == theirs and len(theirs) == 64 and our_quality == quality


def test_a_flat_image_has_a_low_quality_pdq():
    assert pdq(np.full((64, 64, 3), 127, np.uint8))[1] < PDQ_MIN_QUALITY


def test_phash_hex_is_imagehash_form(photos):
    import imagehash
    from PIL import Image

    for image in photos.values():
        theirs = str(imagehash.phash(Image.fromarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))))
        assert to_hex(phash(image)) == theirs

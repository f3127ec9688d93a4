"""pHash on real photos: near-duplicates are close, different photos are far."""

import cv2
import matplotlib.cbook
import numpy as np
import pytest
from skimage import data

from app.perceptual import distance, from_hex, phash, to_hex


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

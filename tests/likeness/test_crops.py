"""Aligned face crops kept (sealed) with each template, so a new face model can re-embed them."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import select

from app.models import User
from likeness import crops, services, templates
from likeness.crypto import Keyring, KeyringError
from likeness.faces.align import ALIGNED_SIZE
from likeness.models import FaceCrop, FaceTemplate, FigureFaceTemplate, Permission
from tests.conftest import create_user


def faces(n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, size=(ALIGNED_SIZE, ALIGNED_SIZE, 3), dtype=np.uint8) for _ in range(n)]


@pytest.fixture
def cameo(rt):
    owner = create_user(rt, "face@t.test", handle="face")
    with rt.db.transaction() as s:
        cameo = services.create_cameo(s, s.get(User, owner.id), "Face", Permission.EVERYONE, [])
        row = templates.store(s, templates.keyring(), cameo.id, np.eye(1, 128, dtype=np.float32), "test-model")
        crops.replace(s, templates.keyring(), row, faces(3))
    return owner, cameo.id


def test_the_crop_size_is_the_aligned_face_size():
    assert crops.CROP_SIZE == ALIGNED_SIZE


def test_spread_keeps_the_first_and_the_last_evenly():
    assert crops.spread(list(range(20)), 5) == [0, 5, 10, 14, 19]
    assert crops.spread([1, 2, 3], 8) == [1, 2, 3]


def test_crops_are_sealed_bound_to_their_place_and_open_losslessly(rt, cameo):
    _, cameo_id = cameo
    with rt.db.transaction() as s:
        rows = s.scalars(select(FaceCrop).where(FaceCrop.cameo_id == cameo_id).order_by(FaceCrop.position)).all()
        assert [r.position for r in rows] == [0, 1, 2]
        assert all(crops.encode(face) not in r.ciphertext for face, r in zip(faces(3), rows))
        template = s.get(FaceTemplate, cameo_id)
        opened = crops.load(s, templates.keyring(), template)
        assert all(np.array_equal(a, b) for a, b in zip(opened, faces(3)))
        # A crop moved to another position fails to open: skipped and reported, or raised.
        rows[0].ciphertext, rows[1].ciphertext = rows[1].ciphertext, rows[0].ciphertext
        rows[0].nonce, rows[1].nonce = rows[1].nonce, rows[0].nonce
        s.flush()
        skipped = []
        assert len(crops.load(s, templates.keyring(), template, on_unreadable=lambda r, e: skipped.append(r.id))) == 1
        assert sorted(skipped) == sorted([rows[0].id, rows[1].id])
        with pytest.raises(KeyringError):
            crops.load(s, templates.keyring(), template)


def test_replace_keeps_at_most_max_crops(rt, cameo):
    _, cameo_id = cameo
    with rt.db.transaction() as s:
        template = s.get(FaceTemplate, cameo_id)
        assert crops.replace(s, templates.keyring(), template, faces(20, seed=1)) == crops.MAX_CROPS
        kept = crops.load(s, templates.keyring(), template)
    assert all(np.array_equal(a, b) for a, b in zip(kept, crops.spread(faces(20, seed=1))))


def test_deleting_the_cameo_erases_its_crops(rt, cameo):
    owner, cameo_id = cameo
    with rt.db.transaction() as s:
        services.delete_cameo(s, s.get(User, owner.id), cameo_id)
    with rt.db.transaction() as s:
        assert s.scalars(select(FaceCrop)).all() == []


def test_figure_crops_are_replaced_with_the_figure(rt):
    ring = templates.keyring()
    with rt.db.transaction() as s:
        row = templates.store_figure(s, ring, "grace-hopper", np.eye(1, 128, dtype=np.float32), "m", photos=2)
        crops.replace(s, ring, row, faces(2))
        crops.replace(s, ring, row, faces(1, seed=5))
        assert [(c.figure_id, c.cameo_id, c.aad) for c in s.scalars(select(FaceCrop))] == \
            [("grace-hopper", None, "crop:figure:grace-hopper:0")]
        assert np.array_equal(crops.load(s, ring, s.get(FigureFaceTemplate, "grace-hopper"))[0], faces(1, seed=5)[0])


def test_a_crop_sealed_under_another_keyring_does_not_open(rt, cameo, tmp_path):
    _, cameo_id = cameo
    foreign = Keyring.load_file(tmp_path / "elsewhere" / "template_keys.json")
    assert foreign.active != templates.keyring().active  # key files name their own key
    with rt.db.transaction() as s:
        template = s.get(FaceTemplate, cameo_id)
        crops.replace(s, foreign, template, faces(2))
        with pytest.raises(KeyringError, match="not in the keyring"):
            crops.load(s, templates.keyring(), template)

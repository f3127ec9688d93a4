import base64
import os
import subprocess
import sys

import numpy as np
import pytest
from sqlalchemy import select

from app.models import User
from likeness import crops, services, templates
from likeness.crypto import Keyring, KeyringError
from likeness.models import FaceCrop, FaceTemplate, FigureFaceTemplate, Permission
from tests.conftest import create_user


def unit(n, dim=128, seed=0):
    v = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_seal_and_open_round_trip_bound_to_the_cameo(tmp_path):
    ring = Keyring.load_file(tmp_path / "keys.json")
    vectors = unit(3)
    sealed = ring.seal(vectors, aad="cameo-1")
    assert vectors.tobytes() not in sealed.ciphertext
    assert np.array_equal(ring.open(sealed, "cameo-1", 128), vectors)
    with pytest.raises(KeyringError, match="authentication"):
        ring.open(sealed, "cameo-2", 128)  # moved onto another cameo
    tampered = type(sealed)(sealed.key_id, sealed.nonce, sealed.ciphertext[:-1] + bytes([sealed.ciphertext[-1] ^ 1]))
    with pytest.raises(KeyringError):
        ring.open(tampered, "cameo-1", 128)


def test_key_file_is_private_and_reloadable(tmp_path):
    ring = Keyring.load_file(tmp_path / "keys.json")
    assert oct((tmp_path / "keys.json").stat().st_mode & 0o777) == "0o600"
    again = Keyring.load_file(tmp_path / "keys.json")
    assert again.active == ring.active and again.keys == ring.keys


def test_keys_from_environment(tmp_path):
    k1, k2 = os.urandom(32), os.urandom(32)
    env = {"GL_TEMPLATE_KEYS": f"new:{base64.b64encode(k2).decode()},old:{base64.b64encode(k1).decode()}"}
    ring = Keyring.from_env_or_file(tmp_path, env)
    assert ring.active == "new" and set(ring.keys) == {"new", "old"}
    assert not (tmp_path / "template_keys.json").exists()
    with pytest.raises(KeyringError):
        Keyring.from_env_or_file(tmp_path, {"GL_TEMPLATE_KEYS": "bad:!!!"})
    with pytest.raises(KeyringError):
        Keyring({"short": b"x" * 5}, "short")


@pytest.fixture
def cameo_with_template(rt):
    owner = create_user(rt, "face@t.test", handle="face")
    with rt.db.transaction() as s:
        cameo = services.create_cameo(s, s.get(User, owner.id), "Face", Permission.EVERYONE, [])
        templates.store(s, templates.keyring(), cameo.id, unit(4), "test-model")
    return owner, cameo.id


def test_store_encrypts_and_iterate_decrypts(rt, cameo_with_template):
    _, cameo_id = cameo_with_template
    with rt.db.transaction() as s:
        row = s.get(FaceTemplate, cameo_id)
        assert row.vectors == 4 and row.dim == 128
        assert unit(4).tobytes() not in row.ciphertext
        [(cid, vectors)] = list(templates.iterate(s, templates.keyring()))
    assert cid == cameo_id and np.allclose(vectors, unit(4))


def test_rotation_re_encrypts_every_template_and_retires_the_old_key(rt, cameo_with_template):
    _, cameo_id = cameo_with_template
    env = dict(os.environ, DATABASE_URL=rt.config.database_url, GL_INSTANCE_DIR=str(rt.config.instance_dir))
    env.pop("REDIS_URL", None)
    faces = [np.full((112, 112, 3), shade, np.uint8) for shade in (10, 20, 30)]
    with rt.db.transaction() as s:
        old_key = s.get(FaceTemplate, cameo_id).key_id
        figure = templates.store_figure(s, templates.keyring(), "grace-hopper", unit(3, seed=1), "m", photos=2)
        crops.replace(s, templates.keyring(), s.get(FaceTemplate, cameo_id), faces[:2])
        crops.replace(s, templates.keyring(), figure, faces[2:])
    out = subprocess.run([sys.executable, "-m", "app.cli", "keys", "rotate"], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    ring = templates.keyring()  # re-read: the CLI rewrote the key file
    assert old_key not in ring.keys and ring.active != old_key
    assert f"2 templates and 3 face crops now under key {ring.active}" in out.stdout
    with rt.db.transaction() as s:
        row = s.get(FaceTemplate, cameo_id)
        assert row.key_id == ring.active
        assert np.allclose(templates.load(ring, row), unit(4))
        figure = s.get(FigureFaceTemplate, "grace-hopper")
        assert figure.key_id == ring.active
        assert np.allclose(templates.load(ring, figure), unit(3, seed=1))
        assert {c.key_id for c in s.scalars(select(FaceCrop))} == {ring.active}
        opened = crops.load(s, ring, row) + crops.load(s, ring, figure)
    assert [int(face[0, 0, 0]) for face in opened] == [10, 20, 30]


def test_deleting_a_cameo_erases_its_template(rt, cameo_with_template):
    owner, cameo_id = cameo_with_template
    with rt.db.transaction() as s:
        services.delete_cameo(s, s.get(User, owner.id), cameo_id)
    with rt.db.transaction() as s:
        assert s.get(FaceTemplate, cameo_id) is None
        assert list(templates.iterate(s, templates.keyring())) == []

"""Issue 13, point 11: the face-template key no longer sits in the instance folder beside the
media; it lives in the key folder. A key file an existing deployment has in the old place is moved,
never replaced: every stored template needs it."""

import numpy as np
import pytest

from app.models import User
from likeness import health, services, templates
from likeness.crypto import Keyring, KeyringError
from likeness.models import FaceTemplate, Permission
from tests.conftest import create_user


def test_the_template_key_file_lives_in_the_key_folder(rt):
    ring = templates.keyring()
    path = templates.key_file()
    assert path == rt.config.instance_dir / "keys" / "template_keys.json" and ring.path == path
    assert oct(path.stat().st_mode & 0o777) == "0o600" and oct(path.parent.stat().st_mode & 0o777) == "0o700"
    assert not (rt.config.instance_dir / "template_keys.json").exists()


def test_an_old_deployments_key_file_is_moved_and_its_templates_still_open(rt):
    legacy = Keyring.load_file(rt.config.instance_dir / "template_keys.json")  # where it used to be
    owner = create_user(rt, "face@t.test", handle="face")
    vectors = np.eye(1, 128, dtype=np.float32)
    with rt.db.transaction() as s:
        cameo = services.create_cameo(s, s.get(User, owner.id), "Face", Permission.EVERYONE, [])
        row = FaceTemplate(cameo_id=cameo.id)
        sealed = legacy.seal(vectors, row.aad)  # sealed by the old deployment
        row.key_id, row.nonce, row.ciphertext = sealed.key_id, sealed.nonce, sealed.ciphertext
        row.dim, row.vectors, row.model_version = 128, 1, "test-model"
        s.add(row)
    ring = templates.keyring()
    assert ring.keys == legacy.keys and ring.active == legacy.active
    assert not (rt.config.instance_dir / "template_keys.json").exists()
    assert templates.key_file().parent == rt.config.instance_dir / "keys"
    with rt.db.transaction() as s:
        assert np.allclose(templates.load(ring, s.get(FaceTemplate, cameo.id)), vectors)


def test_two_different_key_files_stop_with_an_error_and_both_are_kept(rt):
    new = templates.keyring()
    old = Keyring.load_file(rt.config.instance_dir / "template_keys.json")
    assert old.active != new.active
    with pytest.raises(KeyringError, match="two different key files"):
        templates.key_file()
    assert "two different key files" in health.startup_problems(rt)[0]  # serve/worker/up refuse to start
    assert (rt.config.instance_dir / "template_keys.json").exists() and new.path.exists()


def test_gl_keys_dir_holds_the_template_key(rt, tmp_path, monkeypatch):
    monkeypatch.setenv("GL_KEYS_DIR", str(tmp_path / "vault"))
    assert templates.keyring().path == tmp_path / "vault" / "template_keys.json"

"""The likeness start-up check (stored faces sealed under keys the keyring lacks stop start-up)
and `greenlight likeness check`."""

from __future__ import annotations

import base64
import os
import subprocess
import sys

import numpy as np
import pytest
from sqlalchemy import select

from app import domains
from app.models import User
from likeness import crops, services, templates
from likeness.crypto import Keyring
from likeness.models import FaceCrop, FaceTemplate, Permission
from tests.conftest import create_user


def enrol(rt, ring: Keyring, email: str) -> str:
    """A cameo with a template and two face crops sealed under `ring`."""
    owner = create_user(rt, email, handle=email.split("@")[0])
    with rt.db.transaction() as s:
        cameo = services.create_cameo(s, s.get(User, owner.id), "Face", Permission.EVERYONE, [])
        row = templates.store(s, ring, cameo.id, np.eye(1, 128, dtype=np.float32), "test-model")
        crops.replace(s, ring, row, [np.zeros((112, 112, 3), np.uint8)] * 2)
    return cameo.id


def likeness_problems(rt) -> list[str]:
    """What the registered likeness check adds to the start-up problems of every domain."""
    return [p for p in domains.startup_problems(rt) if "template key" in p or "keyring" in p]


def test_nothing_stored_nothing_to_check_and_no_key_file_made(rt):
    assert likeness_problems(rt) == []
    assert not templates.key_file().exists()


def test_faces_sealed_with_this_keyring_pass(rt):
    enrol(rt, templates.keyring(), "ann@t.test")
    assert likeness_problems(rt) == []


def test_faces_sealed_by_another_instance_folders_key_file_stop_start_up(rt, tmp_path):
    held = templates.keyring().active
    foreign = Keyring.load_file(tmp_path / "elsewhere" / "template_keys.json")
    enrol(rt, foreign, "ann@t.test")
    [problem] = likeness_problems(rt)
    assert f"found {foreign.active} (2 face_crops, 1 face_templates)" in problem
    assert f"{templates.key_file()} holds {held}" in problem and f"missing {foreign.active}" in problem
    assert f"GL_INSTANCE_DIR, now {rt.config.instance_dir}" in problem and "GL_TEMPLATE_KEYS" in problem


def test_the_missing_key_given_in_gl_template_keys_fixes_it(rt, tmp_path, monkeypatch):
    foreign = Keyring.load_file(tmp_path / "elsewhere" / "template_keys.json")
    cameo_id = enrol(rt, foreign, "ann@t.test")
    monkeypatch.setenv("GL_TEMPLATE_KEYS", f"{foreign.active}:{base64.b64encode(foreign.keys[foreign.active]).decode()}")
    assert likeness_problems(rt) == []
    with rt.db.transaction() as s:
        assert templates.load(templates.keyring(), s.get(FaceTemplate, cameo_id)).shape == (1, 128)


def test_a_different_key_under_the_same_id_is_caught_too(rt, tmp_path):
    """Key files written before key ids were unique all called their key k1."""
    Keyring({"k1": os.urandom(32)}, "k1", templates.key_file()).save()
    enrol(rt, Keyring({"k1": os.urandom(32)}, "k1"), "ann@t.test")
    [problem] = likeness_problems(rt)
    assert "template key k1 of" in problem and "does not open the face_templates sealed under k1" in problem


def test_stored_faces_without_any_keyring_stop_start_up_and_make_no_key(rt):
    enrol(rt, templates.keyring(), "ann@t.test")
    templates.key_file().unlink()
    [problem] = likeness_problems(rt)
    assert "there is no keyring" in problem and str(templates.key_file()) in problem
    assert not templates.key_file().exists()


def gl_check(rt):
    env = dict(os.environ, DATABASE_URL=rt.config.database_url, GL_INSTANCE_DIR=str(rt.config.instance_dir))
    env.pop("REDIS_URL", None)
    return subprocess.run([sys.executable, "-m", "app.cli", "likeness", "check"], env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.slow
def test_the_check_command_opens_every_row_and_names_what_does_not_open(rt, models):
    cameo_id = enrol(rt, templates.keyring(), "ann@t.test")
    with rt.db.transaction() as s:  # under the current face model, as an enrolment now stores it
        s.get(FaceTemplate, cameo_id).model_version = models.version
    out = gl_check(rt)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"face_templates: 1 under {models.version} (current)" in out.stdout
    assert "face crops: 2 of cameos, 0 of figures" in out.stdout
    # One crop tampered with: named (table, owner#position, key), exit 1; the start-up check samples
    # one row per key and table, so it is this full check that finds a single bad row.
    with rt.db.transaction() as s:
        row = s.scalars(select(FaceCrop).where(FaceCrop.position == 1)).one()
        row.ciphertext = bytes([row.ciphertext[0] ^ 1]) + row.ciphertext[1:]
    out = gl_check(rt)
    assert out.returncode == 1
    assert f"unreadable: face_crops {cameo_id}#1 (key {templates.keyring().active})" in out.stderr


def test_serve_refuses_to_start_over_faces_sealed_in_another_instance_folder(tmp_path):
    """The operator's view: `greenlight serve` from an instance folder whose keyring lacks the key
    the stored faces were sealed with stops before serving, naming the key."""
    from dataclasses import replace

    from app import runtime
    from app.config import Config
    from tests.app.test_cli import gl

    gl(tmp_path, "db", "upgrade")
    elsewhere = replace(Config.from_env(env={}), instance_dir=tmp_path / "elsewhere", media_dir=tmp_path / "media",
                        database_url=f"sqlite:///{tmp_path / 'cli.db'}", redis_url=None, secret_key="test")
    rt = runtime.configure(elsewhere)
    try:
        foreign = Keyring.load_file(tmp_path / "elsewhere" / "template_keys.json")
        enrol(rt, foreign, "ann@t.test")
    finally:
        runtime.reset()
    result = gl(tmp_path, "serve", "--port", "0", check=False)  # its instance folder is tmp_path/inst
    assert result.returncode == 1 and "greenlight will not start" in result.stderr
    assert foreign.active in result.stderr and "GL_INSTANCE_DIR" in result.stderr

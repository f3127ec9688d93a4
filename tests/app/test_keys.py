"""Issue 13, point 11 (keys): key files live in their own folder (GL_KEYS_DIR, default
<instance>/keys, mode 700, files 600), apart from the media, or come from the environment; an
existing key is only ever read."""

import base64
import os

import pytest

from app import keys


def test_a_key_is_created_once_private_in_the_key_folder(tmp_path):
    instance = tmp_path / "instance"
    first = keys.secret("demo.key", instance, env_var="GL_CHAIN_KEY")
    folder = instance / "keys"
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    assert oct((folder / "demo.key").stat().st_mode & 0o777) == "0o600"
    assert keys.secret("demo.key", instance, env_var="GL_CHAIN_KEY") == first and len(first) == 32


def test_gl_keys_dir_puts_the_folder_elsewhere(tmp_path, monkeypatch):
    monkeypatch.setenv("GL_KEYS_DIR", str(tmp_path / "vault"))
    keys.secret("demo.key", tmp_path / "instance", env_var="GL_CHAIN_KEY")
    assert (tmp_path / "vault" / "demo.key").exists() and not (tmp_path / "instance" / "keys").exists()


def test_a_key_from_the_environment_writes_no_file(tmp_path, monkeypatch):
    raw = os.urandom(32)
    monkeypatch.setenv("GL_CHAIN_KEY", base64.b64encode(raw).decode())
    assert keys.secret("demo.key", tmp_path, env_var="GL_CHAIN_KEY") == raw
    assert not (tmp_path / "keys").exists()
    monkeypatch.setenv("GL_CHAIN_KEY", base64.b64encode(b"short").decode())
    with pytest.raises(keys.KeysError, match="GL_CHAIN_KEY: the key must be 32 bytes"):
        keys.secret("demo.key", tmp_path, env_var="GL_CHAIN_KEY")


def test_an_unreadable_key_file_is_an_error_never_replaced(tmp_path):
    path = tmp_path / "keys" / "demo.key"
    path.parent.mkdir()
    path.write_text("not a key")
    with pytest.raises(keys.KeysError, match="not base64"):
        keys.secret("demo.key", tmp_path, env_var="GL_CHAIN_KEY")
    assert path.read_text() == "not a key"


def test_without_create_a_missing_key_is_none(tmp_path):
    assert keys.secret("demo.key", tmp_path, env_var="GL_CHAIN_KEY", create=False) is None
    assert not (tmp_path / "keys" / "demo.key").exists()

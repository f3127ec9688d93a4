"""Media, uploads and the instance folder are private (issue 13, point 11): files 0600 under 0700
folders whatever the process umask (uploads were 0644, world-readable)."""

import io
import os
import stat

import pytest
from PIL import Image

from app import runtime
from app.storage import LocalMediaStorage, private_dir
from app.factory import create_app
from tests.conftest import Api, create_user, drain, token_for


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def open_umask():
    """The most permissive umask: any mode that is not set explicitly shows."""
    old = os.umask(0)
    yield
    os.umask(old)


def test_private_dir_and_put_bytes_ignore_the_umask(tmp_path, open_umask):
    root = tmp_path / "a" / "b"
    assert mode(private_dir(root)) == 0o700 and mode(tmp_path / "a") == 0o700
    storage = LocalMediaStorage(root)
    path = storage.put_bytes("references/x/y.png", b"data")
    assert path.read_bytes() == b"data" and mode(path) == 0o600
    assert mode(root / "references") == 0o700 and mode(root / "references" / "x") == 0o700
    assert not list(root.rglob("*.part"))
    # An existing file of a wider mode is replaced by a private one, and an existing folder tightened.
    os.chmod(path, 0o644)
    os.chmod(root, 0o755)
    assert mode(storage.put_bytes("references/x/y.png", b"new")) == 0o600
    assert mode(private_dir(root)) == 0o700


def test_uploads_and_renders_are_0600_in_0700_folders(open_umask, config):
    rt = runtime.configure(config)
    try:
        assert mode(config.instance_dir) == 0o700 and mode(config.media_dir) == 0o700
        app = create_app()
        app.testing = True
        user = create_user(rt, "alice@t.test", handle="alice")
        api = Api(app.test_client(), token_for(rt, user))
        buf = io.BytesIO()
        Image.new("RGB", (64, 64), (200, 40, 40)).save(buf, "PNG")
        resp = api.post("/api/v1/uploads/images", data=buf.getvalue(), headers={"Content-Type": "image/png"})
        assert resp.status_code == 201, resp.get_data(as_text=True)
        uploaded = [p for p in config.media_dir.rglob("*") if p.is_file()]
        assert uploaded and all(mode(p) == 0o600 for p in uploaded)
        resp = api.post("/api/v1/generations", json={"prompt": "a blue ring spinning"})
        assert resp.status_code == 201, resp.get_data(as_text=True)
        drain(rt)
        gen = api.get(f"/api/v1/generations/{resp.get_json()['id']}").get_json()
        assert gen["media_url"], gen
        files = [p for p in config.media_dir.rglob("*") if p.is_file()]
        assert any(p.suffix == ".mp4" for p in files)
        assert {p.name: mode(p) for p in files} == {p.name: 0o600 for p in files}
        folders = [folder for root in (config.instance_dir, config.media_dir)
                   for folder in (root, *(p for p in root.rglob("*") if p.is_dir()))]
        assert {str(p): mode(p) for p in folders} == {str(p): 0o700 for p in folders}
    finally:
        runtime.reset()

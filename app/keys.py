"""Secret keys kept outside the database and apart from the media: one folder, `GL_KEYS_DIR`
(default `<instance>/keys`, mode 700, each key file 600), or a key given in the environment.

A key that exists is only ever read, never replaced: losing the face-template key would make every
stored template unreadable, losing the chain key every audit row unverifiable. A key file that an
older version kept elsewhere (the template keys in the instance folder) is moved here on first use.
"""

from __future__ import annotations

import base64
import os
import secrets
import shutil
from pathlib import Path

from app.config import setting


class KeysError(RuntimeError):
    pass


def keys_dir(instance_dir: Path) -> Path:
    """GL_KEYS_DIR, else `<instance>/keys` (read now, so a test or an operator's restart sees a change)."""
    return (setting("GL_KEYS_DIR") or Path(instance_dir) / "keys").resolve()


def ensure_dir(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)  # mkdir's mode is masked by the umask, and an existing folder keeps its own
    return path


def key_file(name: str, instance_dir: Path, legacy: Path | None = None) -> Path:
    """Where the key file `name` lives. A file still at `legacy` (where an older version kept it) is
    moved here first; when both exist and differ nothing is chosen silently: it is an error."""
    path = keys_dir(instance_dir) / name
    if legacy is None or not legacy.exists() or legacy.resolve() == path:
        return path
    if path.exists():
        if path.read_bytes() != legacy.read_bytes():
            raise KeysError(f"two different key files: {legacy} (the old place) and {path}; keep the one that "
                            f"sealed the stored data in {path} and remove the other")
        legacy.unlink()
        return path
    ensure_dir(path.parent)
    tmp = path.with_name(path.name + ".moving")
    shutil.copyfile(legacy, tmp)  # copy, then rename, then remove: a crash leaves the key in one place at least
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    legacy.unlink()
    return path


def write_new(path: Path, data: bytes) -> bool:
    """Create `path` (mode 600) holding `data`; False, and nothing written, when it already exists."""
    ensure_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return True


def secret(name: str, instance_dir: Path, *, env_var: str, size: int = 32, create: bool = True) -> bytes | None:
    """The `size`-byte key `name`: base64 in the variable `env_var` when set, else the key file
    `<keys>/<name>` (base64), created on first use when `create`; None when absent and not created."""
    configured = setting(env_var)
    if configured:
        return _decode(configured, size, env_var)
    path = key_file(name, instance_dir)
    if not path.exists():
        if not create:
            return None
        write_new(path, base64.b64encode(secrets.token_bytes(size)) + b"\n")  # a racing process's key wins
    return _decode(path.read_text(), size, str(path))


def _decode(text: str, size: int, where: str) -> bytes:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except ValueError:
        raise KeysError(f"{where}: the key is not base64") from None
    if len(raw) != size:
        raise KeysError(f"{where}: the key must be {size} bytes, it is {len(raw)}")
    return raw

"""Media storage: a local directory by default (an object store would sit behind the same methods).

Media and uploads are people's faces and videos: files are 0600 under 0700 folders, set
explicitly rather than left to the process umask (a default umask of 022 made them world-readable).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

_SAFE_KEY = re.compile(r"^[A-Za-z0-9_\-]+(/[A-Za-z0-9_\-.]+)*$")
FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: Path) -> Path:
    """`path` as a 0700 folder, with any parents it had to create 0700 too (an existing `path` is
    tightened: it is ours; existing parents are not)."""
    path = Path(path)
    created, probe = [], path
    while not probe.exists():
        created.append(probe)
        probe = probe.parent
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    for folder in (*created, path):
        os.chmod(folder, DIR_MODE)  # mkdir's mode is masked by the umask; chmod is not
    return path


def private_file(path: Path) -> Path:
    os.chmod(path, FILE_MODE)
    return path


class LocalMediaStorage:
    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, key: str) -> Path:
        if not _SAFE_KEY.match(key) or ".." in key:
            raise ValueError(f"unsafe media key {key!r}")
        return self.root / key

    def staging_path(self, key: str) -> Path:
        """The target a writer builds next to, in a partial file `.<name>.<random>.part` in the same
        folder, before `os.replace` moves it into place atomically. A writer killed part-way leaves
        its partial file behind: `partial_files` finds those."""
        path = self.path(key)
        private_dir(path.parent)
        return path

    def make_private(self, key: str) -> Path:
        """A file a writer (the renderer) put in place: 0600 whatever the umask it ran under."""
        return private_file(self.path(key))

    def put_bytes(self, key: str, data: bytes) -> Path:
        """Write `data` under `key` atomically, 0600 from its first byte."""
        target = self.staging_path(key)
        part = target.with_name(target.name + ".part")
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        try:
            os.fchmod(fd, FILE_MODE)  # O_CREAT's mode is masked by the umask; an old .part kept its mode
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(part, target)
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        return target

    def put_file(self, key: str, source: Path) -> Path:
        return self.put_bytes(key, Path(source).read_bytes())

    def partial_files(self, folder: str) -> list[tuple[str, Path]]:
        """(key of the target, partial file) for every partial file under `folder`."""
        found = []
        for part in sorted((self.root / folder).glob(".*.part")):
            name = part.name[1:-len(".part")].rsplit(".", 1)[0]  # `.<name>.<random>.part` -> name
            found.append((f"{folder}/{name}", part))
        return found

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def delete(self, key: str) -> bool:
        try:
            os.remove(self.path(key))
            return True
        except FileNotFoundError:
            return False

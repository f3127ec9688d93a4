"""Media storage: a local directory by default (an object store would sit behind the same methods)."""

from __future__ import annotations

import os
import re
from pathlib import Path

_SAFE_KEY = re.compile(r"^[A-Za-z0-9_\-]+(/[A-Za-z0-9_\-.]+)*$")


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
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

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

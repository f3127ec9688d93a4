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
        """Where a writer builds the file before `os.replace` moves it into place atomically."""
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def delete(self, key: str) -> bool:
        try:
            os.remove(self.path(key))
            return True
        except FileNotFoundError:
            return False

"""File facts shared by the domains."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator


def sha256_of(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks (model weights run to hundreds of MB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def json_lines(path: str | os.PathLike[str], error: type[Exception]) -> Iterator[tuple[int, dict]]:
    """(line number, object) for each non-blank line of a JSON-lines file; `error` naming the file
    and line for one that is not a JSON object."""
    with open(path, encoding="utf-8") as handle:
        for n, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise error(f"{path}:{n}: not JSON ({exc})") from exc
            if not isinstance(row, dict):
                raise error(f"{path}:{n}: not a JSON object")
            yield n, row

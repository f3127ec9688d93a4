"""Face templates and face crops encrypted at rest: AES-256-GCM, keys from the environment or a key file.

Keys: GL_TEMPLATE_KEYS="kid:base64key[,kid:base64key...]" (the first is active), else
`<keys>/template_keys.json` (mode 600, in GL_KEYS_DIR: app/keys.py), created on first use with a key id of its own
(`k1-<random>`), so templates sealed by a key file made in another instance folder name a key
this keyring does not hold. The owner (cameo id, figure id, crop position) is bound into each
ciphertext as associated data, so a sealed value copied onto another owner fails to decrypt.
Rotation re-encrypts every sealed value under the active key (`greenlight keys rotate`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app import keys as key_files
from app.config import setting

KEY_BYTES = 32
NONCE_BYTES = 12

R = TypeVar("R")
T = TypeVar("T")


class KeyringError(RuntimeError):
    pass


def configured_keys(env: dict[str, str] | None = None) -> str:
    """GL_TEMPLATE_KEYS as set ("" when unset): the one place the keys are read from the environment."""
    return setting("GL_TEMPLATE_KEYS", env) or ""


@dataclass(frozen=True)
class Sealed:
    key_id: str
    nonce: bytes
    ciphertext: bytes

    @classmethod
    def of(cls, row: Any) -> "Sealed":
        """What a stored row (a template, a face crop) holds."""
        return cls(row.key_id, row.nonce, row.ciphertext)


def opened(rows: Iterable[R], open_row: Callable[[R], T],
           on_unreadable: Callable[[R, KeyringError], None] | None = None) -> Iterator[tuple[R, T]]:
    """(row, open_row(row)) for each row. A row that does not open goes to `on_unreadable` and is
    skipped, so one bad row leaves the others usable; without a callback the error is raised."""
    for row in rows:
        try:
            value = open_row(row)
        except KeyringError as exc:
            if on_unreadable is None:
                raise
            on_unreadable(row, exc)
            continue
        yield row, value


class Keyring:
    def __init__(self, keys: dict[str, bytes], active: str, path: Path | None = None):
        if active not in keys:
            raise KeyringError(f"active key {active!r} is not in the keyring")
        for kid, key in keys.items():
            if len(key) != KEY_BYTES:
                raise KeyringError(f"template key {kid!r} must be {KEY_BYTES} bytes")
        self.keys, self.active, self.path = dict(keys), active, path

    @classmethod
    def from_env_or_file(cls, key_file: Path, env: dict[str, str] | None = None) -> "Keyring":
        spec = configured_keys(env)
        if spec:
            keys: dict[str, bytes] = {}
            for part in spec.split(","):
                kid, _, b64 = part.strip().partition(":")
                try:
                    keys[kid] = base64.b64decode(b64, validate=True)
                except ValueError as exc:
                    raise KeyringError(f"GL_TEMPLATE_KEYS: key {kid!r} is not base64") from exc
            return cls(keys, next(iter(keys)))
        return cls.load_file(Path(key_file))

    @classmethod
    def load_file(cls, path: Path) -> "Keyring":
        if not path.exists():
            kid = f"k1-{secrets.token_hex(3)}"
            ring = cls({kid: secrets.token_bytes(KEY_BYTES)}, kid, path)
            ring.save()
            return ring
        raw = json.loads(path.read_text())
        return cls({k: base64.b64decode(v) for k, v in raw["keys"].items()}, raw["active"], path)

    def save(self) -> None:
        if self.path is None:
            raise KeyringError("keys come from GL_TEMPLATE_KEYS: change that variable to rotate")
        key_files.ensure_dir(self.path.parent)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({"active": self.active,
                       "keys": {k: base64.b64encode(v).decode() for k, v in self.keys.items()}}, fh)
        os.replace(tmp, self.path)

    def add_active_key(self) -> str:
        kid = f"k{len(self.keys) + 1}-{secrets.token_hex(3)}"
        self.keys[kid] = secrets.token_bytes(KEY_BYTES)
        self.active = kid
        return kid

    def retire_all_but_active(self) -> None:
        self.keys = {self.active: self.keys[self.active]}

    @property
    def source(self) -> str:
        """Where the keys come from, for messages: the key file's path or the variable."""
        return str(self.path) if self.path is not None else "GL_TEMPLATE_KEYS"

    @property
    def fingerprint(self) -> str:
        """Changes whenever any key does (a cache of decrypted templates is stale then); reveals no key."""
        digest = hashlib.sha256()
        for kid in sorted(self.keys):
            digest.update(kid.encode() + b"\0" + self.keys[kid])
        return digest.hexdigest()[:16]

    def seal_bytes(self, data: bytes, aad: str) -> Sealed:
        nonce = secrets.token_bytes(NONCE_BYTES)
        return Sealed(self.active, nonce, AESGCM(self.keys[self.active]).encrypt(nonce, data, aad.encode()))

    def open_bytes(self, sealed: Sealed, aad: str) -> bytes:
        key = self.keys.get(sealed.key_id)
        if key is None:
            raise KeyringError(f"template key {sealed.key_id!r} is not in the keyring")
        try:
            return AESGCM(key).decrypt(sealed.nonce, sealed.ciphertext, aad.encode())
        except InvalidTag as exc:
            raise KeyringError("template failed authentication (wrong key, wrong cameo or tampered)") from exc

    def seal(self, vectors: np.ndarray, aad: str) -> Sealed:
        return self.seal_bytes(np.ascontiguousarray(vectors, dtype="<f4").tobytes(), aad)

    def open(self, sealed: Sealed, aad: str, dim: int) -> np.ndarray:
        return np.frombuffer(self.open_bytes(sealed, aad), dtype="<f4").reshape(-1, dim).copy()

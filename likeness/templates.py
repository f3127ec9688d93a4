"""Encrypted face templates: store, load, iterate, rotate keys. Plain vectors never touch the DB."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import audit, runtime
from likeness.crypto import Keyring, Sealed
from likeness.models import FaceTemplate


@lru_cache(maxsize=4)
def _keyring_for(instance_dir: str, file_stamp: int) -> Keyring:
    return Keyring.from_env_or_file(Path(instance_dir))


def keyring() -> Keyring:
    """The process keyring, re-read when `greenlight keys rotate` (another process) rewrote the file."""
    instance = runtime.current().config.instance_dir
    key_file = instance / "template_keys.json"
    return _keyring_for(str(instance), key_file.stat().st_mtime_ns if key_file.exists() else 0)


def store(session: Session, ring: Keyring, cameo_id: str, vectors: np.ndarray, model_version: str) -> FaceTemplate:
    vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
    sealed = ring.seal(vectors, aad=cameo_id)
    row = session.get(FaceTemplate, cameo_id) or FaceTemplate(cameo_id=cameo_id)
    row.key_id, row.nonce, row.ciphertext = sealed.key_id, sealed.nonce, sealed.ciphertext
    row.dim, row.vectors, row.model_version = vectors.shape[1], vectors.shape[0], model_version
    session.add(row)
    session.flush()
    return row


def load(ring: Keyring, row: FaceTemplate) -> np.ndarray:
    return ring.open(Sealed(row.key_id, row.nonce, row.ciphertext), aad=row.cameo_id, dim=row.dim)


def iterate(session: Session, ring: Keyring, model_version: str | None = None) -> Iterator[tuple[str, np.ndarray]]:
    stmt = select(FaceTemplate).order_by(FaceTemplate.cameo_id)
    if model_version is not None:
        stmt = stmt.where(FaceTemplate.model_version == model_version)
    for row in session.scalars(stmt).yield_per(500):
        yield row.cameo_id, load(ring, row)


def rotate(session: Session, ring: Keyring, *, new_key: bool, progress=None) -> int:
    """Re-encrypt every template under the active key (after adding a new one if `new_key`).
    Old keys are dropped from a file keyring only once every template has moved."""
    if new_key:
        ring.add_active_key()
        ring.save()  # the new key is on disk before any template depends on it
    rows = list(session.scalars(select(FaceTemplate)))
    for i, row in enumerate(rows, 1):
        if row.key_id != ring.active:
            vectors = load(ring, row)
            sealed = ring.seal(vectors, aad=row.cameo_id)
            row.key_id, row.nonce, row.ciphertext = sealed.key_id, sealed.nonce, sealed.ciphertext
        if progress:
            progress(i, len(rows))
    audit.record(session, actor="system:cli", action="templates.rekeyed", object_type="keyring",
                 object_id=ring.active, after={"templates": len(rows)})
    return len(rows)

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
from app.db import utcnow
from likeness.models import FaceTemplate, FigureFaceTemplate


@lru_cache(maxsize=4)
def _keyring_for(instance_dir: str, file_stamp: int) -> Keyring:
    return Keyring.from_env_or_file(Path(instance_dir))


def keyring() -> Keyring:
    """The process keyring, re-read when `greenlight keys rotate` (another process) rewrote the file."""
    instance = runtime.current().config.instance_dir
    key_file = instance / "template_keys.json"
    return _keyring_for(str(instance), key_file.stat().st_mtime_ns if key_file.exists() else 0)


Template = FaceTemplate | FigureFaceTemplate


def _seal_into(row: Template, ring: Keyring, vectors: np.ndarray, model_version: str) -> None:
    sealed = ring.seal(vectors, aad=row.aad)
    row.key_id, row.nonce, row.ciphertext = sealed.key_id, sealed.nonce, sealed.ciphertext
    row.dim, row.vectors, row.model_version = vectors.shape[1], vectors.shape[0], model_version


def store(session: Session, ring: Keyring, cameo_id: str, vectors: np.ndarray, model_version: str) -> FaceTemplate:
    vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
    row = session.get(FaceTemplate, cameo_id) or FaceTemplate(cameo_id=cameo_id)
    _seal_into(row, ring, vectors, model_version)
    session.add(row)
    session.flush()
    return row


def store_figure(session: Session, ring: Keyring, figure_id: str, vectors: np.ndarray, model_version: str,
                 photos: int) -> FigureFaceTemplate:
    vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
    row = session.get(FigureFaceTemplate, figure_id) or FigureFaceTemplate(figure_id=figure_id)
    _seal_into(row, ring, vectors, model_version)
    row.photos, row.created_at = photos, utcnow()
    session.add(row)
    session.flush()
    return row


def load(ring: Keyring, row: Template) -> np.ndarray:
    return ring.open(Sealed(row.key_id, row.nonce, row.ciphertext), aad=row.aad, dim=row.dim)


def iterate(session: Session, ring: Keyring, model_version: str | None = None,
            table: type[Template] = FaceTemplate) -> Iterator[tuple[str, np.ndarray]]:
    """(cameo id or figure id, vectors) for every template of `table` made by `model_version`."""
    stmt = select(table).order_by(*table.__table__.primary_key.columns)
    if model_version is not None:
        stmt = stmt.where(table.model_version == model_version)
    for row in session.scalars(stmt).yield_per(500):
        yield row.key, load(ring, row)


def rotate(session: Session, ring: Keyring, *, new_key: bool, progress=None) -> int:
    """Re-encrypt every template under the active key (after adding a new one if `new_key`).
    Old keys are dropped from a file keyring only once every template has moved."""
    if new_key:
        ring.add_active_key()
        ring.save()  # the new key is on disk before any template depends on it
    rows: list[Template] = [*session.scalars(select(FaceTemplate)), *session.scalars(select(FigureFaceTemplate))]
    for i, row in enumerate(rows, 1):
        if row.key_id != ring.active:
            vectors = load(ring, row)
            sealed = ring.seal(vectors, aad=row.aad)
            row.key_id, row.nonce, row.ciphertext = sealed.key_id, sealed.nonce, sealed.ciphertext
        if progress:
            progress(i, len(rows))
    audit.record(session, actor="system:cli", action="templates.rekeyed", object_type="keyring",
                 object_id=ring.active, after={"templates": len(rows)})
    return len(rows)

"""Encrypted face templates: store, load, iterate, erase, rotate keys. Plain vectors never touch the DB."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import audit, keys, runtime
from app.db import utcnow
from likeness import crops
from likeness.crypto import Keyring, KeyringError, Sealed, configured_keys, opened
from likeness.models import FaceCrop, FaceTemplate, FigureFaceTemplate, Template

__all__ = ["SEALED_TABLES", "Template", "batches", "erase_cameo", "existing_keyring", "iterate", "key_file",
           "keyring", "load", "rotate", "store", "store_figure"]

# Every table whose rows are sealed with the template keyring.
SEALED_TABLES: tuple[type[FaceTemplate] | type[FigureFaceTemplate] | type[FaceCrop], ...] = (
    FaceTemplate, FigureFaceTemplate, FaceCrop)


@lru_cache(maxsize=4)
def _keyring_for(key_file: str, file_stamp: int, env_keys: str) -> Keyring:
    return Keyring.from_env_or_file(Path(key_file), {"GL_TEMPLATE_KEYS": env_keys})


def key_file(instance_dir: Path | None = None) -> Path:
    """`<keys>/template_keys.json`; a key file an older version left in the instance folder is moved
    there first (never replaced by a new key: every stored template needs it)."""
    instance_dir = instance_dir or runtime.current().config.instance_dir
    try:
        return keys.key_file("template_keys.json", instance_dir, legacy=Path(instance_dir) / "template_keys.json")
    except keys.KeysError as exc:  # as a keyring problem: the start-up check and `likeness check` report those
        raise KeyringError(str(exc)) from None


def keyring(instance_dir: Path | None = None) -> Keyring:
    """The process keyring, re-read when `greenlight keys rotate` (another process) rewrote the file
    or GL_TEMPLATE_KEYS changed."""
    path = key_file(instance_dir)
    return _keyring_for(str(path), path.stat().st_mtime_ns if path.exists() else 0, configured_keys())


def existing_keyring(instance_dir: Path | None = None) -> Keyring | None:
    """The keyring if one is configured, without creating a key file (a check must not make the
    very key that would then seal new templates beside unreadable old ones)."""
    if not configured_keys() and not key_file(instance_dir).exists():
        return None
    return keyring(instance_dir)


def _seal_into(row: Template, ring: Keyring, vectors: np.ndarray, model_version: str) -> None:
    s = ring.seal(vectors, aad=row.aad)
    row.key_id, row.nonce, row.ciphertext = s.key_id, s.nonce, s.ciphertext
    row.dim, row.vectors, row.model_version = vectors.shape[1], vectors.shape[0], model_version
    row.created_at = utcnow()  # a new template: the matchers' change stamp sees it


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
    row.photos = photos
    session.add(row)
    session.flush()
    return row


def load(ring: Keyring, row: Template) -> np.ndarray:
    return ring.open(Sealed.of(row), aad=row.aad, dim=row.dim)


def iterate(session: Session, ring: Keyring, model_version: str | None = None,
            table: type[Template] = FaceTemplate,
            on_unreadable: Callable[[Template, KeyringError], None] | None = None) -> Iterator[tuple[str, np.ndarray]]:
    """(cameo id or figure id, vectors) for every template of `table` made by `model_version`.
    A template that cannot be opened is passed to `on_unreadable` and skipped (raised when no
    callback is given): one bad row must not take every other person out of the index."""
    stmt = select(table).order_by(*table.__table__.primary_key.columns)
    if model_version is not None:
        stmt = stmt.where(table.model_version == model_version)
    for row, vectors in opened(session.scalars(stmt).yield_per(500), lambda row: load(ring, row), on_unreadable):
        yield row.key, vectors


def erase_cameo(session: Session, cameo_id: str) -> bool:
    """Delete the cameo's template and its face crops (biometric data goes with the cameo)."""
    template = session.get(FaceTemplate, cameo_id)
    if template is None:
        return False
    crops.erase(session, template)
    session.delete(template)
    session.flush()
    return True


def batches(session: Session, table, size: int = 500) -> Iterator[list]:
    """Every row of `table`, a batch at a time, so a large table is never held in memory at once."""
    key = table.__table__.primary_key.columns[0]
    ids = list(session.scalars(select(key).order_by(key)))
    for start in range(0, len(ids), size):
        yield list(session.scalars(select(table).where(key.in_(ids[start:start + size]))))


def rotate(session: Session, ring: Keyring, *, new_key: bool, progress=None) -> dict[str, int]:
    """Re-encrypt every template and face crop under the active key (after adding a new one if
    `new_key`); returns how many of each. Old keys are dropped from a file keyring only once
    every row has moved."""
    if new_key:
        ring.add_active_key()
        ring.save()  # the new key is on disk before any row depends on it
    total = sum(session.scalar(select(func.count()).select_from(t)) for t in SEALED_TABLES)
    done, counts = 0, {"templates": 0, "crops": 0}
    for table in SEALED_TABLES:
        for batch in batches(session, table):
            for row in batch:
                if row.key_id != ring.active:
                    s = ring.seal_bytes(ring.open_bytes(Sealed.of(row), aad=row.aad), aad=row.aad)
                    row.key_id, row.nonce, row.ciphertext = s.key_id, s.nonce, s.ciphertext
                done += 1
                counts["crops" if table is FaceCrop else "templates"] += 1
                if progress:
                    progress(done, total)
            session.flush()
            session.expunge_all()  # keep memory flat on large tables
    audit.record(session, actor="system:cli", action="templates.rekeyed", object_type="keyring",
                 object_id=ring.active, after=counts)
    return counts

"""Which enrolled cameo is this face? A process-wide 1:N index over the decrypted templates.

The index is rebuilt from the encrypted templates whenever they change (a cheap count/latest
check per lookup), so an API process that enrols and a worker that scans agree without talking
to each other. Only templates made by the loaded face model are comparable, so only they are
indexed. GL_FACE_INDEX picks the structure: `exact` (default) or `faiss` for large galleries.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from likeness import templates
from likeness.faces import FaceModels
from likeness.index import FaceIndex, Hit, make_index
from likeness.models import FaceTemplate


@dataclass(frozen=True)
class _Stamp:
    model_version: str
    count: int
    latest: object


class CameoMatcher:
    def __init__(self, kind: str | None = None):
        self.kind = kind or os.environ.get("GL_FACE_INDEX", "exact")
        self._index: FaceIndex | None = None
        self._stamp: _Stamp | None = None
        self._lock = threading.Lock()

    def _current_stamp(self, session: Session, models: FaceModels) -> _Stamp:
        count, latest = session.execute(
            select(func.count(FaceTemplate.cameo_id), func.max(FaceTemplate.created_at))
            .where(FaceTemplate.model_version == models.version)).one()
        return _Stamp(models.version, count, latest)

    def index(self, session: Session, models: FaceModels) -> FaceIndex:
        stamp = self._current_stamp(session, models)
        with self._lock:
            if self._index is None or stamp != self._stamp:
                index = make_index(self.kind, models.dim)
                index.add_many(templates.iterate(session, templates.keyring(), models.version))
                self._index, self._stamp = index, stamp
            return self._index

    def identify(self, session: Session, models: FaceModels, embedding: np.ndarray, k: int = 3,
                 threshold: float | None = None) -> list[Hit]:
        """Cameos whose face matches `embedding` at or above the model's same-person threshold."""
        index = self.index(session, models)
        if len(index) == 0:
            return []
        cut = models.same_person_threshold if threshold is None else threshold
        return index.search(embedding, k=k, min_score=cut)


_matcher = CameoMatcher()


def matcher() -> CameoMatcher:
    return _matcher

"""Whose face is this? Process-wide 1:N indexes over the decrypted templates: one over enrolled
cameos, one over the public-figure reference gallery.

An index is rebuilt from the encrypted templates whenever they change (a cheap count/latest
check per lookup), so an API process that enrols and a worker that scans agree without talking
to each other. Only templates made by the loaded face model are comparable, so only they are
indexed. GL_FACE_INDEX picks the structure: `exact` (default) or `faiss` for large galleries.
"""

from __future__ import annotations

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.config import setting
from app.kit.cache import RebuiltOnChange
from likeness import templates
from likeness.faces import FaceModels
from likeness.index import FaceIndex, Hit, make_index
from likeness.models import FaceTemplate, FigureFaceTemplate


class GalleryMatcher:
    def __init__(self, table: type[templates.Template], kind: str | None = None):
        self.table = table
        self.kind = kind or setting("GL_FACE_INDEX")
        self._index: RebuiltOnChange[FaceIndex] = RebuiltOnChange(self._stamp, self._build)

    def _stamp(self, session: Session, models: FaceModels) -> tuple:
        key = self.table.__table__.primary_key.columns[0]
        count, latest = session.execute(
            select(func.count(key), func.max(self.table.created_at))
            .where(self.table.model_version == models.version)).one()
        return models.version, count, latest

    def _build(self, session: Session, models: FaceModels) -> FaceIndex:
        index = make_index(self.kind, models.dim)
        index.add_many(templates.iterate(session, templates.keyring(), models.version, self.table))
        return index

    def index(self, session: Session, models: FaceModels) -> FaceIndex:
        return self._index.get(session, models)

    def identify(self, session: Session, models: FaceModels, embedding: np.ndarray, k: int = 3,
                 threshold: float | None = None) -> list[Hit]:
        """Keys (cameo or figure ids) whose face matches `embedding` at or above the model's
        same-person threshold, best first."""
        index = self.index(session, models)
        if len(index) == 0:
            return []
        cut = models.same_person_threshold if threshold is None else threshold
        return index.search(embedding, k=k, min_score=cut)


_cameos = GalleryMatcher(FaceTemplate)
_figures = GalleryMatcher(FigureFaceTemplate)


def matcher() -> GalleryMatcher:
    """Enrolled cameos."""
    return _cameos


def figure_matcher() -> GalleryMatcher:
    """The public-figure reference gallery."""
    return _figures

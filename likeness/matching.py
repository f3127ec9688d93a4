"""Whose face is this? Process-wide 1:N indexes over the decrypted templates: one over enrolled
cameos, one over the public-figure reference gallery.

An index is rebuilt from the encrypted templates whenever they (or the keyring) change (a cheap
count/latest check per lookup), so an API process that enrols and a worker that scans agree
without talking to each other. Only templates made by the loaded face model are comparable, so
only they are indexed; the others, and any template that cannot be opened, are counted as
missing (`Gallery.missing`), and the face stages hold what they cannot clear (see stages.py).
GL_FACE_INDEX picks the structure: `exact` (default) or `faiss` for large galleries.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from app.config import setting
from app.kit.cache import RebuiltOnChange
from likeness import templates
from likeness.crypto import KeyringError
from likeness.faces import FaceModels
from likeness.index import FaceIndex, Hit, make_index
from likeness.models import FaceTemplate, FigureFaceTemplate

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Gallery:
    """An index and what it lacks: templates made by another face model (searchable again once
    `greenlight likeness re-embed` moved them) and templates that could not be opened."""

    index: FaceIndex
    model_version: str
    other_model: int
    unreadable: tuple[str, ...]

    @property
    def missing(self) -> int:
        return self.other_model + len(self.unreadable)


class GalleryMatcher:
    def __init__(self, table: type[templates.Template], kind: str | None = None):
        self.table = table
        self.kind = kind or setting("GL_FACE_INDEX")
        self._gallery: RebuiltOnChange[Gallery] = RebuiltOnChange(self._stamp, self._build)

    def _stamp(self, session: Session, models: FaceModels) -> tuple:
        key = self.table.__table__.primary_key.columns[0]
        current = case((self.table.model_version == models.version, 1))
        counts = session.execute(select(func.count(key), func.count(current), func.max(self.table.created_at))).one()
        return models.version, templates.keyring().fingerprint, *counts

    def _build(self, session: Session, models: FaceModels) -> Gallery:
        unreadable: list[str] = []

        def skip(row: templates.Template, exc: KeyringError) -> None:
            # Ids and key ids only: never anything of the face.
            unreadable.append(row.key)
            log.warning("%s %s cannot be opened (sealed under key %s: %s); left out of the face index until "
                        "fixed, see `greenlight likeness check`", self.table.__tablename__, row.key, row.key_id, exc)

        index = make_index(self.kind, models.dim)
        index.add_many(templates.iterate(session, templates.keyring(), models.version, self.table,
                                         on_unreadable=skip))
        other = session.scalar(select(func.count()).select_from(self.table)
                               .where(self.table.model_version != models.version))
        return Gallery(index, models.version, other or 0, tuple(unreadable))

    def gallery(self, session: Session, models: FaceModels) -> Gallery:
        return self._gallery.get(session, models)

    def index(self, session: Session, models: FaceModels) -> FaceIndex:
        return self.gallery(session, models).index

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


@dataclass(frozen=True)
class ScreenMatch:
    score: float  # cosine of the best face on screen
    at_s: float  # when it was on screen


def best_on_screen(frames, models: FaceModels, embedding: np.ndarray) -> ScreenMatch | None:
    """The face in `frames` ((time, image) pairs, as the face scan samples them) most like
    `embedding`, or None when no frame shows a face. The caller compares it with the model's
    same-person threshold, as the scan does."""
    from likeness.faces import cosine

    best: ScreenMatch | None = None
    for t, frame in frames:
        for face in models.analyze(frame):
            score = cosine(embedding, face.embedding)
            if best is None or score > best.score:
                best = ScreenMatch(score, t)
    return best

"""Move every face template to the loaded face model, from the stored face crops
(`greenlight likeness re-embed`).

A template only compares with embeddings of the model that made it, so after a model swap the
old templates drop out of the 1:N index (and the face stages hold every face, see stages.py).
Each template is made again, the way enrolment made it, from its sealed aligned crops. Idempotent:
templates already under the model are left alone, and each batch commits, so a run that stopped
part-way is finished by running it again. Templates with no crops (enrolled before crops were
kept) cannot be moved: the report names them, and the cameo's owner is notified to enrol again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import audit, notifications
from app.db import Database
from app.models import Notification
from likeness import crops, templates
from likeness.crypto import Keyring
from likeness.faces import FaceModels
from likeness.models import Cameo, FaceCrop, FaceTemplate, FigureFaceTemplate

BATCH = 50
RE_ENROL_NOTICE = "cameo_re_enrol_needed"
_KIND = {FaceTemplate: "cameo", FigureFaceTemplate: "figure"}


@dataclass(frozen=True)
class Unmoved:
    kind: str  # "cameo" or "figure"
    key: str   # cameo id or figure id
    why: str   # "no_crops": enrolled before crops were kept; "crops_unreadable": none could be opened


@dataclass
class ReembedReport:
    model_version: str
    moved: dict[str, int] = field(default_factory=lambda: {"cameo": 0, "figure": 0})
    already_current: dict[str, int] = field(default_factory=lambda: {"cameo": 0, "figure": 0})
    unmoved: list[Unmoved] = field(default_factory=list)
    unreadable_crops: int = 0

    @property
    def complete(self) -> bool:
        return not self.unmoved


def pending(session: Session, model_version: str) -> list[tuple[type[templates.Template], str]]:
    """(table, key) of every template not made by `model_version`, cameos first."""
    out = []
    for table in (FaceTemplate, FigureFaceTemplate):
        key = table.__table__.primary_key.columns[0]
        out += [(table, k) for k in session.scalars(select(key).where(table.model_version != model_version)
                                                    .order_by(key))]
    return out


def _current(session: Session, table: type[templates.Template], model_version: str) -> int:
    return session.scalar(select(func.count()).select_from(table).where(table.model_version == model_version)) or 0


def _rebuilt(row: templates.Template, faces: list[np.ndarray], models: FaceModels) -> np.ndarray:
    """The template as enrolment (cameo) or the gallery (figure) builds it, from the crops' embeddings."""
    from likeness.enrolment import build_template
    from likeness.figure_gallery import figure_template

    embeddings = [models.embed_aligned(face) for face in faces]
    return build_template(np.stack(embeddings)) if isinstance(row, FaceTemplate) else figure_template(embeddings)


def _ask_owner_to_enrol_again(session: Session, cameo_id: str, model_version: str) -> None:
    """Once per cameo and model: the owner's cameo no longer protects their face until they enrol again."""
    cameo = session.get(Cameo, cameo_id)
    if cameo is None:
        return
    sent = session.scalars(select(Notification.payload).where(
        Notification.user_id == cameo.owner_id, Notification.kind == RE_ENROL_NOTICE))
    if any(p.get("cameo_id") == cameo_id and p.get("model") == model_version for p in sent):
        return
    notifications.notify(session, cameo.owner_id, RE_ENROL_NOTICE, cameo_id=cameo_id, model=model_version)


def _move(session: Session, ring: Keyring, models: FaceModels, row: templates.Template,
          report: ReembedReport) -> None:
    kind = _KIND[type(row)]
    unreadable: list[FaceCrop] = []
    faces = crops.load(session, ring, row, on_unreadable=lambda crop, exc: unreadable.append(crop))
    report.unreadable_crops += len(unreadable)
    if not faces:
        report.unmoved.append(Unmoved(kind, row.key, "crops_unreadable" if unreadable else "no_crops"))
        if kind == "cameo" and not unreadable:
            _ask_owner_to_enrol_again(session, row.key, models.version)
        return
    vectors = _rebuilt(row, faces, models)
    if isinstance(row, FaceTemplate):
        templates.store(session, ring, row.cameo_id, vectors, models.version)
    else:
        templates.store_figure(session, ring, row.figure_id, vectors, models.version, photos=len(faces))
    report.moved[kind] += 1


def re_embed(db: Database, models: FaceModels, ring: Keyring, *, actor: str = "system:cli",
             progress: Callable[[int, int], None] | None = None) -> ReembedReport:
    """Move every template not under `models` to it; see the module docstring."""
    report = ReembedReport(models.version)
    with db.transaction() as s:
        todo = pending(s, models.version)
        for table, kind in _KIND.items():
            report.already_current[kind] = _current(s, table, models.version)
    if progress:
        progress(0, len(todo))
    for start in range(0, len(todo), BATCH):
        with db.transaction() as s:
            for table, key in todo[start:start + BATCH]:
                row = s.get(table, key)
                if row is not None and row.model_version != models.version:  # else deleted or moved meanwhile
                    _move(s, ring, models, row, report)
        if progress:
            progress(min(start + BATCH, len(todo)), len(todo))
    if todo:
        unmoved = {why: sum(u.why == why for u in report.unmoved) for why in ("no_crops", "crops_unreadable")}
        with db.transaction() as s:
            audit.record(s, actor=actor, action="templates.re_embedded", object_type="face_templates",
                         object_id="all", after={"model": models.version, "moved": report.moved, "unmoved": unmoved,
                                                 "unreadable_crops": report.unreadable_crops})
    return report

"""What a render needs from likeness: consent receipts for its provenance manifest
(app.interfaces.ConsentReceipts) and the faces of the cameos it puts on screen
(app.interfaces.CameoFaces)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from likeness import crops, templates
from likeness.models import Cameo, CameoAppearance, CameoStatus, FaceTemplate


class Receipts:
    def receipts(self, session: Session, generation_id: str) -> list[dict[str, str]]:
        rows = session.execute(select(CameoAppearance.cameo_id, CameoAppearance.source, Cameo.permission)
                               .join(Cameo, Cameo.id == CameoAppearance.cameo_id)
                               .where(CameoAppearance.generation_id == generation_id)
                               .order_by(CameoAppearance.cameo_id)).all()
        return [{"cameo": hashlib.sha256(cameo_id.encode()).hexdigest(), "permission": permission, "source": source}
                for cameo_id, source, permission in rows]


class Faces:
    def faces(self, session: Session, cameo_ids: Sequence[str]) -> list[np.ndarray]:
        if not cameo_ids:
            return []
        active = set(session.scalars(select(Cameo.id).where(Cameo.id.in_(cameo_ids),
                                                            Cameo.status == CameoStatus.ACTIVE)))
        ring = templates.keyring()
        out = []
        for cameo_id in cameo_ids:
            row = session.get(FaceTemplate, cameo_id) if cameo_id in active else None
            if row is None:
                continue
            faces = crops.load(session, ring, row, on_unreadable=lambda crop, exc: None)
            if faces:
                out.append(faces[0])  # the first good frame of the enrolment: the person facing the camera
        return out

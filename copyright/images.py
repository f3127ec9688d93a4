"""Reference images of works, matched by perceptual hash against input images.

Only the pHash (and the file's SHA-256) is kept. Distances: at most SURE_BITS is the same picture
re-encoded, resized or lightly edited (tests/app/test_perceptual.py: <= 10 bits); up to
POSSIBLE_BITS goes to review; different photos measured >= 20 bits apart.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import audit
from app.cache import RebuiltOnChange
from app.errors import ValidationFailed
from app.models import Role, User
from app.perceptual import distance, from_hex, phash, to_hex
from app.stage import Decision
from copyright.models import WorkReferenceImage
from copyright.services import owned_work, work_title

SURE_BITS = 10
POSSIBLE_BITS = 16


def decode(path: Path) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(path.read_bytes(), np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValidationFailed("not a readable image", code="not_an_image")
    return image


def add_reference_image(session: Session, user: User, work_id: str, path: Path) -> WorkReferenceImage:
    """Admins add references to any work; a rightsholder to the works its organisation holds."""
    if user.role == Role.ADMIN:
        work_title(session, work_id)  # work_not_found
    else:
        owned_work(session, user, work_id)
    data = path.read_bytes()
    row = WorkReferenceImage(work_id=work_id, phash=to_hex(phash(decode(path))),
                             sha256=hashlib.sha256(data).hexdigest(), uploaded_by_id=user.id)
    session.add(row)
    session.flush()
    audit.record(session, actor=user.id, action="work.reference_image_added", object_type="work", object_id=work_id,
                 after={"phash": row.phash, "sha256": row.sha256})
    return row


def _reference_stamp(session: Session) -> tuple:
    return tuple(session.execute(select(func.count(WorkReferenceImage.id),
                                        func.max(WorkReferenceImage.created_at))).one())


def _load_references(session: Session) -> list[tuple[str, int]]:
    rows = session.execute(select(WorkReferenceImage.work_id, WorkReferenceImage.phash))
    return [(work_id, from_hex(h)) for work_id, h in rows]


_references: RebuiltOnChange[list[tuple[str, int]]] = RebuiltOnChange(_reference_stamp, _load_references)


def match_image(session: Session, image_bgr: np.ndarray) -> dict[str, tuple[Decision, int]]:
    """work id -> (BLOCK for a sure match / REVIEW for a possible one, distance in bits)."""
    query = phash(image_bgr)
    found: dict[str, int] = {}
    for work_id, reference in _references.get(session):
        bits = distance(query, reference)
        if bits <= POSSIBLE_BITS and bits < found.get(work_id, 65):
            found[work_id] = bits
    return {w: (Decision.BLOCK if bits <= SURE_BITS else Decision.REVIEW, bits) for w, bits in found.items()}

"""Aligned face crops of each enrolment, sealed with the template keyring.

A template is only comparable with embeddings of the model that made it; the crops are what
lets `greenlight likeness re-embed` make the template again under another face model, without
asking every person to enrol again. Each crop is the 112x112 face aligned to the ArcFace
five-point template (what every embedder kind here takes), stored as a lossless PNG, sealed with
its owner and position as associated data, and deleted with its template. Biometric data: never
logged, never returned by the API.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from likeness.crypto import Keyring, KeyringError, Sealed, opened
from likeness.models import FaceCrop, FaceTemplate, Template

# The aligned face size (likeness.faces.align.ALIGNED_SIZE; not imported: it would load OpenCV and
# onnxruntime wherever templates are touched, the plugin included).
CROP_SIZE = 112
# Crops kept per enrolment: about 26 KB each as PNG. A liveness video gives more good frames;
# eight spread over it cover the head turn.
MAX_CROPS = 8

T = TypeVar("T")


def spread(items: Sequence[T], n: int = MAX_CROPS) -> list[T]:
    """At most `n` of `items`, evenly spaced from the first to the last."""
    if len(items) <= n:
        return list(items)
    picks = np.linspace(0, len(items) - 1, num=n).round().astype(int)
    return [items[i] for i in picks]


def _owner(template: Template) -> dict[str, str]:
    return {"cameo_id": template.cameo_id} if isinstance(template, FaceTemplate) else {"figure_id": template.figure_id}


def _of(template: Template):
    if isinstance(template, FaceTemplate):
        return FaceCrop.cameo_id == template.cameo_id
    return FaceCrop.figure_id == template.figure_id


def encode(crop: np.ndarray) -> bytes:
    import cv2

    if crop.shape != (CROP_SIZE, CROP_SIZE, 3) or crop.dtype != np.uint8:
        raise ValueError(f"a face crop is {CROP_SIZE}x{CROP_SIZE}x3 uint8, got {crop.shape} {crop.dtype}")
    ok, png = cv2.imencode(".png", crop)
    if not ok:
        raise ValueError("the face crop could not be encoded")
    return png.tobytes()


def decode(data: bytes) -> np.ndarray:
    import cv2

    crop = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if crop is None or crop.shape != (CROP_SIZE, CROP_SIZE, 3):
        raise KeyringError(f"a face crop opened but is not a {CROP_SIZE}x{CROP_SIZE} image")
    return crop


def replace(session: Session, ring: Keyring, template: Template, crops: Sequence[np.ndarray]) -> int:
    """The template's crops become `crops` (at most MAX_CROPS, spread), sealed; returns how many."""
    erase(session, template)
    kept = spread(crops)
    for position, crop in enumerate(kept):
        row = FaceCrop(position=position, **_owner(template))
        sealed = ring.seal_bytes(encode(crop), aad=row.aad)
        row.key_id, row.nonce, row.ciphertext = sealed.key_id, sealed.nonce, sealed.ciphertext
        session.add(row)
    session.flush()
    return len(kept)


def erase(session: Session, template: Template) -> int:
    # A bulk delete, not session.delete: the database also cascades from the template, and the
    # ORM would count rows the cascade already removed as missing.
    return session.execute(delete(FaceCrop).where(_of(template))).rowcount


def load(session: Session, ring: Keyring, template: Template,
         on_unreadable: Callable[[FaceCrop, KeyringError], None] | None = None) -> list[np.ndarray]:
    """The template's crops in order. One that cannot be opened is passed to `on_unreadable`
    and skipped (raised when no callback is given)."""
    rows = session.scalars(select(FaceCrop).where(_of(template)).order_by(FaceCrop.position))
    return [face for _, face in opened(rows, lambda row: decode(ring.open_bytes(Sealed.of(row), aad=row.aad)),
                                       on_unreadable)]

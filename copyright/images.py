"""Reference images of works, matched against input images and rendered frames.

Three kinds of evidence, strongest first (distances measured in tests/app/test_perceptual.py):
* PDQ within PDQ_SURE_BITS or pHash within SURE_BITS: the same picture re-encoded, resized or
  brightened -> block;
* pHash within POSSIBLE_BITS or PDQ within PDQ_POSSIBLE_BITS (a crop, a heavier edit) -> review;
  a pHash this loose needs PDQ to agree within PDQ_CORROBORATE_BITS (random 64-bit hashes fall
  within 16 bits about once in 8,000 pairs: bench/ip_image.py found 18 of 40 frames "matching"
  one of 10,000 distractors before this rule, 0 after);
* with an image-embedding model configured (app/kit/image_embedding.py), cosine similarity at least
  GL_IMAGE_EMBED_REVIEW (0.9) -> review: a model's "looks like" is never enough to block on its own.
Different photos measured >= 20 pHash and >= 118 PDQ bits apart.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import audit
from app.config import setting
from app.kit.cache import RebuiltOnChange
from app.db import utcnow
from app.errors import NotFound, ValidationFailed
from app.kit.image_embedding import ImageEmbedder, load_image_embedder
from app.models import Role, User
from app.kit.perceptual import PDQ_BITS, PDQ_MIN_QUALITY, Fingerprint, fingerprint, from_hex, to_hex
from app.stage import Decision
from app.storage import LocalMediaStorage
from copyright.models import WorkReferenceImage
from copyright.services import owned_work, work_title

SURE_BITS = 10
POSSIBLE_BITS = 16
PDQ_SURE_BITS = 31  # the match distance hasher-matcher-actioner uses
PDQ_POSSIBLE_BITS = 48
PDQ_CORROBORATE_BITS = 100  # random PDQ pairs sit at 128 +- 8 bits

_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}


def decode(path: Path) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(path.read_bytes(), np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValidationFailed("not a readable image", code="not_an_image")
    return image


def _fingerprint(row: WorkReferenceImage, image: np.ndarray, embedder: ImageEmbedder | None) -> None:
    hashes = fingerprint(image)
    row.phash = to_hex(hashes.phash)
    row.pdq, row.pdq_quality = to_hex(hashes.pdq, PDQ_BITS), hashes.pdq_quality
    if embedder is not None:
        row.embedding = embedder.embed([image])[0].astype(np.float32).tobytes()
        row.embedding_model = embedder.model_id
    row.indexed_at = utcnow()


def _check_access(session: Session, user: User, work_id: str) -> None:
    """Admins manage references of any work; a rightsholder those of its organisation's works."""
    if user.role == Role.ADMIN:
        work_title(session, work_id)  # work_not_found
    else:
        owned_work(session, user, work_id)


def add_reference_image(session: Session, storage: LocalMediaStorage, user: User, work_id: str, path: Path,
                        content_type: str) -> WorkReferenceImage:
    _check_access(session, user, work_id)
    image = decode(path)
    data = path.read_bytes()
    row = WorkReferenceImage(work_id=work_id, sha256=hashlib.sha256(data).hexdigest(), uploaded_by_id=user.id)
    _fingerprint(row, image, load_image_embedder())
    session.add(row)
    session.flush()
    row.storage_key = f"references/{row.id}.{_EXTENSIONS.get(content_type, 'img')}"
    storage.put_bytes(row.storage_key, data)  # 0600 in a 0700 folder
    audit.record(session, actor=user.id, action="work.reference_image_added", object_type="work", object_id=work_id,
                 after={"reference_id": row.id, "phash": row.phash, "pdq": row.pdq, "sha256": row.sha256})
    return row


def list_reference_images(session: Session, user: User, work_id: str) -> list[WorkReferenceImage]:
    _check_access(session, user, work_id)
    return list(session.scalars(select(WorkReferenceImage).where(WorkReferenceImage.work_id == work_id)
                                .order_by(WorkReferenceImage.created_at, WorkReferenceImage.id)))


def delete_reference_image(session: Session, storage: LocalMediaStorage, user: User, work_id: str,
                           reference_id: str) -> None:
    _check_access(session, user, work_id)
    row = session.get(WorkReferenceImage, reference_id)
    if row is None or row.work_id != work_id:
        raise NotFound("no such reference image of this work", code="reference_image_not_found")
    session.delete(row)
    session.flush()
    audit.record(session, actor=user.id, action="work.reference_image_removed", object_type="work",
                 object_id=work_id, before={"reference_id": reference_id, "phash": row.phash, "pdq": row.pdq})
    if row.storage_key:
        storage.delete(row.storage_key)


def reindex_references(session: Session, storage: LocalMediaStorage, embedder: ImageEmbedder | None,
                       progress: Callable[[int, int], None] | None = None) -> tuple[int, int]:
    """Recompute hashes (and embeddings under ``embedder``) from the stored images, for example
    after GL_IMAGE_EMBED_MODEL changed. Returns (re-indexed, skipped: no stored image)."""
    rows = list(session.scalars(select(WorkReferenceImage).order_by(WorkReferenceImage.id)))
    done = skipped = 0
    for i, row in enumerate(rows, 1):
        if row.storage_key and storage.exists(row.storage_key):
            _fingerprint(row, decode(storage.path(row.storage_key)), embedder)
            done += 1
        else:
            skipped += 1
        if progress:
            progress(i, len(rows))
    session.flush()
    return done, skipped


# --------------------------------------------------------------------------------- matching


@dataclass(frozen=True)
class References:
    work_ids: list[str]
    phashes: np.ndarray  # (n,) uint64
    pdqs: np.ndarray  # (n, 32) uint8; rows of unreliable or missing PDQ are masked out
    pdq_ok: np.ndarray  # (n,) bool
    embeddings: np.ndarray  # (m, d) float32 for the references embedded by `model`
    embedded_work_ids: list[str]
    model: str | None


def _reference_stamp(session: Session) -> tuple:
    return tuple(session.execute(select(func.count(WorkReferenceImage.id),
                                        func.max(WorkReferenceImage.indexed_at))).one())


def _load_references(session: Session) -> References:
    rows = session.execute(select(WorkReferenceImage.work_id, WorkReferenceImage.phash, WorkReferenceImage.pdq,
                                  WorkReferenceImage.pdq_quality, WorkReferenceImage.embedding,
                                  WorkReferenceImage.embedding_model)).all()
    embedder = load_image_embedder()
    model = embedder.model_id if embedder else None
    pdqs = np.zeros((len(rows), PDQ_BITS // 8), np.uint8)
    pdq_ok = np.zeros(len(rows), bool)
    for i, row in enumerate(rows):
        if row.pdq and (row.pdq_quality or 0) >= PDQ_MIN_QUALITY:
            pdqs[i] = np.frombuffer(bytes.fromhex(row.pdq), np.uint8)
            pdq_ok[i] = True
    embedded = [row for row in rows if model and row.embedding_model == model and row.embedding]
    return References(
        work_ids=[row.work_id for row in rows],
        phashes=np.array([from_hex(row.phash) for row in rows], np.uint64),
        pdqs=pdqs, pdq_ok=pdq_ok,
        embeddings=(np.stack([np.frombuffer(row.embedding, np.float32) for row in embedded])
                    if embedded else np.zeros((0, 0), np.float32)),
        embedded_work_ids=[row.work_id for row in embedded], model=model)


_references: RebuiltOnChange[References] = RebuiltOnChange(_reference_stamp, _load_references)


@dataclass(frozen=True)
class ImageEvidence:
    """The strongest sign that an image shows a work."""

    decision: Decision
    method: str  # "pdq" | "phash" | "embedding"
    score: float  # bits for the hashes, cosine for the embedding
    image_index: int  # which of the images looked at (a frame's position in the sample)

    @property
    def detail(self) -> str:
        if self.method == "embedding":
            return f"image-embedding similarity {self.score:.3f} to a reference image"
        return f"{self.method} {int(self.score)} bits from a reference image"

    def beats(self, other: "ImageEvidence | None") -> bool:
        if other is None or self.decision != other.decision:
            return other is None or self.decision == Decision.BLOCK
        if self.method != other.method:
            return False
        return self.score > other.score if self.method == "embedding" else self.score < other.score


def _popcount(x: np.ndarray) -> np.ndarray:
    return np.bitwise_count(x)


def has_references(session: Session) -> bool:
    return bool(_references.get(session).work_ids)


def match_images(session: Session, images_bgr: Sequence[np.ndarray],
                 prints: Sequence[Fingerprint] | None = None) -> dict[str, ImageEvidence]:
    """work id -> the strongest evidence over all ``images_bgr`` (input images, sampled frames);
    ``prints``: their fingerprints, when the caller has them already."""
    refs = _references.get(session)
    if not refs.work_ids or not images_bgr:
        return {}
    prints = prints if prints is not None else [fingerprint(image) for image in images_bgr]
    best: dict[str, ImageEvidence] = {}

    def offer(work_id: str, evidence: ImageEvidence) -> None:
        if evidence.beats(best.get(work_id)):
            best[work_id] = evidence

    for index, hashes in enumerate(prints):
        phash_bits = _popcount(refs.phashes ^ np.uint64(hashes.phash))
        pdq_bits = _popcount(refs.pdqs ^ hashes.pdq_bytes()).sum(axis=1)
        pdq_usable = refs.pdq_ok & hashes.pdq_usable
        phash_review = (phash_bits <= POSSIBLE_BITS) & (~pdq_usable | (pdq_bits <= PDQ_CORROBORATE_BITS))
        near = (pdq_usable & (pdq_bits <= PDQ_POSSIBLE_BITS)) | (phash_bits <= SURE_BITS) | phash_review
        for i in np.flatnonzero(near):  # numpy narrows 10,000s of references to the few near ones
            work_id = refs.work_ids[i]
            if pdq_usable[i] and pdq_bits[i] <= PDQ_SURE_BITS:
                offer(work_id, ImageEvidence(Decision.BLOCK, "pdq", float(pdq_bits[i]), index))
            elif phash_bits[i] <= SURE_BITS:
                offer(work_id, ImageEvidence(Decision.BLOCK, "phash", float(phash_bits[i]), index))
            elif phash_review[i]:
                offer(work_id, ImageEvidence(Decision.REVIEW, "phash", float(phash_bits[i]), index))
            else:
                offer(work_id, ImageEvidence(Decision.REVIEW, "pdq", float(pdq_bits[i]), index))
    embedder = load_image_embedder()
    if embedder is not None and refs.embedded_work_ids and embedder.model_id == refs.model:
        similarity = embedder.embed(list(images_bgr)) @ refs.embeddings.T  # (images, references)
        for (index, j) in zip(*np.nonzero(similarity >= setting("GL_IMAGE_EMBED_REVIEW"))):
            offer(refs.embedded_work_ids[j],
                  ImageEvidence(Decision.REVIEW, "embedding", float(similarity[index, j]), int(index)))
    return best

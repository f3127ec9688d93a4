"""Reference faces for the public-figure list, so the post-render scan recognises a public figure
on screen even when the prompt never named them.

Layout an operator provides (photos they have the right to use for this purpose):

    GALLERY/<figure-id>/*.jpg|jpeg|png|webp     e.g. GALLERY/tom-hanks/01.jpg

Each photo must pass the same quality gates as enrolment (one dominant face, size, blur, pose).
A figure's template is the normalised mean of its good photos plus up to MAX_EXEMPLARS of them;
the aligned faces of those exemplar photos are kept, sealed, for a later model swap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session

from app import audit
from likeness import crops, templates
from likeness.faces import FaceModels, FaceQualityError, check_quality, decode_image
from likeness.figures import FigureList

PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}
MAX_EXEMPLARS = 8
MAX_PHOTO_BYTES = 20 * 1024 * 1024


@dataclass
class FigureResult:
    figure_id: str
    photos: int = 0
    used: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)  # (file name, code)


@dataclass
class GalleryReport:
    figures: list[FigureResult] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # folders that name no listed figure

    @property
    def enrolled(self) -> int:
        return sum(1 for f in self.figures if f.used)


def face_of(path: Path, models: FaceModels) -> tuple[np.ndarray, np.ndarray]:
    """The embedding and the aligned crop of the one good face in the photo; FaceQualityError otherwise."""
    if path.stat().st_size > MAX_PHOTO_BYTES:
        raise FaceQualityError("not_an_image", f"larger than {MAX_PHOTO_BYTES} bytes")
    image = decode_image(path.read_bytes())
    report = check_quality(image, models.detect(image))
    crop = models.align(image, report.face)
    return models.embed_aligned(crop), crop


def figure_template(embeddings: list[np.ndarray]) -> np.ndarray:
    vectors = np.stack(embeddings).astype(np.float32)
    mean = vectors.mean(axis=0)
    return np.vstack([mean / np.linalg.norm(mean), vectors[:MAX_EXEMPLARS]])


def enrol_gallery(session: Session, root: Path, models: FaceModels, figures: FigureList, *, actor: str,
                  progress: Callable[[int, int, str], None] | None = None) -> GalleryReport:
    """Embed every figure folder under `root` and store (replace) its template. Folders that name
    no figure of the list are reported, not guessed at."""
    known = {f.id for f in figures.figures}
    report = GalleryReport()
    folders = sorted(p for p in Path(root).iterdir() if p.is_dir())
    for done, folder in enumerate(folders, 1):
        if progress:
            progress(done, len(folders), folder.name)
        if folder.name not in known:
            report.unknown.append(folder.name)
            continue
        result, embeddings, faces = FigureResult(folder.name), [], []
        for photo in sorted(p for p in folder.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES):
            result.photos += 1
            try:
                embedding, crop = face_of(photo, models)
            except FaceQualityError as exc:
                result.problems.append((photo.name, exc.code))
                continue
            embeddings.append(embedding)
            faces.append(crop)
        result.used = len(embeddings)
        if embeddings:
            ring = templates.keyring()
            stored = templates.store_figure(session, ring, folder.name, figure_template(embeddings),
                                            models.version, photos=result.used)
            # The exemplars' photos: a template re-embedded from them keeps the same exemplars.
            crops.replace(session, ring, stored, faces[:MAX_EXEMPLARS])
        report.figures.append(result)
    audit.record(session, actor=actor, action="figure_gallery.enrolled", object_type="figure_gallery",
                 object_id="public_figures", after={"gallery": str(root), "figures": report.enrolled,
                                                    "unknown": len(report.unknown)})
    return report

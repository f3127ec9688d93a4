"""Withheld media: a video taken from everyone, creator included (a person in it revoked their
consent, or deleted it as co-owner), leaves the media folder for the legal hold, a folder no route
serves. It is kept there GL_MEDIA_HOLD_DAYS for legal holds (a court order, a police request about
the video), then purged by `greenlight media purge` or the worker's sweep. docs/retention.md.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import audit, runtime
from app.config import setting
from app.db import on_commit, utcnow
from app.models import Generation, MediaHold

log = logging.getLogger(__name__)


def hold_dir() -> Path:
    configured = setting("GL_MEDIA_HOLD_DIR")
    path = Path(configured) if configured else runtime.current().config.instance_dir / "legal_hold"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def held_path(hold: MediaHold) -> Path:
    return hold_dir() / f"{hold.id}.mp4"


def withhold(session: Session, gen: Generation, *, reason: str, actor: str) -> MediaHold | None:
    """Take the generation's media from everyone: nothing serves it from now on (media_key goes,
    media_withheld says why); once this commits, the file moves into the legal hold."""
    if gen.media_key is None:
        return None
    hold = MediaHold(generation_id=gen.id, media_key=gen.media_key, media_sha256=gen.media_sha256, reason=reason,
                     purge_after=utcnow() + timedelta(days=setting("GL_MEDIA_HOLD_DAYS")))
    session.add(hold)
    session.flush()
    gen.media_key, gen.media_withheld = None, reason
    audit.record(session, actor=actor, action="media.withheld", object_type="generation", object_id=gen.id,
                 after={"hold_id": hold.id, "reason": reason, "purge_after": hold.purge_after.isoformat()})
    source, target = runtime.current().storage.path(hold.media_key), held_path(hold)
    on_commit(session, lambda: _move(source, target))
    return hold


def _move(source: Path, target: Path) -> None:
    try:
        shutil.move(source, target)  # a rename on one filesystem; a copy and delete across two
        os.chmod(target, 0o600)
    except FileNotFoundError:
        log.warning("withheld media %s was already gone", source)


@dataclass
class PurgeResult:
    purged: int = 0
    missing: int = 0  # the row said held, the file was not there (already removed by hand)


def purge(session: Session, now=None, progress: Callable[[int, int, MediaHold], None] | None = None) -> PurgeResult:
    """Delete every held file past its retention; the row stays (purged_at) for the record."""
    now = now or utcnow()
    due = list(session.scalars(select(MediaHold).where(MediaHold.purged_at.is_(None), MediaHold.purge_after <= now)
                               .order_by(MediaHold.purge_after, MediaHold.id)))
    result = PurgeResult()
    for n, hold in enumerate(due, 1):
        path = held_path(hold)
        try:
            path.unlink()
            found = True
            result.purged += 1
        except FileNotFoundError:
            found = False
            result.missing += 1
        hold.purged_at = now
        audit.record(session, actor="system:purge", action="media.purged", object_type="generation",
                     object_id=hold.generation_id, after={"hold_id": hold.id, "file_found": found})
        if progress:
            progress(n, len(due), hold)
    return result

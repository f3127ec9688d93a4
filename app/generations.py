"""Generations as people act on them: submit, read, publish, delete, and removal by the platform.

What decides whether someone besides the creator may see or delete a generation (its co-owners),
and whether it may be published, is registered by the domains (app.domains); the pipeline steps
live in app.orchestrator.
"""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import audit, domains, media_holds, notifications, runtime, statements, uploads
from app.config import setting
from app.db import as_utc, on_commit, utcnow
from app.errors import Conflict, NotFound, TooManyRequests
from app.models import Generation, Status, User
from app.states import transition


MEDIA_FOLDER = "generations"


def visible_label(handle: str) -> str:
    """The label drawn in the corner of every frame of a render (`greenlight verify` looks for it)."""
    return f"@{handle} · greenlight"


def media_key(generation_id: str) -> str:
    return f"{MEDIA_FOLDER}/{generation_id}.mp4"


def submit(session: Session, owner: User, prompt: str, cameo_ids: list[str], remix_of: str | None,
           input_image_id: str | None = None) -> Generation:
    if input_image_id is not None:
        uploads.get_own(session, owner, input_image_id)  # someone else's upload is not found
    if remix_of is not None:
        parent = session.get(Generation, remix_of)
        # A parent the requester cannot see is reported as missing, like any other object.
        if parent is None or not can_view(session, parent, owner):
            raise NotFound("remix parent not found", code="remix_parent_not_found")
    gen = Generation(owner_id=owner.id, prompt=prompt, cameo_ids=list(dict.fromkeys(cameo_ids)),
                     remix_of_id=remix_of, input_image_id=input_image_id, seed=random.randrange(2**31),
                     status=Status.SUBMITTED.value)
    session.add(gen)
    session.flush()
    audit.record(session, actor=owner.id, action="generation.submitted", object_type="generation",
                 object_id=gen.id, after={"status": gen.status, "cameo_ids": gen.cameo_ids,
                                          "remix_of": remix_of, "input_image_id": input_image_id})
    return gen


DAY, MINUTE = timedelta(hours=24), timedelta(minutes=1)


def check_quota(session: Session, owner: User, now: datetime | None = None) -> None:
    """429 quota_exceeded when `owner` has requested their rolling 24-hour quota (stricter for
    teens) or the per-minute burst limit. Every generation requested counts, whatever became of
    it. One COUNT over the (owner_id, created_at) index, so it holds across processes; two
    requests racing at the limit may both pass, which a quota tolerates."""
    now = now or utcnow()
    daily = setting("GL_GENERATION_QUOTA_DAILY_TEEN" if owner.is_teen else "GL_GENERATION_QUOTA_DAILY")
    burst = setting("GL_GENERATION_QUOTA_PER_MINUTE")
    if not daily and not burst:
        return
    mine = Generation.owner_id == owner.id
    day_count, minute_count = session.execute(
        select(func.count(), func.count().filter(Generation.created_at > now - MINUTE))
        .where(mine, Generation.created_at > now - DAY)).one()
    for limit, count, window, name in ((daily, day_count, DAY, "24h"), (burst, minute_count, MINUTE, "1m")):
        if limit and count >= limit:
            # Below the limit again once the (count - limit + 1) oldest requests leave the window.
            oldest = session.scalar(select(Generation.created_at).where(mine, Generation.created_at > now - window)
                                    .order_by(Generation.created_at).offset(count - limit).limit(1))
            reset = as_utc(oldest) + window
            raise TooManyRequests(
                f"you have requested {count} generations in the last {name}; the limit is {limit}",
                code="quota_exceeded", retry_after_s=math.ceil((reset - now).total_seconds()),
                details={"limit": limit, "window": name, "used": count, "reset_at": reset.isoformat()})


def status_of(session: Session, generation_id: str) -> str:
    return session.scalar(select(Generation.status).where(Generation.id == generation_id))


def can_view(session: Session, gen: Generation, user: User) -> bool:
    """The creator, the owners of cameos in it (co-owners), and, once published, everyone."""
    if gen.status == Status.DELETED:
        return False
    if gen.owner_id == user.id or domains.is_co_owner(session, user.id, gen.id):
        return True
    return gen.status == Status.PUBLISHED and not (gen.age_restricted and user.is_teen)


def can_manage(session: Session, gen: Generation, user: User) -> bool:
    """Delete rights: the creator and every co-owner."""
    return gen.status != Status.DELETED and (gen.owner_id == user.id or domains.is_co_owner(session, user.id, gen.id))


def get_owned(session: Session, user: User, generation_id: str) -> Generation:
    gen = session.get(Generation, generation_id)
    if gen is None or gen.owner_id != user.id:
        raise NotFound("generation not found", code="generation_not_found")
    return gen


def publish(session: Session, user: User, generation_id: str) -> Generation:
    gen = get_owned(session, user, generation_id)
    domains.check_publishable(session, gen)  # a takedown, a withdrawn consent: raised as Conflict
    if gen.media_withheld:  # consent given again later does not bring the withdrawn video back
        raise Conflict("this video's media was withdrawn and cannot be published", code="media_withheld",
                       status=410, details={"reason": gen.media_withheld})
    return transition(session, gen, Status.PUBLISHED, actor=user.id)


def remove(session: Session, gen: Generation, *, actor: str, reason: str, hold: bool = False) -> Generation:
    """Delete a generation; its media file goes once the deletion commits, or with `hold` into the
    legal hold (app/media_holds.py) for its retention. Verdicts and audit rows stay."""
    transition(session, gen, Status.DELETED, actor=actor, reason=reason)
    if hold:
        media_holds.withhold(session, gen, reason=reason, actor=actor)
    elif gen.media_key:
        storage, key = runtime.current().storage, gen.media_key
        on_commit(session, lambda: storage.delete(key))
    return gen


def delete(session: Session, user: User, generation_id: str) -> Generation:
    gen = session.get(Generation, generation_id)
    if gen is None or not can_manage(session, gen, user):
        raise NotFound("generation not found", code="generation_not_found")
    if gen.owner_id != user.id:
        # A person in the video took it down: the creator is owed the reasons.
        statements.issue(session, gen, origin="co_owner_deletion", notice=True, automated_detection=False,
                         automated_decision=statements.NOT_AUTOMATED,
                         visibility=statements.VISIBILITY_REMOVED if gen.status == Status.PUBLISHED
                         else statements.VISIBILITY_DISABLED,
                         reasons=[{"stage": "likeness.co_owner", "code": "deleted_by_co_owner",
                                   "message": "a person who appears in the video deleted it"}])
    if gen.owner_id == user.id:
        return remove(session, gen, actor=user.id, reason="deleted_by_owner")
    # Gone for the creator too: held for the legal retention only, and the creator is told.
    notifications.notify(session, gen.owner_id, "deleted_by_co_owner", generation_id=gen.id, media="withheld")
    return remove(session, gen, actor=user.id, reason="deleted_by_co_owner", hold=True)

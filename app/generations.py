"""Generations as people act on them: submit, read, publish, delete, and removal by the platform.

What decides whether someone besides the creator may see or delete a generation (its co-owners),
and whether it may be published, is registered by the domains (app.domains); the pipeline steps
live in app.orchestrator.
"""

from __future__ import annotations

import random

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import audit, domains, media_holds, notifications, runtime, statements, uploads
from app.db import on_commit
from app.errors import Conflict, NotFound
from app.models import Generation, Status, User
from app.states import transition


MEDIA_FOLDER = "generations"


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

"""Cameo operations and the consent rule (pure functions over a session; no Flask)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import audit, cases, media_holds, notifications, statements
from app.generations import remove
from app.accounts import users_by_handle
from app.db import utcnow
from app.errors import Conflict, NotFound, ValidationFailed
from app.models import Follow, Generation, Status, User
from app.states import transition
from likeness import templates
from likeness.models import (
    Cameo, CameoAppearance, CameoApproval, CameoBlock, CameoStatus, Permission,
)


def are_mutuals(session: Session, a: str, b: str) -> bool:
    rows = session.execute(select(Follow.follower_id).where(
        ((Follow.follower_id == a) & (Follow.followee_id == b)) |
        ((Follow.follower_id == b) & (Follow.followee_id == a)))).all()
    return len(rows) == 2


def _is_minor(session: Session, user_id: str) -> bool:
    """User.is_teen, the one definition of a minor (no birthdate recorded counts as one)."""
    user = session.get(User, user_id)
    return user is not None and user.is_teen


def permission_denial(session: Session, cameo: Cameo | None, requester_id: str) -> str | None:
    """None if the requester may use the cameo, else a stable reason code."""
    if cameo is None:
        return "cameo_not_found"
    if cameo.status == CameoStatus.UNENROLLED:
        return "cameo_not_enrolled"
    if cameo.status != CameoStatus.ACTIVE:
        return "cameo_revoked"
    if cameo.owner_id == requester_id:
        return None
    if _is_minor(session, cameo.owner_id) and not _is_minor(session, requester_id):
        # Until guardians can be linked, no adult puts a minor on screen, whatever the cameo's
        # permission says: on every path that asks this (requested, remixed, input-image cameos, publish).
        return "cameo_owner_minor"
    if requester_id in cameo.blocked_user_ids:  # beats every permission and approval
        return "cameo_not_permitted"
    perm = Permission(cameo.permission)
    if perm == Permission.EVERYONE:
        return None
    if perm == Permission.APPROVED and requester_id in cameo.approved_user_ids:
        return None
    if perm == Permission.MUTUALS and are_mutuals(session, cameo.owner_id, requester_id):
        return None
    return "cameo_not_permitted"


def check_permission_for(owner: User, permission: Permission) -> None:
    if permission == Permission.EVERYONE and owner.is_teen:
        raise ValidationFailed("accounts under 18 cannot let everyone use their cameo",
                               code="teen_permission_not_allowed")


def blockable_users(session: Session, owner: User, handles: list[str]) -> list[User]:
    users = users_by_handle(session, handles)
    if any(u.id == owner.id for u in users):
        raise ValidationFailed("you cannot block yourself from your own cameo", code="cannot_block_self")
    return users


def create_cameo(session: Session, owner: User, display_name: str, permission: Permission,
                 approved_handles: list[str], blocked_handles: list[str] = ()) -> Cameo:
    check_permission_for(owner, permission)
    # Unenrolled until a face passes the liveness check (likeness/enrolment.py): a name alone is no person.
    cameo = Cameo(owner_id=owner.id, display_name=display_name, permission=permission.value,
                  status=CameoStatus.UNENROLLED.value)
    cameo.approvals = [CameoApproval(user_id=u.id) for u in users_by_handle(session, approved_handles)]
    cameo.blocks = [CameoBlock(user_id=u.id) for u in blockable_users(session, owner, list(blocked_handles))]
    session.add(cameo)
    session.flush()
    audit.record(session, actor=owner.id, action="cameo.created", object_type="cameo", object_id=cameo.id,
                 after=_permission_record(cameo))
    return cameo


def _permission_record(cameo: Cameo) -> dict:
    return {"permission": cameo.permission, "approved": sorted(cameo.approved_user_ids),
            "blocked": sorted(cameo.blocked_user_ids)}


def get_own_cameo(session: Session, owner: User, cameo_id: str) -> Cameo:
    cameo = session.get(Cameo, cameo_id)
    if cameo is None or cameo.owner_id != owner.id:
        raise NotFound("cameo not found", code="cameo_not_found")
    return cameo


def update_permission(session: Session, owner: User, cameo_id: str, permission: Permission | None,
                      approved_handles: list[str] | None, blocked_handles: list[str] | None = None) -> Cameo:
    """Change who may use the cameo. Narrowing it revokes consent for whoever lost it: their
    videos with the cameo get the revocation cascade, in this transaction."""
    cameo = get_own_cameo(session, owner, cameo_id)
    before = _permission_record(cameo)
    if permission is not None:
        check_permission_for(owner, permission)
        cameo.permission = permission.value
    if approved_handles is not None:
        cameo.approvals = [CameoApproval(user_id=u.id) for u in users_by_handle(session, approved_handles)]
    if blocked_handles is not None:
        cameo.blocks = [CameoBlock(user_id=u.id) for u in blockable_users(session, owner, blocked_handles)]
    session.flush()
    session.refresh(cameo)  # the relationship collections as stored, for the consent rule below
    audit.record(session, actor=owner.id, action="cameo.permission_changed", object_type="cameo",
                 object_id=cameo.id, before=before, after=_permission_record(cameo))
    cascade_revocation(session, cameo, actor=owner.id,
                       affects=lambda gen: permission_denial(session, cameo, gen.owner_id) is not None)
    return cameo


def revoke(session: Session, owner: User, cameo_id: str) -> Cameo:
    """Revoke consent; the cascade runs in the same transaction as the revocation."""
    return revoke_with_cascade(session, owner, cameo_id)[0]


def revoke_with_cascade(session: Session, owner: User, cameo_id: str) -> tuple[Cameo, list[tuple[str, str]]]:
    """revoke, and what its cascade changed ((generation id, action); none if already revoked)."""
    cameo = get_own_cameo(session, owner, cameo_id)
    changed: list[tuple[str, str]] = []
    if cameo.status != CameoStatus.REVOKED:
        before = cameo.status
        cameo.status, cameo.revoked_at = CameoStatus.REVOKED.value, utcnow()
        audit.record(session, actor=owner.id, action="cameo.revoked", object_type="cameo", object_id=cameo.id,
                     before={"status": before}, after={"status": cameo.status})
        changed = cascade_revocation(session, cameo, actor=owner.id)
        if before == CameoStatus.PENDING_REVIEW:
            # Its enrolment case has nothing left to decide.
            cases.close_moot_subject(session, "cameo", cameo.id, "the cameo was revoked before review", owner.id)
    return cameo, changed


def delete_cameo(session: Session, owner: User, cameo_id: str) -> Cameo:
    """Revoke (with its cascade) and erase the biometric data (template and face crops); the row stays
    for the record."""
    cameo = revoke(session, owner, cameo_id)
    if templates.erase_cameo(session, cameo.id):
        audit.record(session, actor=owner.id, action="cameo.template_deleted", object_type="cameo",
                     object_id=cameo.id)
    return cameo


# What happens to each generation featuring a revoked cameo (rendering/scanning ones are caught
# by the consent re-check after rendering).
_ON_REVOKE = {Status.QUEUED: Status.BLOCKED, Status.IN_REVIEW: Status.BLOCKED,
              Status.DRAFT: Status.DELETED, Status.PUBLISHED: Status.DRAFT}


def plan_revocation(session: Session, cameo: Cameo,
                    affects: Callable[[Generation], bool] = lambda gen: True) -> list[tuple[Generation, Status]]:
    """What _ON_REVOKE will do to the generations featuring the cameo that `affects` selects (all
    of them for a revocation; those whose creator lost consent for a narrowed permission): the one
    place that decides it, for the revocation and for the preview its owner sees first."""
    return [(gen, _ON_REVOKE[Status(gen.status)]) for gen in featuring(session, cameo)
            if Status(gen.status) in _ON_REVOKE and affects(gen)]


def featuring(session: Session, cameo: Cameo) -> list[Generation]:
    """Every generation the cameo appears in (declared, detected, remixed, input), oldest first."""
    return list(session.scalars(select(Generation)
                                .join(CameoAppearance, CameoAppearance.generation_id == Generation.id)
                                .where(CameoAppearance.cameo_id == cameo.id)
                                .order_by(Generation.created_at, Generation.id)))


REVOCATION_ACTIONS = {Status.BLOCKED: "blocked", Status.DELETED: "deleted", Status.DRAFT: "unpublished"}


def cascade_revocation(session: Session, cameo: Cameo, *, actor: str,
                       affects: Callable[[Generation], bool] = lambda gen: True) -> list[tuple[str, str]]:
    """Apply plan_revocation; returns (generation id, action) for each generation changed."""
    changed = []
    for gen, target in plan_revocation(session, cameo, affects):
        statements.issue(session, gen, origin="cameo_consent_revoked", notice=True, automated_detection=False,
                         visibility=statements.VISIBILITY_REMOVED if gen.status == Status.PUBLISHED
                         else statements.VISIBILITY_DISABLED,
                         reasons=[{"stage": "likeness.consent", "code": "cameo_consent_revoked",
                                   "message": "a person in the video withdrew their consent to it",
                                   "details": {"cameo_id": cameo.id}}])
        # The video goes from everyone, its creator included: its media into the legal hold.
        if target == Status.DELETED:
            remove(session, gen, actor=actor, reason="cameo_consent_revoked", hold=True)
        else:
            transition(session, gen, target, actor=actor, reason="cameo_consent_revoked")
            media_holds.withhold(session, gen, reason="cameo_consent_revoked", actor=actor)
        action = REVOCATION_ACTIONS[target]
        if gen.owner_id != cameo.owner_id:
            notifications.notify(session, gen.owner_id, "cameo_consent_revoked", generation_id=gen.id,
                                 cameo_id=cameo.id, action=action,
                                 media="withheld" if gen.media_withheld else "none")
        changed.append((gen.id, action))
    return changed


def remix_cameos(session: Session, remix_of: str | None) -> list[str]:
    """Cameos on screen in a remix parent (declared, detected or inherited in turn): a remix
    shows them again, so it needs their consent as if they were requested."""
    if remix_of is None:
        return []
    return list(session.scalars(select(CameoAppearance.cameo_id).where(CameoAppearance.generation_id == remix_of)
                                .order_by(CameoAppearance.cameo_id)))


def input_image_cameos(session: Session, generation_id: str) -> list[str]:
    """Cameos recognised in the generation's input image (recorded by the pre-render gate)."""
    return list(session.scalars(select(CameoAppearance.cameo_id).where(
        CameoAppearance.generation_id == generation_id, CameoAppearance.source == "input")
        .order_by(CameoAppearance.cameo_id)))


def record_appearance(session: Session, generation_id: str, cameo_id: str, source: str,
                      score: float | None = None) -> None:
    """Idempotent: a cameo appears in a generation once (a declared one stays declared)."""
    if session.get(CameoAppearance, (generation_id, cameo_id)) is None:
        session.add(CameoAppearance(generation_id=generation_id, cameo_id=cameo_id, source=source, score=score))
        session.flush()


def is_co_owner(session: Session, user_id: str, generation_id: str) -> bool:
    return session.scalar(select(CameoAppearance.cameo_id).join(Cameo, Cameo.id == CameoAppearance.cameo_id)
                          .where(CameoAppearance.generation_id == generation_id, Cameo.owner_id == user_id)
                          .limit(1)) is not None


VISIBLE_TO_CO_OWNERS = (Status.DRAFT, Status.PUBLISHED, Status.IN_REVIEW, Status.BLOCKED)


def appearances(session: Session, owner: User, cameo_id: str) -> list[tuple[Generation, CameoAppearance]]:
    """Videos featuring the cameo that exist (drafts, published, and those held or blocked: a person
    should learn that someone put them on screen), newest first: what its owner, as co-owner, may see."""
    cameo = get_own_cameo(session, owner, cameo_id)
    rows = session.execute(select(Generation, CameoAppearance)
                           .join(CameoAppearance, CameoAppearance.generation_id == Generation.id)
                           .where(CameoAppearance.cameo_id == cameo.id,
                                  Generation.status.in_([st.value for st in VISIBLE_TO_CO_OWNERS]))
                           .order_by(Generation.created_at.desc()))
    return [(g, a) for g, a in rows]


def consent_problems(session: Session, requester_id: str, cameo_ids: list[str]) -> list[dict]:
    """The cameos among `cameo_ids` the requester may not use now, with the reason code."""
    if not cameo_ids:
        return []
    cameos = {c.id: c for c in session.scalars(select(Cameo).where(Cameo.id.in_(cameo_ids)))}
    problems = []
    for cid in cameo_ids:
        denial = permission_denial(session, cameos.get(cid), requester_id)
        if denial:
            problems.append({"cameo_id": cid, "code": denial})
    return problems


def refuse_publishing_without_consent(session: Session, gen: Generation) -> None:
    """Publish check: every cameo in the video still allows its creator to use it."""
    problems = consent_problems(session, gen.owner_id, list(gen.cameo_ids or []))
    if problems and gen.status == Status.DRAFT:
        raise Conflict("a cameo in this video no longer allows you to use it", code="consent_revoked",
                       details={"cameos": problems})


def list_own(session: Session, owner: User) -> list[Cameo]:
    return list(session.scalars(select(Cameo).where(Cameo.owner_id == owner.id).order_by(Cameo.created_at)))


def usable_figure_cameos(session: Session, figure_ids: set[str], requested: list[str],
                         requester_id: str) -> set[str]:
    """Figures among `figure_ids` whose own verified cameo is in the request and allows the requester."""
    if not figure_ids or not requested:
        return set()
    cameos = session.scalars(select(Cameo).where(Cameo.id.in_(requested), Cameo.public_figure_id.in_(figure_ids)))
    return {c.public_figure_id for c in cameos if permission_denial(session, c, requester_id) is None}


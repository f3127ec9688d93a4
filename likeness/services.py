"""Cameo operations and the consent rule (pure functions over a session; no Flask)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import audit
from app.db import utcnow
from app.errors import NotFound, ValidationFailed
from app.models import Follow, User
from likeness.models import Cameo, CameoApproval, CameoStatus, Permission


def are_mutuals(session: Session, a: str, b: str) -> bool:
    rows = session.execute(select(Follow.follower_id).where(
        ((Follow.follower_id == a) & (Follow.followee_id == b)) |
        ((Follow.follower_id == b) & (Follow.followee_id == a)))).all()
    return len(rows) == 2


def permission_denial(session: Session, cameo: Cameo | None, requester_id: str) -> str | None:
    """None if the requester may use the cameo, else a stable reason code."""
    if cameo is None:
        return "cameo_not_found"
    if cameo.status != CameoStatus.ACTIVE:
        return "cameo_revoked"
    if cameo.owner_id == requester_id:
        return None
    perm = Permission(cameo.permission)
    if perm == Permission.EVERYONE:
        return None
    if perm == Permission.APPROVED and requester_id in cameo.approved_user_ids:
        return None
    if perm == Permission.MUTUALS and are_mutuals(session, cameo.owner_id, requester_id):
        return None
    return "cameo_not_permitted"


def _users_by_handle(session: Session, handles: list[str]) -> list[User]:
    wanted = {h.lower().lstrip("@") for h in handles}
    users = list(session.scalars(select(User).where(User.handle.in_(wanted))))
    missing = wanted - {u.handle for u in users}
    if missing:
        raise ValidationFailed("unknown handles", code="unknown_handle", details={"handles": sorted(missing)})
    return users


def _check_permission_for(owner: User, permission: Permission) -> None:
    if permission == Permission.EVERYONE and owner.is_teen:
        raise ValidationFailed("accounts under 18 cannot let everyone use their cameo",
                               code="teen_permission_not_allowed")


def create_cameo(session: Session, owner: User, display_name: str, permission: Permission,
                 approved_handles: list[str]) -> Cameo:
    _check_permission_for(owner, permission)
    cameo = Cameo(owner_id=owner.id, display_name=display_name, permission=permission.value)
    cameo.approvals = [CameoApproval(user_id=u.id) for u in _users_by_handle(session, approved_handles)]
    session.add(cameo)
    session.flush()
    audit.record(session, actor=owner.id, action="cameo.created", object_type="cameo", object_id=cameo.id,
                 after={"permission": cameo.permission})
    return cameo


def get_own_cameo(session: Session, owner: User, cameo_id: str) -> Cameo:
    cameo = session.get(Cameo, cameo_id)
    if cameo is None or cameo.owner_id != owner.id:
        raise NotFound("cameo not found", code="cameo_not_found")
    return cameo


def update_permission(session: Session, owner: User, cameo_id: str, permission: Permission | None,
                      approved_handles: list[str] | None) -> Cameo:
    cameo = get_own_cameo(session, owner, cameo_id)
    before = {"permission": cameo.permission, "approved": sorted(cameo.approved_user_ids)}
    if permission is not None:
        _check_permission_for(owner, permission)
        cameo.permission = permission.value
    if approved_handles is not None:
        cameo.approvals = [CameoApproval(user_id=u.id) for u in _users_by_handle(session, approved_handles)]
    session.flush()
    audit.record(session, actor=owner.id, action="cameo.permission_changed", object_type="cameo",
                 object_id=cameo.id, before=before,
                 after={"permission": cameo.permission, "approved": sorted(cameo.approved_user_ids)})
    return cameo


def revoke(session: Session, owner: User, cameo_id: str) -> Cameo:
    cameo = get_own_cameo(session, owner, cameo_id)
    if cameo.status != CameoStatus.REVOKED:
        cameo.status, cameo.revoked_at = CameoStatus.REVOKED.value, utcnow()
        audit.record(session, actor=owner.id, action="cameo.revoked", object_type="cameo", object_id=cameo.id,
                     before={"status": CameoStatus.ACTIVE.value}, after={"status": cameo.status})
    return cameo


def list_own(session: Session, owner: User) -> list[Cameo]:
    return list(session.scalars(select(Cameo).where(Cameo.owner_id == owner.id).order_by(Cameo.created_at)))


def usable_figure_cameos(session: Session, figure_ids: set[str], requested: list[str],
                         requester_id: str) -> set[str]:
    """Figures among `figure_ids` whose own verified cameo is in the request and allows the requester."""
    if not figure_ids or not requested:
        return set()
    cameos = session.scalars(select(Cameo).where(Cameo.id.in_(requested), Cameo.public_figure_id.in_(figure_ids)))
    return {c.public_figure_id for c in cameos if permission_denial(session, c, requester_id) is None}

"""The cameo owner's page as a service (app.interfaces.CameoOwnerPage): plain data for review_ui,
which may not import likeness. Every method acts on the signed-in user's own cameo, found from
the user, never from an id the page passes in, so no page can reach another person's cameo."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Text, cast, or_, select
from sqlalchemy.orm import Session

from app import generations
from app.errors import NotFound, ValidationFailed
from app.models import Generation, Status, User
from app.states import IN_FLIGHT
from likeness import services
from likeness.models import Cameo, CameoAppearance, CameoStatus, FaceCrop, FaceTemplate, Permission

SNIPPET = 80
GROUPS = {Status.PUBLISHED: "published", Status.DRAFT: "drafts", Status.IN_REVIEW: "held",
          Status.BLOCKED: "blocked"}


def own_cameo(session: Session, user: User) -> Cameo | None:
    """The user's current cameo: the newest one still in force, else the newest (revoked) one."""
    mine = services.list_own(session, user)
    live = [c for c in mine if c.status != CameoStatus.REVOKED]
    return (live or mine or [None])[-1]


def _require(session: Session, user: User) -> Cameo:
    cameo = own_cameo(session, user)
    if cameo is None:
        raise NotFound("you have no cameo", code="cameo_not_found")
    return cameo


def _handles(session: Session, user_ids) -> list[str]:
    ids = list(user_ids)
    return sorted(session.scalars(select(User.handle).where(User.id.in_(ids)))) if ids else []


def cameo_out(session: Session, cameo: Cameo) -> dict[str, Any]:
    return {"id": cameo.id, "display_name": cameo.display_name, "status": cameo.status,
            "permission": cameo.permission, "approved_handles": _handles(session, cameo.approved_user_ids),
            "blocked_handles": _handles(session, cameo.blocked_user_ids), "created_at": cameo.created_at,
            "revoked_at": cameo.revoked_at}


def _generation_out(session: Session, gen: Generation, user: User) -> dict[str, Any]:
    return {"id": gen.id, "creator_handle": gen.owner.handle, "status": gen.status,
            "prompt": gen.prompt if len(gen.prompt) <= SNIPPET else gen.prompt[:SNIPPET - 1] + "…",
            "created_at": gen.created_at, "may_delete": generations.can_manage(session, gen, user)}


def _featuring(session: Session, cameo: Cameo) -> list[Generation]:
    """Generations the cameo is on screen in (declared, detected, remixed, input), and requests that
    named it (a refused request records no appearance), oldest first."""
    on_screen = select(CameoAppearance.generation_id).where(CameoAppearance.cameo_id == cameo.id)
    # cameo_ids is a JSON list of ids; as text, an id appears quoted (both backends store it so).
    named = cast(Generation.cameo_ids, Text).like(f'%"{cameo.id}"%')
    return list(session.scalars(select(Generation).where(or_(Generation.id.in_(on_screen), named),
                                                         Generation.status != Status.DELETED)
                                .order_by(Generation.created_at, Generation.id)))


def _preview(changes: list[tuple[str, str]], rendering: list[str]) -> dict[str, Any]:
    grouped: dict[str, list[str]] = {action: [] for action in services.REVOCATION_ACTIONS.values()}
    for gid, action in changes:
        grouped[action].append(gid)
    return {**grouped, "rendering": rendering,
            "counts": {action: len(ids) for action, ids in grouped.items()} | {"rendering": len(rendering)}}


def _rendering(session: Session, cameo: Cameo) -> list[str]:
    """Renders under way: the revocation leaves them to the consent check that runs when they end."""
    return [g.id for g in services.featuring(session, cameo) if g.status in (Status.RENDERING, Status.SCANNING)]


class OwnerPage:
    def overview(self, session: Session, user: User) -> dict[str, Any] | None:
        cameo = own_cameo(session, user)
        if cameo is None:
            return None
        groups: dict[str, list[dict[str, Any]]] = {name: [] for name in [*GROUPS.values(), "in_flight"]}
        for gen in reversed(_featuring(session, cameo)):  # newest first
            name = GROUPS.get(Status(gen.status), "in_flight" if Status(gen.status) in IN_FLIGHT else None)
            if name is not None:
                groups[name].append(_generation_out(session, gen, user))
        return {"cameo": cameo_out(session, cameo), "appearances": groups}

    def revocation_preview(self, session: Session, user: User) -> dict[str, Any]:
        cameo = _require(session, user)
        if cameo.status == CameoStatus.REVOKED:
            return _preview([], [])
        # The revocation's own plan, so the preview cannot promise what the revocation does not do.
        plan = services.plan_revocation(session, cameo)
        return _preview([(gen.id, services.REVOCATION_ACTIONS[target]) for gen, target in plan],
                        _rendering(session, cameo))

    def revoke(self, session: Session, user: User) -> dict[str, Any]:
        cameo = _require(session, user)
        rendering = _rendering(session, cameo) if cameo.status != CameoStatus.REVOKED else []
        _, changed = services.revoke_with_cascade(session, user, cameo.id)
        return _preview(changed, rendering)

    def delete_cameo(self, session: Session, user: User) -> dict[str, Any]:
        done = self.revoke(session, user)
        cameo = _require(session, user)
        crops = len(session.scalars(select(FaceCrop.id).where(FaceCrop.cameo_id == cameo.id)).all())
        # Through the service, so the erasure is audited as any other deletion of the cameo.
        template = session.get(FaceTemplate, cameo.id) is not None
        services.delete_cameo(session, user, cameo.id)
        return done | {"erased": {"template": template, "crops": crops if template else 0}}

    def delete_video(self, session: Session, user: User, generation_id: str) -> dict[str, Any]:
        gen = generations.delete(session, user, generation_id)
        return {"id": gen.id, "status": gen.status}

    def set_permission(self, session: Session, user: User, permission: str) -> dict[str, Any]:
        cameo = _require(session, user)
        try:
            chosen = Permission(permission)
        except ValueError:
            raise ValidationFailed(f"permission is one of {[p.value for p in Permission]}",
                                   code="invalid_permission") from None
        cameo = services.update_permission(session, user, cameo.id, chosen, None, None)
        return cameo_out(session, cameo)

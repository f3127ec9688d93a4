"""The rightsholder portal's service (app.interfaces.RightsPortal): what the portal page shows and
does, as plain data, so review_ui reaches copyright only through the interface.

Everything is scoped to the signed-in user's organisation through the same checks the API uses
(services.org_of / owned_work, images._check_access, claims.file): another organisation's works
answer not found, exactly as over HTTP.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import runtime, uploads
from app.db import as_utc, utcnow
from app.errors import GreenlightError, ValidationFailed
from app.models import Case, Generation, Status, User
from copyright import claims, images, revenue, services
from copyright.catalogue import load_catalogue
from copyright.models import (
    ClaimAction, ClaimStatus, GenerationWork, OrgMember, PolicyKind, RegisteredWork, Restriction, VideoClaim,
    WorkClaim, WorkPolicy, WorkReferenceImage,
)

PROMPT_SNIPPET = 80
RECENT = 100  # generations and claims listed on the overview, newest first
MIN_REASON, MAX_REASON = 10, 5000
PERIOD = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


def _at(moment: datetime | None) -> str | None:
    return as_utc(moment).isoformat() if moment else None


def _policy(p: WorkPolicy) -> dict[str, Any]:
    return {"id": p.id, "version": p.version, "kind": p.kind, "share_percent": p.share_bp / 100,
            "restrictions": list(p.restrictions), "valid_from": _at(p.valid_from), "valid_until": _at(p.valid_until),
            "created_at": _at(p.created_at)}


def _reference(row: WorkReferenceImage) -> dict[str, Any]:
    size = None
    if row.storage_key:  # references added before images were kept have no file
        path = runtime.current().storage.path(row.storage_key)
        size = path.stat().st_size if path.is_file() else None
    return {"id": row.id, "created_at": _at(row.created_at), "size": size}


def _work_facts(session: Session, work_id: str) -> dict[str, Any]:
    shipped = load_catalogue().by_id(work_id)
    if shipped is not None:
        return {"title": shipped.title, "kind": shipped.kind, "aliases": list(shipped.aliases)}
    registered = session.get(RegisteredWork, work_id)
    return {"title": registered.title, "kind": registered.kind, "aliases": list(registered.aliases)}


def _work(session: Session, work_id: str) -> dict[str, Any]:
    history = session.scalars(select(WorkPolicy).where(WorkPolicy.work_id == work_id)
                              .order_by(WorkPolicy.version.desc())).all()
    current = services.policy_in_force(session, work_id, utcnow())
    refs = session.scalars(select(WorkReferenceImage).where(WorkReferenceImage.work_id == work_id)
                           .order_by(WorkReferenceImage.created_at, WorkReferenceImage.id))
    return {"id": work_id, **_work_facts(session, work_id), "policy": _policy(current) if current else None,
            "policy_history": [_policy(p) for p in history], "reference_images": [_reference(r) for r in refs]}


def _generation(gen: Generation, use: GenerationWork) -> dict[str, Any]:
    # Only a published video's prompt is public; a draft or a refused request stays its creator's.
    snippet = gen.prompt[:PROMPT_SNIPPET] if gen.status == Status.PUBLISHED else None
    return {"id": gen.id, "status": gen.status, "work_id": use.work_id, "rights_decision": use.decision,
            "prompt_snippet": snippet, "created_at": _at(gen.created_at)}


def _video_claim(c: VideoClaim, case: Case | None) -> dict[str, Any]:
    return {"id": c.id, "generation_id": c.generation_id, "work_id": c.work_id, "action": c.action,
            "status": c.status, "reason": c.reason, "dispute_reason": c.dispute_reason,
            "decision_reason": c.decision_reason, "created_at": _at(c.created_at), "disputed_at": _at(c.disputed_at),
            "decided_at": _at(c.decided_at),
            "case": {"id": case.id, "state": case.state, "due_at": _at(case.due_at), "decision": case.decision}
            if case else None}


def _sniff(data: bytes) -> str:
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    raise ValidationFailed("a reference image is a JPEG, PNG or WebP", code="not_an_image")


class Portal:
    """copyright's RightsPortal; stateless (the plugin builds one per request)."""

    def overview(self, session: Session, user: User) -> dict[str, Any]:
        org = services.org_of(session, user)
        members = session.scalars(select(User).join(OrgMember, OrgMember.user_id == User.id)
                                  .where(OrgMember.org_id == org.id).order_by(User.handle))
        work_ids = list(session.scalars(select(WorkClaim.work_id).where(
            WorkClaim.org_id == org.id, WorkClaim.status == ClaimStatus.VERIFIED.value).order_by(WorkClaim.work_id)))
        pending = session.scalars(select(WorkClaim).where(WorkClaim.org_id == org.id,
                                                          WorkClaim.status == ClaimStatus.PENDING.value)
                                  .order_by(WorkClaim.created_at))
        uses = session.execute(select(Generation, GenerationWork)
                               .join(GenerationWork, GenerationWork.generation_id == Generation.id)
                               .where(GenerationWork.work_id.in_(work_ids))
                               .order_by(Generation.created_at.desc()).limit(RECENT)).all() if work_ids else []
        filed = session.scalars(select(VideoClaim).where(VideoClaim.org_id == org.id)
                                .order_by(VideoClaim.created_at.desc()).limit(RECENT)).all()
        with_cases = [_video_claim(c, claims.dispute_case(session, c.id) if c.disputed_at else None) for c in filed]
        return {
            "organisation": {"id": org.id, "name": org.name,
                             "members": [{"id": u.id, "handle": u.handle} for u in members]},
            "works": [_work(session, work_id) for work_id in work_ids],
            "pending_claims": [{"id": c.id, "work_id": c.work_id, "title": services.work_title(session, c.work_id),
                                "created_at": _at(c.created_at)} for c in pending],
            "generations": [_generation(gen, use) for gen, use in uses],
            "video_claims": with_cases,
            "disputes": [c for c in with_cases if c["case"] is not None],
            "revenue": {"balances": revenue.org_balances(session, org.id),
                        "statements": [self._statement_summary(session, org.id, period)
                                       for period in revenue.statement_periods(session, org.id)]},
        }

    @staticmethod
    def _statement_summary(session: Session, org_id: str, period: str) -> dict[str, Any]:
        found = revenue.statement(session, org_id, period)
        return {"period": period, "closed": found.closed, "totals": found.totals, "lines": len(found.lines)}

    def set_policy(self, session: Session, user: User, work_id: str, kind: str, share_percent: float | None = None,
                   restrictions: Sequence[str] = ()) -> dict[str, Any]:
        try:
            policy_kind, wanted = PolicyKind(kind), [Restriction(r) for r in restrictions]
        except ValueError as exc:
            raise ValidationFailed(str(exc)) from None
        share_bp = round((share_percent or 0) * 100)  # the registry keeps basis points
        return _policy(services.set_policy(session, user, work_id, policy_kind, share_bp, wanted, None, None))

    def upload_reference(self, session: Session, user: User, work_id: str, image_bytes: bytes) -> dict[str, Any]:
        if not image_bytes:
            raise ValidationFailed("the upload had no bytes", code="empty_upload")
        if len(image_bytes) > uploads.max_image_bytes():
            raise GreenlightError("the image is too large", code="payload_too_large", status=413,
                                  details={"max_bytes": uploads.max_image_bytes()})
        services.owned_work(session, user, work_id)  # the portal is the organisation's, even for an admin
        ctype = _sniff(image_bytes)
        fd, name = tempfile.mkstemp(suffix=uploads.IMAGE_TYPES[ctype])
        path = Path(name)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(image_bytes)
            uploads.inspect_image(path, ctype)  # complete, decodable, not a pixel bomb: as the API checks
            row = images.add_reference_image(session, runtime.current().storage, user, work_id, path, ctype)
        finally:
            path.unlink(missing_ok=True)
        return _reference(row)

    def remove_reference(self, session: Session, user: User, work_id: str, image_id: str) -> None:
        services.owned_work(session, user, work_id)
        images.delete_reference_image(session, runtime.current().storage, user, work_id, image_id)

    def file_claim(self, session: Session, user: User, generation_id: str, work_id: str, action: str,
                   reason: str) -> dict[str, Any]:
        try:
            claim_action = ClaimAction(action)
        except ValueError as exc:
            raise ValidationFailed(str(exc)) from None
        if not MIN_REASON <= len(reason.strip()) <= MAX_REASON:  # as the API's VideoClaimIn asks
            raise ValidationFailed(f"a claim's reason is {MIN_REASON} to {MAX_REASON} characters")
        claim = claims.file(session, user, generation_id, work_id, claim_action, reason)
        # A claim waiting for review shows its review case; an open one has none until disputed.
        return _video_claim(claim, claims.latest_case(session, claim.id))

    def statement_csv(self, session: Session, user: User, period: str | None = None) -> str:
        org = services.org_of(session, user)
        if period is not None and not PERIOD.fullmatch(period):
            raise ValidationFailed("a period is YYYY-MM", code="invalid_period")
        periods = [period] if period else revenue.statement_periods(session, org.id)
        return revenue.statements_csv(revenue.statement(session, org.id, p) for p in periods)

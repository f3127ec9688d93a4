"""How a reviewer decides a cameo enrolment held for review (the `enrolment` case kind, opened by
likeness.enrolment.complete): its face matched another account's cameo, or a public figure of the
reference gallery whom the enrolling account is verified as (any other account's enrolment of a
figure's face is refused outright, likeness.enrolment.refuse_public_figure, and opens no case).

allow: the cameo becomes active (and, on a figure match, that figure's cameo). block: the cameo is
revoked and its biometric data (template and face crops) erased at once. Neither issues a DSA
statement of reasons: a refused enrolment is not content (EU DSA Art. 17 does not apply), so a
refusal is appealed through the case itself (app.appeals.file(case_id=...)); the enrollee is told
why the enrolment waits in the case's summary. Only the enrollee is a party: the owner of the
matched cameo is never told that someone enrolled a face like theirs.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import audit, cases, notifications
from app.db import utcnow
from app.errors import Conflict
from app.models import Case, CaseKind, User
from likeness import templates
from likeness.figures import load_figures
from likeness.models import Cameo, CameoStatus, EnrolmentAllowance

STAGE = "likeness.enrolment"  # the `stage` its reasons name: routed to the likeness queue
KIND = CaseKind.ENROLMENT.value


def open_enrolment_case(session: Session, user: User, cameo: Cameo, *,
                        matched_cameo: tuple[str, float] | None = None,
                        matched_figure: tuple[str, float] | None = None) -> Case:
    """The case for an enrolment held for review, with a reason per match: (cameo id, score) of
    another account's cameo, (figure id, score) of the public figure the account is verified as."""
    details: dict[str, Any] = {}
    reasons, told = [], []
    if matched_figure is not None:
        figure_id, score = matched_figure
        details |= {"matched_figure_id": figure_id, "figure_score": round(float(score), 4)}
        reasons.append({"stage": STAGE, "code": "face_matches_public_figure",
                        "message": "the enrolled face matches a public figure of the reference gallery whom the "
                                   "enrolling account is verified as: confirm it is them",
                        "details": {"score": details["figure_score"], "matched_figure_id": figure_id}})
        told.append("your face matches the public figure your account is verified as, and a reviewer confirms "
                    "that it is you")
    if matched_cameo is not None:
        cameo_id, score = matched_cameo
        details |= {"score": round(float(score), 4), "matched_cameo_id": cameo_id}
        reasons.append({"stage": STAGE, "code": "face_matches_other_cameo",
                        "message": "the enrolled face matches a cameo enrolled by another account",
                        "details": {"score": details["score"], "matched_cameo_id": cameo_id}})
        told.append("your face matches a cameo another account enrolled, and a reviewer decides whose it is")
    return cases.open_case(
        session, kind=KIND, subject_type="cameo", subject_id=cameo.id, opened_by=user, details=details,
        reasons=reasons,
        # What the enrollee reads at /me/cases (parties see the summary, not the reasons): why it waits.
        summary="Your cameo waits for a reviewer: " + "; ".join(told) + ".",
        # Privacy: the matched cameo's owner is not a party and is not told.
        parties={user.id: "enrollee"})


class EnrolmentHandler:
    decisions = frozenset({"allow", "block"})
    # A refusal may be appealed by the enrollee (app.appeals.file with case_id); an allowed enrolment
    # has nobody to appeal it (the matched owner is not a party).
    appealable_decisions = frozenset({"block"})

    def decide(self, session: Session, case: Case, decision: str, actor: User, note: str) -> str | None:
        cameo = session.get(Cameo, case.subject_id)
        if cameo is None or cameo.status != CameoStatus.PENDING_REVIEW:
            raise Conflict("the cameo no longer waits for review (its owner deleted it)", code="cameo_not_pending",
                           details={"status": cameo.status if cameo else None})
        figure_id = (case.details or {}).get("matched_figure_id")
        if decision == "allow":
            cameo.status = CameoStatus.ACTIVE.value
            # A reviewer confirmed the verified figure's own face: this cameo is that figure's too
            # (likeness.services.usable_figure_cameos), as the cameo an admin marked already was.
            if figure_id and cameo.public_figure_id is None:
                cameo.public_figure_id = figure_id
        else:
            cameo.status, cameo.revoked_at = CameoStatus.REVOKED.value, utcnow()
            templates.erase_cameo(session, cameo.id)
        audit.record(session, actor=actor.id, action="cameo.enrolment_reviewed", object_type="cameo",
                     object_id=cameo.id, after={"decision": decision, "status": cameo.status, "case_id": case.id,
                                                  "public_figure_id": cameo.public_figure_id})
        return None  # no statement of reasons: a refused enrolment is not content

    def reverse(self, session: Session, case: Case, actor: User, note: str) -> None:
        """A refusal overturned on appeal. The refused cameo cannot come back: its template and face
        crops were erased when it was refused, and biometric data is never kept "in case". So the
        enrollee may enrol again, and the match that held them (this other account's cameo) no longer
        does: an EnrolmentAllowance that enrol() reads."""
        cameo = session.get(Cameo, case.subject_id)
        user_id = cameo.owner_id if cameo is not None else case.opened_by_id
        matched_id = (case.details or {}).get("matched_cameo_id")
        if user_id is None:
            return
        if matched_id and session.get(Cameo, matched_id) is not None \
                and session.get(EnrolmentAllowance, (user_id, matched_id)) is None:
            session.add(EnrolmentAllowance(user_id=user_id, matched_cameo_id=matched_id, case_id=case.id))
        audit.record(session, actor=actor.id, action="cameo.enrolment_allowed", object_type="cameo",
                     object_id=case.subject_id, after={"case_id": case.id, "matched_cameo_id": matched_id})
        message = "Your appeal succeeded: enrol your face again (POST /api/v1/cameos/enrol)"
        if matched_id:
            message += "; the match with another account's cameo that held it before will not hold it again"
        if (case.details or {}).get("matched_figure_id"):
            message += "; as your account is verified as a public figure, a reviewer confirms the new enrolment too"
        notifications.notify(session, user_id, "enrolment_allowed", case_id=case.id, message=message + ".")

    def overdue(self, session: Session, case: Case, actor: User) -> bool:
        return False  # a person's likeness is never decided by a clock: the sweep alerts the seniors

    def describe(self, session: Session, case: Case) -> dict[str, Any]:
        details = case.details or {}
        cameo = session.get(Cameo, case.subject_id)
        matched = session.get(Cameo, details["matched_cameo_id"]) if details.get("matched_cameo_id") else None
        return {"score": details.get("score"),
                "matched_cameo": {"id": matched.id, "display_name": matched.display_name} if matched else None,
                "matched_figure": _figure(details.get("matched_figure_id")),
                "figure_score": details.get("figure_score"),
                "cameo": {"id": cameo.id, "display_name": cameo.display_name, "status": cameo.status,
                          "enrolled_at": cameo.enrolled_at} if cameo else None}


def _figure(figure_id: str | None) -> dict[str, str] | None:
    if not figure_id:
        return None
    names = {f.id: f.name for f in load_figures().figures}
    return {"id": figure_id, "name": names.get(figure_id, figure_id)}


def allowed_matches(session: Session, user_id: str) -> set[str]:
    """Other accounts' cameos whose match no longer holds this user's enrolment (an appeal won)."""
    return set(session.scalars(select(EnrolmentAllowance.matched_cameo_id).where(EnrolmentAllowance.user_id == user_id)))

"""Reviewer wellness: held videos reach a reviewer blurred, greyscale and muted, and only after
they choose to reveal one. Each reveal is logged (who revealed what, when) and counts against a
daily budget (GL_EXPOSURE_DAILY_BUDGET); after GL_EXPOSURE_BREAK_AFTER reveals in a row a break
of GL_EXPOSURE_BREAK_MINUTES is enforced. Streaming the video needs a recent reveal of that case."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import audit, cases
from app.config import setting
from app.db import as_utc, utcnow
from app.errors import Forbidden, GreenlightError
from app.models import Case, CaseEvent, User

REVEALED = "revealed"
REVEAL_VALID = timedelta(hours=1)


@dataclass(frozen=True)
class Exposure:
    revealed_today: int
    budget: int
    break_until: datetime | None

    @property
    def left_today(self) -> int:
        return max(self.budget - self.revealed_today, 0)


def _start_of_day(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def exposure(session: Session, reviewer: User, now: datetime | None = None) -> Exposure:
    now = now or utcnow()
    today = session.scalar(select(func.count()).select_from(CaseEvent).where(
        CaseEvent.actor_id == reviewer.id, CaseEvent.kind == REVEALED, CaseEvent.created_at >= _start_of_day(now)))
    run = setting("GL_EXPOSURE_BREAK_AFTER")
    pause = timedelta(minutes=setting("GL_EXPOSURE_BREAK_MINUTES"))
    recent = [as_utc(t) for t in session.scalars(
        select(CaseEvent.created_at).where(CaseEvent.actor_id == reviewer.id, CaseEvent.kind == REVEALED)
        .order_by(CaseEvent.created_at.desc()).limit(run))]
    break_until = None
    # `run` reveals with no pause of `pause` between them: the next one waits until `pause` after the last.
    if pause and len(recent) == run and all(a - b < pause for a, b in zip(recent, recent[1:])):
        if now - recent[0] < pause:
            break_until = recent[0] + pause
    return Exposure(today or 0, setting("GL_EXPOSURE_DAILY_BUDGET"), break_until)


def reveal(session: Session, reviewer: User, case_id: str) -> Exposure:
    case = cases.workable(session, reviewer, case_id)
    if case.generation is None or not case.generation.media_key:
        raise GreenlightError("this case has no video", code="media_not_found", status=404)
    now = utcnow()
    state = exposure(session, reviewer, now)
    if state.break_until is not None:
        raise GreenlightError("take a break before revealing more", code="exposure_break", status=429,
                              details={"until": state.break_until.isoformat()})
    if state.left_today == 0:
        raise GreenlightError("today's budget of revealed videos is spent", code="exposure_budget_spent", status=429,
                              details={"budget": state.budget})
    cases.record_event(session, case, REVEALED, reviewer.id, generation_id=case.generation_id)
    audit.record(session, actor=reviewer.id, action="case.media_revealed", object_type="case", object_id=case.id,
                 after={"generation_id": case.generation_id})
    return Exposure(state.revealed_today + 1, state.budget, None)


def media_for(session: Session, reviewer: User, case_id: str) -> Case:
    """The case whose video this reviewer may stream now (a reveal within the hour); each view is audited."""
    case = cases.workable(session, reviewer, case_id)
    if case.generation is None or not case.generation.media_key:
        raise GreenlightError("this case has no video", code="media_not_found", status=404)
    revealed = session.scalar(select(CaseEvent.id).where(
        CaseEvent.case_id == case.id, CaseEvent.actor_id == reviewer.id, CaseEvent.kind == REVEALED,
        CaseEvent.created_at >= utcnow() - REVEAL_VALID).limit(1))
    if revealed is None:
        raise Forbidden("reveal the video first", code="reveal_first")
    audit.record(session, actor=reviewer.id, action="case.media_viewed", object_type="case", object_id=case.id,
                 after={"generation_id": case.generation_id})
    return case


def reveal_log(session: Session, since: datetime, reviewer_id: str | None = None) -> list[CaseEvent]:
    stmt = select(CaseEvent).where(CaseEvent.kind == REVEALED, CaseEvent.created_at >= since)
    if reviewer_id:
        stmt = stmt.where(CaseEvent.actor_id == reviewer_id)
    return list(session.scalars(stmt.order_by(CaseEvent.created_at.desc())))


def blurred_still(video_path) -> bytes:
    """A first frame, greyscale and blurred past recognition: what a reviewer sees before revealing."""
    import io

    from PIL import Image, ImageFilter

    from app.kit.media import sample_frames
    frames = sample_frames(video_path, per_second=1.0, max_seconds=60.0)
    if not frames:
        raise GreenlightError("the video has no frames", code="media_unreadable", status=422)
    image = Image.fromarray(frames[0][1][..., ::-1].copy()).convert("L")
    image = image.resize((max(image.width // 8, 1), max(image.height // 8, 1))).filter(ImageFilter.GaussianBlur(3))
    out = io.BytesIO()
    image.resize((image.width * 8, image.height * 8)).save(out, format="PNG")
    return out.getvalue()

"""Generation services: submit, gate, render, scan, review, publish, delete, recover.

Each step is idempotent by generation id: it acts only from the state it expects and moves on
with a compare-and-set transition in the same transaction as its verdicts and audit rows, so
re-running a job (retry, duplicate delivery, a restarted worker) never duplicates anything.
"""

from __future__ import annotations

import logging
import random
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import audit, pipeline, runtime, statements, uploads
from app.db import on_commit, utcnow
from app.errors import Conflict, NotFound, StaleState
from app.models import Generation, Phase, ReviewItem, Status, Upload, User, Verdict as VerdictRow
from app.queues import GATE, RENDER, SCAN
from app.runtime import Runtime
from app.stage import Decision, Requester, StageContext, Verdict, combine
from app.states import IN_FLIGHT, transition

log = logging.getLogger(__name__)

SYSTEM = "system:pipeline"
_AFTER_PRE = {Decision.ALLOW: Status.QUEUED, Decision.REVIEW: Status.IN_REVIEW, Decision.BLOCK: Status.BLOCKED}
_AFTER_POST = {Decision.ALLOW: Status.DRAFT, Decision.REVIEW: Status.IN_REVIEW, Decision.BLOCK: Status.BLOCKED}
_JOB_FOR_STATUS = {Status.SUBMITTED: GATE, Status.GATING: GATE, Status.QUEUED: RENDER,
                   Status.RENDERING: RENDER, Status.SCANNING: SCAN}


def media_key(generation_id: str) -> str:
    return f"generations/{generation_id}.mp4"


# -- submit -------------------------------------------------------------------------------

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


def submit_and_gate(rt: Runtime, session: Session, owner: User, prompt: str, cameo_ids: list[str],
                    remix_of: str | None, input_image_id: str | None = None) -> str:
    """Commit the request, then gate it at once (or hand it to the gate queue). Returns its id."""
    gen_id = submit(session, owner, prompt, cameo_ids, remix_of, input_image_id).id
    session.commit()
    if rt.config.gate_inline:
        try:
            gate(rt, gen_id)
        except Exception:
            # The gate queue retries with backoff; the caller sees `submitted` or `gating` meanwhile.
            log.exception("inline gate failed for %s; handing to the gate queue", gen_id)
            enqueue(rt, GATE, gen_id)
    else:
        enqueue(rt, GATE, gen_id)
    session.expire_all()
    return gen_id


def status_of(session: Session, generation_id: str) -> str:
    return session.scalar(select(Generation.status).where(Generation.id == generation_id))


def can_view(session: Session, gen: Generation, user: User) -> bool:
    """The creator, the owners of cameos in it (co-owners), and, once published, everyone."""
    from likeness.services import is_co_owner

    if gen.status == Status.DELETED:
        return False
    if gen.owner_id == user.id or is_co_owner(session, user.id, gen.id):
        return True
    return gen.status == Status.PUBLISHED and not (gen.age_restricted and user.is_teen)


def can_manage(session: Session, gen: Generation, user: User) -> bool:
    """Delete rights: the creator and every co-owner."""
    from likeness.services import is_co_owner

    return gen.status != Status.DELETED and (gen.owner_id == user.id or is_co_owner(session, user.id, gen.id))


def get_owned(session: Session, user: User, generation_id: str) -> Generation:
    gen = session.get(Generation, generation_id)
    if gen is None or gen.owner_id != user.id:
        raise NotFound("generation not found", code="generation_not_found")
    return gen


# -- pipeline steps -------------------------------------------------------------------------

def _context(session: Session, gen: Generation, media_path: Path | None = None) -> StageContext:
    owner = gen.owner
    input_image = session.get(Upload, gen.input_image_id) if gen.input_image_id else None
    return StageContext(generation_id=gen.id, prompt=gen.prompt, cameo_ids=list(gen.cameo_ids or []),
                        remix_of=gen.remix_of_id, requester=Requester(owner.id, owner.handle, owner.is_teen),
                        session=session, media_path=media_path,
                        input_image_path=runtime.current().storage.path(input_image.key) if input_image else None)


def _persist_verdicts(session: Session, gen: Generation, phase: Phase, verdicts: list[Verdict]) -> None:
    for v in verdicts:
        session.add(VerdictRow(generation_id=gen.id, phase=phase.value, stage=v.stage, stage_version=v.version,
                               decision=v.decision.value, reasons=[r.to_dict() for r in v.reasons],
                               scores=v.scores, latency_ms=round(v.latency_ms, 3)))


def _open_review(session: Session, gen: Generation, phase: Phase, verdicts: list[Verdict]) -> None:
    reasons = [dict(r.to_dict(), stage=v.stage) for v in verdicts if v.decision == Decision.REVIEW for r in v.reasons]
    session.add(ReviewItem(generation_id=gen.id, phase=phase.value, reasons=reasons,
                           queue=reasons[0]["stage"] if reasons else "general"))


def _apply(session: Session, gen: Generation, phase: Phase, verdicts: list[Verdict],
           outcomes: dict[Decision, Status], **changes) -> Status:
    decision = combine([v.decision for v in verdicts])
    target = outcomes[decision]
    if any(v.restrictions for v in verdicts) and not gen.age_restricted:
        changes["age_restricted"] = True
    transition(session, gen, target, actor=SYSTEM, reason=f"{phase.value}:{decision.value}", **changes)
    _persist_verdicts(session, gen, phase, verdicts)
    if target == Status.IN_REVIEW:
        _open_review(session, gen, phase, verdicts)
    if target == Status.BLOCKED:
        statements.issue(session, gen, origin=phase.value, reasons=[
            dict(r.to_dict(), stage=v.stage) for v in verdicts if v.decision == Decision.BLOCK for r in v.reasons])
    elif target == Status.DRAFT and gen.age_restricted:
        _state_age_restriction(session, gen, origin=phase.value)
    return target


def _state_age_restriction(session: Session, gen: Generation, *, origin: str,
                           automated_decision: str = statements.AUTOMATED_FULLY) -> None:
    """The video is finished and will be hidden from teen accounts: its creator is told why."""
    session.flush()
    stored = session.scalars(select(VerdictRow).where(VerdictRow.generation_id == gen.id).order_by(VerdictRow.id))
    reasons = [dict(r, stage=v.stage) for v in stored for r in v.reasons
               if (r.get("details") or {}).get("action") == "age_restrict"]
    statements.issue(session, gen, origin=origin, visibility=statements.VISIBILITY_AGE_RESTRICTED,
                     automated_decision=automated_decision, reasons=reasons)


def _claim(rt: Runtime, generation_id: str, ready: Status, working: Status) -> bool:
    """Move ready -> working (or find it already working after a crash). False: nothing to do."""
    with rt.db.transaction() as s:
        gen = s.get(Generation, generation_id)
        if gen is None:
            return False
        if gen.status == ready:
            transition(s, gen, working, actor=SYSTEM)
            return True
        return gen.status == working


def gate(rt: Runtime, generation_id: str) -> Status | None:
    """Run the pre-render stages; the outcome is blocked, in_review or queued (render enqueued).

    One transaction from claim to outcome: a crash part-way rolls back to `submitted`, which the
    recovery sweep re-gates like `gating`, and a fast gate pays for one commit, not two."""
    try:
        with rt.db.transaction() as s:
            gen = s.get(Generation, generation_id)
            if gen is None or gen.status not in (Status.SUBMITTED, Status.GATING):
                return None
            if gen.status == Status.SUBMITTED:
                transition(s, gen, Status.GATING, actor=SYSTEM)
            stages, ctx = pipeline.PRE_RENDER, _context(s, gen)
            verdicts = pipeline.run_stages(stages, ctx)
            target = _apply(s, gen, Phase.PRE_RENDER, verdicts, _AFTER_PRE)
            pipeline.persist_findings(stages, ctx, verdicts)
    except StaleState:
        log.info("gate %s: another run moved it first", generation_id)
        return None
    if target == Status.QUEUED:
        enqueue(rt, RENDER, generation_id)
    return target


def render(rt: Runtime, generation_id: str) -> Status | None:
    from generator.procedural import RenderSpec, render_to_mp4

    try:
        if not _claim(rt, generation_id, Status.QUEUED, Status.RENDERING):
            return None
        with rt.db.transaction() as s:
            gen = s.get(Generation, generation_id)
            prompt, seed, handle = gen.prompt, gen.seed, gen.owner.handle
        key = media_key(generation_id)
        # Same key on every attempt: a re-run replaces the file atomically, never adds a second.
        spec = RenderSpec(fps=rt.config.render_fps, seconds=rt.config.render_seconds,
                          watermark=f"@{handle} · greenlight")
        result = render_to_mp4(prompt, rt.storage.staging_path(key), seed=seed, spec=spec)
        with rt.db.transaction() as s:
            gen = s.get(Generation, generation_id)
            if gen is None or gen.status != Status.RENDERING:
                return None
            transition(s, gen, Status.SCANNING, actor=SYSTEM, media_key=key, media_sha256=result.sha256)
    except StaleState:
        log.info("render %s: another run moved it first", generation_id)
        return None
    enqueue(rt, SCAN, generation_id)
    return Status.SCANNING


def scan(rt: Runtime, generation_id: str) -> Status | None:
    try:
        with rt.db.transaction() as s:
            gen = s.get(Generation, generation_id)
            if gen is None or gen.status != Status.SCANNING:
                return None
            stages, ctx = pipeline.POST_RENDER, _context(s, gen, media_path=rt.storage.path(gen.media_key))
            verdicts = pipeline.run_stages(stages, ctx)
            target = _apply(s, gen, Phase.POST_RENDER, verdicts, _AFTER_POST)
            pipeline.persist_findings(stages, ctx, verdicts)
            return target
    except StaleState:
        log.info("scan %s: another run moved it first", generation_id)
        return None


_STEPS = {GATE: "app.jobs.gate_job", RENDER: "app.jobs.render_job", SCAN: "app.jobs.scan_job"}


def enqueue(rt: Runtime, queue: str, generation_id: str) -> bool:
    return rt.queues.enqueue(queue, _STEPS[queue], generation_id, on_failure="app.jobs.on_job_failure")


def mark_failed(rt: Runtime, generation_id: str, error: str) -> bool:
    with rt.db.transaction() as s:
        gen = s.get(Generation, generation_id)
        if gen is None or gen.status not in IN_FLIGHT:
            return False
        transition(s, gen, Status.FAILED, actor=SYSTEM, reason="job_failed", error=error[:2000])
        return True


def recover(rt: Runtime, older_than_s: float) -> int:
    """Re-enqueue in-flight generations that no live job is carrying (crashed worker, lost
    embedded queue, a crash between commit and enqueue). Returns how many were enqueued."""
    cutoff = utcnow() - timedelta(seconds=older_than_s)
    with rt.db.transaction() as s:
        rows = s.execute(select(Generation.id, Generation.status).where(
            Generation.status.in_([st.value for st in IN_FLIGHT]), Generation.updated_at <= cutoff)).all()
    return sum(enqueue(rt, _JOB_FOR_STATUS[Status(status)], gid) for gid, status in rows)


# -- people acting on generations --------------------------------------------------------------

def decide_review(rt: Runtime, session: Session, item_id: str, reviewer: User, decision: Decision,
                  note: str) -> ReviewItem:
    item = session.get(ReviewItem, item_id)
    if item is None:
        raise NotFound("review item not found", code="review_item_not_found")
    if item.status != "open":
        raise Conflict("review item already decided", code="review_item_decided")
    gen = item.generation
    if decision == Decision.ALLOW:
        target = Status.QUEUED if item.phase == Phase.PRE_RENDER else Status.DRAFT
    else:
        target = Status.BLOCKED
    transition(session, gen, target, actor=reviewer.id, reason=f"human_review:{decision.value}")
    if target == Status.QUEUED:
        on_commit(session, lambda: enqueue(rt, RENDER, gen.id))
    session.add(VerdictRow(generation_id=gen.id, phase=Phase.HUMAN.value, stage="human_review", stage_version="1",
                           decision=decision.value, actor_id=reviewer.id,
                           reasons=[{"code": f"reviewer_{decision.value}", "message": note or decision.value,
                                     "details": {"review_item_id": item.id}}]))
    if target == Status.DRAFT and gen.age_restricted:
        _state_age_restriction(session, gen, origin="human_review", automated_decision=statements.AUTOMATED_PARTIALLY)
    if target == Status.BLOCKED:
        statements.issue(session, gen, origin="human_review", automated_decision=statements.NOT_AUTOMATED,
                         reasons=[*item.reasons, {"stage": "human_review", "code": "reviewer_block",
                                                  "message": note or "blocked by a reviewer"}])
    item.status, item.decision, item.note = "decided", decision.value, note
    item.decided_by_id, item.decided_at = reviewer.id, utcnow()
    audit.record(session, actor=reviewer.id, action="review.decided", object_type="review_item",
                 object_id=item.id, after={"decision": decision.value, "generation_id": gen.id})
    return item


def publish(session: Session, user: User, generation_id: str) -> Generation:
    from copyright.claims import blocks_publishing
    from likeness.services import consent_problems

    gen = get_owned(session, user, generation_id)
    takedown = blocks_publishing(session, gen.id)
    if takedown is not None and gen.status == Status.DRAFT:
        raise Conflict("a copyright takedown keeps this video unpublished", code="copyright_takedown",
                       details={"claim_id": takedown.id, "status": takedown.status})
    problems = consent_problems(session, gen.owner_id, list(gen.cameo_ids or []))
    if problems and gen.status == Status.DRAFT:
        raise Conflict("a cameo in this video no longer allows you to use it", code="consent_revoked",
                       details={"cameos": problems})
    return transition(session, gen, Status.PUBLISHED, actor=user.id)


def remove(session: Session, gen: Generation, *, actor: str, reason: str) -> Generation:
    """Delete a generation; its media file goes once the deletion commits. Verdicts and audit rows stay."""
    transition(session, gen, Status.DELETED, actor=actor, reason=reason)
    if gen.media_key:
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
    return remove(session, gen, actor=user.id, reason="deleted_by_owner" if gen.owner_id == user.id
                  else "deleted_by_co_owner")

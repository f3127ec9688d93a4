"""The orchestrator: drives one generation through the pipeline. Gate (pre-render stages), render
(the registered renderer), scan (post-render stages): each step claims the generation, builds
the stages' context, runs them, applies the combined decision, lets the stages persist their
findings and enqueues the next step.

Each step is idempotent by generation id: it acts only from the state it expects and moves on
with a compare-and-set transition in the same transaction as its verdicts and audit rows, so
re-running a job (retry, duplicate delivery, a restarted worker) never duplicates anything.
Domains never import this module: what they do to a generation goes through app.generations.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, lazyload

from app import cases, domains, pipeline, runtime, statements
from app.interfaces import CameoFaces, ConsentReceipts, RenderRequest
from app.db import utcnow
from app.errors import StaleState
from app.generations import MEDIA_FOLDER, media_key, submit, visible_label
from app.models import Generation, Phase, Status, Upload, User, VerdictRecord
from app.queues import ABANDONED, GATE, LIVE, QUEUE_NAMES, RENDER, SCAN, job_id
from app.runtime import Runtime
from app.stage import Decision, Requester, Stage, StageContext, Verdict, combine
from app.states import IN_FLIGHT, transition

log = logging.getLogger(__name__)

SYSTEM = "system:pipeline"
_AFTER_PRE = {Decision.ALLOW: Status.QUEUED, Decision.REVIEW: Status.IN_REVIEW, Decision.BLOCK: Status.BLOCKED}
_AFTER_POST = {Decision.ALLOW: Status.DRAFT, Decision.REVIEW: Status.IN_REVIEW, Decision.BLOCK: Status.BLOCKED}
_JOB_FOR_STATUS = {Status.SUBMITTED: GATE, Status.GATING: GATE, Status.QUEUED: RENDER,
                   Status.RENDERING: RENDER, Status.SCANNING: SCAN}


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


def run_stages(stages: tuple[Stage, ...], ctx: StageContext) -> list[Verdict]:
    """Every stage runs (no short-circuit) so each verdict records why, for review and dry runs."""
    verdicts: list[Verdict] = []
    for stage in stages:
        started = time.perf_counter()
        verdict = stage.check(ctx)
        verdict.latency_ms = (time.perf_counter() - started) * 1000.0
        verdict.stage, verdict.version = stage.name, stage.version
        undeclared = set(verdict.facts) - set(stage.produces)
        if undeclared:
            raise domains.RegistryError(f"{stage.name} set facts it does not declare: {sorted(undeclared)}")
        for name, value in verdict.facts.items():
            # Several stages may tell the same fact (prompt and frames both see sexual content): any wins.
            ctx.facts[name] = ctx.facts.get(name) or value
        verdicts.append(verdict)
    return verdicts


def persist_findings(stages: tuple[Stage, ...], ctx: StageContext, verdicts: list[Verdict]) -> None:
    """Let each stage record what a real run found (a dry run calls run_stages only)."""
    for stage, verdict in zip(stages, verdicts, strict=True):
        stage.persist(ctx, verdict)


# -- steps -----------------------------------------------------------------------------------

def _context(session: Session, gen: Generation, media_path: Path | None = None) -> StageContext:
    owner = gen.owner
    input_image = session.get(Upload, gen.input_image_id) if gen.input_image_id else None
    return StageContext(generation_id=gen.id, prompt=gen.prompt, cameo_ids=list(gen.cameo_ids or []),
                        remix_of=gen.remix_of_id, requester=Requester(owner.id, owner.handle, owner.is_teen),
                        session=session, media_path=media_path,
                        input_image_path=runtime.current().storage.path(input_image.key) if input_image else None)


def _persist_verdicts(session: Session, gen: Generation, phase: Phase, verdicts: list[Verdict]) -> None:
    for v in verdicts:
        session.add(VerdictRecord(generation_id=gen.id, phase=phase.value, stage=v.stage, stage_version=v.version,
                               decision=v.decision.value, reasons=[r.to_dict() for r in v.reasons],
                               scores=v.scores, latency_ms=round(v.latency_ms, 3)))


def _apply(session: Session, gen: Generation, phase: Phase, verdicts: list[Verdict],
           outcomes: dict[Decision, Status], **changes) -> Status:
    decision = combine([v.decision for v in verdicts])
    target = outcomes[decision]
    if any(v.restrictions for v in verdicts) and not gen.age_restricted:
        changes["age_restricted"] = True
    transition(session, gen, target, actor=SYSTEM, reason=f"{phase.value}:{decision.value}", **changes)
    _persist_verdicts(session, gen, phase, verdicts)
    if target == Status.IN_REVIEW:
        cases.open_review(session, gen, phase.value, [
            dict(r.to_dict(), stage=v.stage) for v in verdicts if v.decision == Decision.REVIEW for r in v.reasons])
    if target == Status.BLOCKED:
        statements.issue(session, gen, origin=phase.value, reasons=[
            dict(r.to_dict(), stage=v.stage) for v in verdicts if v.decision == Decision.BLOCK for r in v.reasons])
    elif target == Status.DRAFT and gen.age_restricted:
        state_age_restriction(session, gen, origin=phase.value)
    return target


def state_age_restriction(session: Session, gen: Generation, *, origin: str,
                           automated_decision: str = statements.AUTOMATED_FULLY) -> None:
    """The video is finished and will be hidden from teen accounts: its creator is told why."""
    session.flush()
    stored = session.scalars(select(VerdictRecord).where(VerdictRecord.generation_id == gen.id).order_by(VerdictRecord.id))
    reasons = [dict(r, stage=v.stage) for v in stored for r in v.reasons
               if (r.get("details") or {}).get("action") == "age_restrict"]
    statements.issue(session, gen, origin=origin, visibility=statements.VISIBILITY_AGE_RESTRICTED,
                     automated_decision=automated_decision, reasons=reasons)


WARM_UP_PROMPT = "a paper boat drifting down a rainy street at dusk"


def warm_up(rt: Runtime) -> None:
    """Run the pre-render stages once on a made-up request, in a transaction that is rolled back,
    so a server process loads its models before its first request instead of during it (MiniLM
    and its exemplar matrices take seconds). Nothing is written; a stage that fails here is logged
    and fails again, visibly, on the request that needs it."""
    session = rt.db.sessions()
    try:
        ctx = StageContext(generation_id="warm-up", prompt=WARM_UP_PROMPT, cameo_ids=[], remix_of=None,
                           requester=Requester("system:warm-up", "warm_up", False), session=session)
        for stage in pipeline.stages(pipeline.PRE_RENDER, rt.config.stages_off):
            try:
                ctx.facts.update(stage.check(ctx).facts)  # later stages read what earlier ones found
            except Exception:
                log.warning("warm-up: %s failed", stage.name, exc_info=True)
    finally:
        session.rollback()
        session.close()


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

    One transaction from claim to outcome (submitted straight to it: no one could see a `gating`
    step, app/states.py): a crash part-way rolls back to `submitted`, which the recovery sweep
    re-gates, and a fast gate pays for one commit, not two.

    The stages run before the first write: every transition appends to the audit chain, which
    serialises its appenders (on PostgreSQL an advisory lock held to commit), so claiming first
    made every gate on the platform wait for the model work of the one before it (bench/api_load.py:
    23 POST /generations a second at 70 ms server CPU each, on 2 cores). The claim's compare-and-set
    still decides which of two racing runs writes; the loser only wasted its stage time."""
    try:
        with rt.db.transaction() as s:
            # A generation being gated has no verdicts yet: none are fetched unless a stage asks.
            gen = s.get(Generation, generation_id, options=[lazyload(Generation.verdicts)])
            if gen is None or gen.status not in (Status.SUBMITTED, Status.GATING):
                return None
            stages, ctx = pipeline.stages(pipeline.PRE_RENDER, rt.config.stages_off), _context(s, gen)
            verdicts = run_stages(stages, ctx)
            target = _apply(s, gen, Phase.PRE_RENDER, verdicts, _AFTER_PRE)
            persist_findings(stages, ctx, verdicts)
    except StaleState:
        log.info("gate %s: another run moved it first", generation_id)
        return None
    if target == Status.QUEUED:
        enqueue(rt, RENDER, generation_id)
    return target


REMIX_DEPTH = 8  # ancestors a remix's render replays; an older root is not replayed


def _lineage(session: Session, gen: Generation) -> list[tuple[str, int]]:
    """(prompt, seed) of the generation's ancestors, root first, for a remix: the renderer replays
    them to get the parent's clip and continues from it. Empty for a first generation."""
    chain: list[tuple[str, int]] = []
    parent = session.get(Generation, gen.remix_of_id) if gen.remix_of_id else None
    while parent is not None and len(chain) < REMIX_DEPTH:
        chain.append((parent.prompt, parent.seed))
        parent = session.get(Generation, parent.remix_of_id) if parent.remix_of_id else None
    return chain[::-1]


def _provenance(session: Session, gen: Generation) -> dict:
    """What the render's C2PA manifest states besides the model: the gates that let it through
    (each stage's latest pre-render verdict: its policy version and decision, a reviewer's too)
    and a consent receipt per person shown (app.interfaces.ConsentReceipts)."""
    latest: dict[str, VerdictRecord] = {}
    for v in sorted(gen.verdicts, key=lambda v: v.id):
        if v.phase == Phase.PRE_RENDER:
            latest[v.stage] = v
    gates = [{"stage": v.stage, "version": v.stage_version, "decision": v.decision} for v in latest.values()]
    return {"policies": gates, "consent": domains.service(ConsentReceipts).receipts(session, gen.id)}


def _render_request(rt: Runtime, s: Session, gen: Generation) -> RenderRequest:
    upload = s.get(Upload, gen.input_image_id) if gen.input_image_id else None
    return RenderRequest(
        generation_id=gen.id, prompt=gen.prompt, out_path=rt.storage.staging_path(media_key(gen.id)), seed=gen.seed,
        fps=rt.config.render_fps, seconds=rt.config.render_seconds, watermark=visible_label(gen.owner.handle),
        provenance=_provenance(s, gen), lineage=tuple(_lineage(s, gen)),
        input_image=rt.storage.path(upload.key) if upload else None,
        # decrypted here, held in memory by this job only, composited and dropped
        faces=tuple(domains.service(CameoFaces).faces(s, list(gen.cameo_ids or []))))


def _batchable(gen: Generation) -> bool:
    """Plain text-to-video, which the model samples in batches: a remix replays its parent's clip
    and an input image is not sampled."""
    return gen.remix_of_id is None and gen.input_image_id is None


def _claim_companions(rt: Runtime, leader_id: str, wanted: int) -> list[str]:
    """Up to `wanted` other queued text-to-video generations for the leader's batch, oldest first.
    Each is taken off the render queue first (app.queues.Queues.take), so no other worker can
    start it too; one that left `queued` meanwhile (blocked, deleted) is dropped with its job."""
    if wanted <= 0:
        return []
    with rt.db.transaction() as s:
        candidates = s.scalars(
            select(Generation.id).where(Generation.status == Status.QUEUED, Generation.id != leader_id,
                                        Generation.remix_of_id.is_(None), Generation.input_image_id.is_(None))
            .order_by(Generation.updated_at, Generation.id).limit(wanted * 2)).all()
    taken = []
    for gid in candidates:
        if len(taken) == wanted:
            break
        if not rt.queues.take(RENDER, gid, leader_id):
            continue
        if _claim(rt, gid, Status.QUEUED, Status.RENDERING):
            taken.append(gid)
        else:  # blocked or deleted meanwhile: nothing to render, its job was dropped
            rt.queues.release(RENDER, gid)
    return taken


def _rendered(rt: Runtime, generation_id: str, result) -> bool:
    """Record a finished render and hand the generation to the scan. False when it was moved on
    while rendering (deleted, or another run got there first)."""
    key = media_key(generation_id)
    rt.storage.make_private(key)  # 0600 whichever renderer wrote it, under whatever umask
    try:
        with rt.db.transaction() as s:
            gen = s.get(Generation, generation_id)
            if gen is None or gen.status != Status.RENDERING:
                return False
            transition(s, gen, Status.SCANNING, actor=SYSTEM, media_key=key, media_sha256=result.sha256)
            gen.render_model, gen.render_steps, gen.render_timings = result.model, result.steps, {
                part: round(seconds, 4) for part, seconds in result.timings.items()} | {"batch": result.batch}
    except StaleState:
        log.info("render %s: another run moved it first", generation_id)
        return False
    enqueue(rt, SCAN, generation_id)
    return True


def render(rt: Runtime, generation_id: str) -> Status | None:
    """Render the generation, and with it up to GL_RENDER_BATCH - 1 other queued text-to-video
    requests in one model call (their own jobs taken off the queue). A companion whose render
    failed goes back on the queue alone, for its own retries; the leader's failure is this job's."""
    companions: list[str] = []

    def requeue_companions() -> None:
        for gid in companions:  # their jobs were taken: back on the queue, each alone
            rt.queues.release(RENDER, gid)
            enqueue(rt, RENDER, gid)

    try:
        if not _claim(rt, generation_id, Status.QUEUED, Status.RENDERING):
            return None
        with rt.db.transaction() as s:
            plain = _batchable(s.get(Generation, generation_id))
        if plain:
            companions = _claim_companions(rt, generation_id, rt.config.render_batch - 1)
        ids = [generation_id, *companions]
        with rt.db.transaction() as s:
            requests = [_render_request(rt, s, s.get(Generation, gid)) for gid in ids]
        # Same key on every attempt: a re-run replaces the file atomically, never adds a second.
        results = domains.renderer()(requests)
    except StaleState:
        log.info("render %s: another run moved it first", generation_id)
        requeue_companions()
        return None
    except BaseException:
        requeue_companions()
        raise
    outcome = None
    for gid, result in zip(ids, results, strict=True):
        if isinstance(result, BaseException):
            if gid != generation_id:
                log.warning("render %s (batched with %s) failed, queued alone: %s", gid, generation_id, result)
                rt.queues.release(RENDER, gid)
                enqueue(rt, RENDER, gid)  # still `rendering`: its own job renders it as after a crash
            continue
        if _rendered(rt, gid, result) and gid == generation_id:
            outcome = Status.SCANNING
        if gid != generation_id:
            rt.queues.release(RENDER, gid)
    leader = results[0]
    if isinstance(leader, BaseException):
        raise leader
    return outcome


def scan(rt: Runtime, generation_id: str) -> Status | None:
    try:
        with rt.db.transaction() as s:
            gen = s.get(Generation, generation_id)
            if gen is None or gen.status != Status.SCANNING:
                return None
            stages, ctx = pipeline.stages(pipeline.POST_RENDER, rt.config.stages_off), _context(
                s, gen, media_path=rt.storage.path(gen.media_key))
            verdicts = run_stages(stages, ctx)
            target = _apply(s, gen, Phase.POST_RENDER, verdicts, _AFTER_POST)
            persist_findings(stages, ctx, verdicts)
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
    """Re-enqueue in-flight generations that no live job carries. Returns how many were enqueued.

    A generation one of whose jobs was abandoned (started by a worker that stopped beating:
    killed, out of memory, host lost) runs again at once; one with no job at all (a lost embedded
    queue, a crash between commit and enqueue, a web process killed mid inline gate) only once it
    is untouched for `older_than_s`. The steps are idempotent, so a worker presumed dead that
    finishes after all changes nothing twice."""
    cutoff = utcnow() - timedelta(seconds=older_than_s)
    abandoned_ids = {jid.split("-", 1)[1] for jid in rt.queues.abandoned()}
    with rt.db.transaction() as s:
        rows = s.execute(select(Generation.id, Generation.status, Generation.updated_at <= cutoff).where(
            Generation.status.in_([st.value for st in IN_FLIGHT]),
            or_(Generation.updated_at <= cutoff, Generation.id.in_(abandoned_ids)))).all()
    if not rows:
        return 0
    states = rt.queues.job_states(job_id(q, gid) for gid, _, _ in rows for q in QUEUE_NAMES)
    enqueued = 0
    for gid, status, stale in rows:
        mine = {q: states[job_id(q, gid)] for q in QUEUE_NAMES}
        abandoned = [q for q, state in mine.items() if state == ABANDONED]
        for q in abandoned:
            rt.queues.discard(job_id(q, gid))
            log.warning("generation %s: its %s job was abandoned by a dead worker; running it again", gid, q)
        if RENDER in abandoned:
            _remove_partials(rt, media_key(gid))
        if LIVE in mine.values() or not (abandoned or stale):
            continue
        enqueued += enqueue(rt, _JOB_FOR_STATUS[Status(status)], gid)
    return enqueued


def _remove_partials(rt: Runtime, key: str) -> int:
    removed = 0
    for target, part in rt.storage.partial_files(MEDIA_FOLDER):
        if target == key:
            part.unlink(missing_ok=True)
            removed += 1
    return removed


def remove_stale_partials(rt: Runtime) -> int:
    """Delete the partial files of renders no live worker is running (a killed render's `.part`)."""
    removed = 0
    for key, part in rt.storage.partial_files(MEDIA_FOLDER):
        gid = key.rpartition("/")[2].removesuffix(".mp4")
        if not rt.queues.running(job_id(RENDER, gid)):
            part.unlink(missing_ok=True)
            removed += 1
    if removed:
        log.warning("removed %d partial render files left by stopped renders", removed)
    return removed


def recovery_pass(rt: Runtime, older_than_s: float | None = None) -> tuple[int, int] | None:
    """What a worker runs at start and every GL_RECOVERY_INTERVAL_S: (re-enqueued, partial files
    removed), or None when another worker's pass holds the lock."""
    cfg = rt.config
    with rt.queues.exclusive(ttl_s=max(cfg.recovery_interval_s, 10)) as held:
        if not held:
            return None
        resumed = recover(rt, cfg.stall_after_s if older_than_s is None else older_than_s)
        return resumed, remove_stale_partials(rt)


class RecoveryLoop(threading.Thread):
    """A worker's recovery pass every GL_RECOVERY_INTERVAL_S on a daemon thread (it dies with the
    worker)."""

    def __init__(self, rt: Runtime):
        super().__init__(name="greenlight-recovery", daemon=True)
        self.rt = rt
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.rt.config.recovery_interval_s):
            try:
                recovery_pass(self.rt)
            except Exception:
                log.exception("recovery pass failed; trying again next interval")

    def stop(self, timeout: float = 10.0) -> None:
        self._stop_event.set()
        self.join(timeout)

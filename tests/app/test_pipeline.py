"""The gated path end to end with real stages, real RQ and real encoding."""

import threading
from datetime import date

import pytest
from sqlalchemy import text

from app import audit, case_decisions, orchestrator, pipeline
from app.models import Case, Generation, Phase, Role, Status, User, VerdictRecord
from app.stage import Reason, Stage, Verdict
from generator.media import probe
from tests.conftest import PG_URL, create_user, drain, plug_stage


@pytest.fixture
def alice(rt):
    return create_user(rt, "alice@t.test", handle="alice")


@pytest.fixture
def reviewer(rt):
    return create_user(rt, "rev@t.test", role=Role.REVIEWER, handle="rev")


def submit(rt, user, prompt, cameo_ids=()):
    with rt.db.transaction() as s:
        return orchestrator.submit_and_gate(rt, s, s.get(User, user.id), prompt, list(cameo_ids), None)


def load(rt, gid) -> Generation:
    with rt.db.transaction() as s:
        gen = s.get(Generation, gid)
        gen.verdicts  # noqa: B018 (load while the session is open)
        return gen


def transitions(rt, gid):
    with rt.db.transaction() as s:
        return [(e.before["status"], e.after["status"]) for e in audit.history(s, "generation", gid)
                if e.action == "generation.transition"]


@pytest.mark.slow
def test_benign_request_is_gated_rendered_scanned_and_drafted(rt, alice):
    gid = submit(rt, alice, "a green cube sliding down a ramp")
    gen = load(rt, gid)
    assert gen.status == Status.QUEUED
    pre = [v for v in gen.verdicts if v.phase == Phase.PRE_RENDER]
    assert [v.stage for v in pre] == list(pipeline.PRE_RENDER)
    assert all(v.decision == "allow" and v.stage_version and v.latency_ms >= 0 for v in pre)

    drain(rt)
    gen = load(rt, gid)
    assert gen.status == Status.DRAFT
    post = [v for v in gen.verdicts if v.phase == Phase.POST_RENDER]
    assert [(v.stage, v.decision) for v in post] == [(name, "allow") for name in pipeline.POST_RENDER]
    info = probe(rt.storage.path(gen.media_key))
    assert (info.video_codec, info.audio_codec) == ("h264", "aac") and info.frames >= 8
    assert info.sha256 == gen.media_sha256
    assert transitions(rt, gid) == [("submitted", "queued"), ("queued", "rendering"),
                                    ("rendering", "scanning"), ("scanning", "draft")]


@pytest.mark.parametrize("prompt, stage, code", [
    ("Angela Merkel reading a book", "likeness.public_figures", "public_figure"),
    ("Keanu Reeves riding a motorcycle", "likeness.public_figures", "public_figure"),
    # Shouted (issue 15): "!!!" read as leetspeak made "obamaiii", and the name went through.
    ("BARACK OBAMA!!! DANCING ON A TABLE", "likeness.public_figures", "public_figure"),
    ("KEANU REEVES!1! riding a motorcycle", "likeness.public_figures", "public_figure"),
    ("GARFIELD!!!! eating lasagna", "copyright.rights", "copyright_default_deny"),
    ("Garfield eating lasagna", "copyright.rights", "copyright_default_deny"),
    ("Bugs Bunny eating a carrot", "copyright.rights", "copyright_default_deny"),
    ("a graphic sex scene", "safety.prompt", "safety_sexual"),
])
def test_blocked_before_any_render(rt, alice, prompt, stage, code):
    gid = submit(rt, alice, prompt)
    gen = load(rt, gid)
    assert gen.status == Status.BLOCKED
    blocking = [v for v in gen.verdicts if v.decision == "block"]
    assert [(v.stage, v.reasons[0]["code"]) for v in blocking] == [(stage, code)]
    # Every stage still recorded its verdict, and nothing was queued for rendering.
    assert len(gen.verdicts) == len(pipeline.PRE_RENDER)
    assert rt.queues.counts()["render"] == 0
    assert gen.media_key is None


def test_block_beats_review(rt, alice):
    gen = load(rt, submit(rt, alice, "Garfield wearing lingerie"))
    assert gen.status == Status.BLOCKED
    assert {v.decision for v in gen.verdicts} == {"allow", "review", "block"}


@pytest.mark.slow
def test_review_then_allow_renders(rt, alice, reviewer):
    gid = submit(rt, alice, "a man holding a gun")
    assert load(rt, gid).status == Status.IN_REVIEW
    with rt.db.transaction() as s:
        case = s.query(Case).filter_by(generation_id=gid).one()
        assert case.phase == Phase.PRE_RENDER and case.state == "open" and case.kind == "review"
        assert case.reasons[0]["stage"] == "safety.prompt" and case.queue == "safety"
        case_decisions.decide(rt, s, s.get(User, reviewer.id), case.id, "allow", "GL-NO-VIOLATION", "toy gun, fine")
    drain(rt)
    gen = load(rt, gid)
    assert gen.status == Status.DRAFT
    human = [v for v in gen.verdicts if v.phase == Phase.HUMAN]
    assert [(v.stage, v.decision, v.actor_id) for v in human] == [("human_review", "allow", reviewer.id)]


def test_review_then_block(rt, alice, reviewer):
    gid = submit(rt, alice, "a man holding a gun")
    with rt.db.transaction() as s:
        case_id = s.query(Case).filter_by(generation_id=gid).one().id
        case_decisions.decide(rt, s, s.get(User, reviewer.id), case_id, "block", "SAFETY-VIOLENCE", "no")
    assert load(rt, gid).status == Status.BLOCKED
    assert rt.queues.counts()["render"] == 0


class HoldForReview(Stage):
    name, version = "test.hold", "1"

    def check(self, ctx):
        assert ctx.media_path is not None and ctx.media_path.is_file()
        return Verdict.review(Reason("looks_odd", "a human should look"))


@pytest.mark.slow
def test_post_render_review_then_allow_gives_draft(rt, alice, reviewer, monkeypatch):
    plug_stage(monkeypatch, HoldForReview(), append_to="POST_RENDER")
    gid = submit(rt, alice, "a blue ring spinning")
    drain(rt)
    assert load(rt, gid).status == Status.IN_REVIEW
    with rt.db.transaction() as s:
        case = s.query(Case).filter_by(generation_id=gid).one()
        assert case.phase == Phase.POST_RENDER
        case_decisions.decide(rt, s, s.get(User, reviewer.id), case.id, "allow", "GL-NO-VIOLATION", "")
    assert load(rt, gid).status == Status.DRAFT


@pytest.mark.slow
def test_corrupted_render_is_blocked_by_the_scan(rt, alice):
    gid = submit(rt, alice, "a yellow star falling")
    rt.queues.run_burst(("render",))
    gen = load(rt, gid)
    assert gen.status == Status.SCANNING
    rt.storage.path(gen.media_key).write_bytes(b"\x00" * 4096)
    rt.queues.run_burst(("scan",))
    gen = load(rt, gid)
    assert gen.status == Status.BLOCKED
    blocking = {v.stage: v.reasons[0]["code"] for v in gen.verdicts
                if v.phase == Phase.POST_RENDER and v.decision == "block"}
    # The integrity check says so, and the scans refuse to clear what they cannot look at.
    assert blocking == {"generator.media_integrity": "media_unreadable", "likeness.face_scan": "media_unreadable",
                        "copyright.frames": "media_unreadable", "safety.frame_hashes": "media_unreadable",
                        "safety.frames": "media_unreadable", "safety.audio": "media_unreadable"}


def test_teen_flag_reaches_the_stages(rt, monkeypatch):
    teen = create_user(rt, "teen@t.test", birthdate=date(date.today().year - 14, 6, 1))
    seen = {}

    class Spy(Stage):
        name, version = "test.spy", "1"

        def check(self, ctx):
            seen["teen"] = ctx.requester.is_teen
            return Verdict.allow()

    plug_stage(monkeypatch, Spy())
    monkeypatch.setattr(pipeline, "PRE_RENDER", ("test.spy",))
    submit(rt, teen, "a cat")
    assert seen == {"teen": True}


def test_the_stages_run_before_the_gate_appends_to_the_audit_chain(rt, alice, monkeypatch):
    """Each audit append serialises on the chain (PostgreSQL: an advisory lock held to commit): the
    gate's model work must not sit inside that, or every gate on the platform waits for the one
    before it. The claim is written after the stages, in the same transaction."""
    seen = {}

    class Spy(Stage):
        name, version = "test.spy", "1"

        def check(self, ctx):
            seen["actions"] = [e.action for e in audit.history(ctx.session, "generation", ctx.generation_id)]
            if ctx.session.get_bind().dialect.name == "postgresql":
                seen["advisory_locks"] = ctx.session.scalar(text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"))
            return Verdict.allow()

    plug_stage(monkeypatch, Spy())
    monkeypatch.setattr(pipeline, "PRE_RENDER", ("test.spy",))
    gid = submit(rt, alice, "a cat")
    assert seen["actions"] == ["generation.submitted"]
    assert seen.get("advisory_locks", 0) == 0
    assert load(rt, gid).status == Status.QUEUED
    assert transitions(rt, gid) == [("submitted", "queued")]


@pytest.mark.skipif(not PG_URL, reason="SQLite takes its one write lock at BEGIN IMMEDIATE: writers queue by design")
def test_a_gate_in_progress_does_not_hold_up_other_audited_writes(rt, alice, monkeypatch):
    in_stage, release = threading.Event(), threading.Event()

    class Slow(Stage):
        name, version = "test.slow", "1"

        def check(self, ctx):
            in_stage.set()
            release.wait(30)
            return Verdict.allow()

    plug_stage(monkeypatch, Slow())
    monkeypatch.setattr(pipeline, "PRE_RENDER", ("test.slow",))
    gate = threading.Thread(target=submit, args=(rt, alice, "a slow cat"))
    gate.start()
    try:
        assert in_stage.wait(30)
        wrote = threading.Event()

        def other_write():
            with rt.db.transaction() as s:
                audit.record(s, actor="test", action="test.other", object_type="test", object_id="1")
            wrote.set()

        writer = threading.Thread(target=other_write)
        writer.start()
        assert wrote.wait(5), "an audited write waited for a gate's stages"
    finally:
        release.set()
        gate.join(30)
        writer.join(30)


def test_verdict_rows_record_versions_and_scores(rt, alice):
    gid = submit(rt, alice, "Angela Merkel reading a book")
    with rt.db.transaction() as s:
        rows = s.query(VerdictRecord).filter_by(generation_id=gid).all()
    by_stage = {r.stage: r for r in rows}
    assert by_stage["likeness.public_figures"].stage_version.startswith("figures-")
    assert by_stage["likeness.public_figures"].scores == {"figures_matched": 1.0}


def test_every_stage_version_fits_its_column():
    # PostgreSQL refuses what does not fit (SQLite would store it): versions name models and data files.
    from app.models import VerdictRecord
    from app.pipeline import POST_RENDER, PRE_RENDER, stages

    limit = VerdictRecord.__table__.c.stage_version.type.length
    for stage in stages((*PRE_RENDER, *POST_RENDER)):
        assert len(stage.version) <= limit, (stage.name, len(stage.version))


def test_a_request_an_older_version_left_gating_is_gated_all_the_same(rt, alice):
    """Requests go from submitted straight to the gate's outcome; a row an older version left in
    `gating` (crashed mid-gate) is still taken up by the gate and decided."""
    with rt.db.transaction() as s:
        gid = orchestrator.submit(s, s.get(User, alice.id), "a red kite over a beach", [], None).id
        s.get(Generation, gid).status = Status.GATING.value
    assert orchestrator.gate(rt, gid) == Status.QUEUED
    assert load(rt, gid).status == Status.QUEUED
    assert transitions(rt, gid) == [("gating", "queued")]

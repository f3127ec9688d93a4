"""Jobs are idempotent by generation id, retried with backoff, recoverable after a crash."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app import audit, generations, orchestrator, pipeline
from app.models import Generation, Status, User, VerdictRecord
from app.queues import RENDER
from tests.conftest import REDIS_URL, create_user, drain


@pytest.fixture
def alice(rt):
    return create_user(rt, "alice@t.test", handle="alice")


def submit(rt, user, prompt):
    with rt.db.transaction() as s:
        return orchestrator.submit_and_gate(rt, s, s.get(User, user.id), prompt, [], None)


def status(rt, gid):
    with rt.db.transaction() as s:
        return s.get(Generation, gid).status


def counts(rt, gid):
    with rt.db.transaction() as s:
        verdicts = s.query(VerdictRecord).filter_by(generation_id=gid).count()
        events = len(audit.history(s, "generation", gid))
    mp4s = sorted(p.name for p in (rt.config.media_dir / "generations").glob("*.mp4")) \
        if (rt.config.media_dir / "generations").exists() else []
    return verdicts, events, mp4s


@pytest.mark.slow
def test_running_each_job_twice_changes_nothing(rt, alice):
    gid = submit(rt, alice, "a green cube sliding down a ramp")
    before = counts(rt, gid)
    assert orchestrator.gate(rt, gid) is None           # already gated
    assert counts(rt, gid) == before

    drain(rt)
    done = counts(rt, gid)
    assert status(rt, gid) == Status.DRAFT and done[2] == [f"{gid}.mp4"]
    for step in (orchestrator.gate, orchestrator.render, orchestrator.scan):
        assert step(rt, gid) is None
    assert counts(rt, gid) == done


@pytest.mark.slow
def test_render_rerun_while_rendering_replaces_the_file_once(rt, alice):
    gid = submit(rt, alice, "a red ball bouncing")
    with rt.db.transaction() as s:
        # A worker claimed the job and died: the row says rendering, no file yet.
        orchestrator.transition(s, s.get(Generation, gid), Status.RENDERING, actor="test")
    assert orchestrator.render(rt, gid) == Status.SCANNING
    assert orchestrator.render(rt, gid) is None
    drain(rt)
    verdicts, _, mp4s = counts(rt, gid)
    assert status(rt, gid) == Status.DRAFT and mp4s == [f"{gid}.mp4"]
    with rt.db.transaction() as s:
        history = [(e.before["status"], e.after["status"]) for e in audit.history(s, "generation", gid)
                   if e.action == "generation.transition"]
    assert history.count(("rendering", "scanning")) == 1


def test_enqueue_is_deduplicated_while_a_job_is_live(rt, alice):
    gid = submit(rt, alice, "a purple star spinning")
    assert rt.queues.counts()[RENDER] == 1
    assert orchestrator.enqueue(rt, RENDER, gid) is False
    assert rt.queues.counts()[RENDER] == 1


def record_batches(monkeypatch) -> list[list[str]]:
    """The prompts of each call of the generator's batch renderer."""
    import generator.render as render
    batches, real = [], render.render_batch
    monkeypatch.setattr(render, "render_batch", lambda jobs, *a, **k: batches.append([j.prompt for j in jobs])
                        or real(jobs, *a, **k))
    return batches


BATCH_PROMPTS = ("a red ball falls", "a blue cube rolls left", "a green star falls")


@pytest.mark.slow
def test_queued_requests_render_in_one_batch_and_their_own_jobs_then_do_nothing(rt, alice, monkeypatch):
    batches = record_batches(monkeypatch)
    gids = [submit(rt, alice, p) for p in BATCH_PROMPTS]
    assert rt.queues.counts()[RENDER] == 3
    drain(rt)
    # the first job took the other two off the queue: one model call, nothing rendered twice
    assert batches == [list(BATCH_PROMPTS)]
    with rt.db.transaction() as s:
        gens = [s.get(Generation, g) for g in gids]
        assert [(g.status, g.render_timings["batch"]) for g in gens] == [(Status.DRAFT, 3)] * 3
        assert [len([e for e in audit.history(s, "generation", g.id) if e.after.get("status") == "rendering"])
                for g in gens] == [1, 1, 1]


@pytest.mark.slow
def test_a_batch_leaves_out_remixes_and_generations_no_longer_queued(rt, alice, monkeypatch):
    batches = record_batches(monkeypatch)
    first = submit(rt, alice, "a red ball falls")
    drain(rt)
    with rt.db.transaction() as s:
        remix = orchestrator.submit_and_gate(rt, s, s.get(User, alice.id), "a blue ball falls", [], first)
    plain = submit(rt, alice, "a green star falls")
    gone = submit(rt, alice, "a yellow ring rolls right")
    with rt.db.transaction() as s:  # deleted while queued: its job finds nothing to do
        orchestrator.transition(s, s.get(Generation, gone), Status.DELETED, actor="test")
    batches.clear()
    drain(rt)
    assert sorted(map(sorted, batches)) == [["a blue ball falls"], ["a green star falls"]]
    assert (status(rt, remix), status(rt, plain), status(rt, gone)) == (Status.DRAFT, Status.DRAFT, Status.DELETED)


@pytest.mark.slow
def test_a_companion_whose_render_failed_is_queued_again_alone(rt, alice, monkeypatch):
    import generator.render as render
    batches = record_batches(monkeypatch)
    real, failures = render.render_to_mp4, []

    def cube_fails_once(prompt, out_path, **kwargs):
        if "cube" in prompt and not failures:
            failures.append(prompt)
            raise OSError("disk hiccup")
        return real(prompt, out_path, **kwargs)

    monkeypatch.setattr(render, "render_to_mp4", cube_fails_once)
    gids = [submit(rt, alice, p) for p in BATCH_PROMPTS]
    drain(rt)
    assert batches == [list(BATCH_PROMPTS), ["a blue cube rolls left"]]
    assert [status(rt, g) for g in gids] == [Status.DRAFT] * 3


@pytest.mark.slow
def test_a_batch_whose_renderer_raised_goes_back_on_the_queue(rt, alice, monkeypatch):
    import generator.render as render
    real, calls = render.render_batch, []

    def fails_first(jobs, *args, **kwargs):
        calls.append([j.prompt for j in jobs])
        if len(calls) == 1:
            raise RuntimeError("the model could not be loaded")
        return real(jobs, *args, **kwargs)

    monkeypatch.setattr(render, "render_batch", fails_first)
    gids = [submit(rt, alice, p) for p in BATCH_PROMPTS]
    drain(rt)
    assert calls[0] == list(BATCH_PROMPTS)  # then the leader's retry and the others, in some batches
    assert sorted(p for batch in calls[1:] for p in batch) == sorted(BATCH_PROMPTS)
    assert [status(rt, g) for g in gids] == [Status.DRAFT] * 3


@pytest.mark.slow
def test_a_render_batch_of_one_renders_each_alone(rt, alice, monkeypatch):
    from dataclasses import replace
    monkeypatch.setattr(rt, "config", replace(rt.config, render_batch=1))
    batches = record_batches(monkeypatch)
    for p in BATCH_PROMPTS:
        submit(rt, alice, p)
    drain(rt)
    assert batches == [[p] for p in BATCH_PROMPTS]


def test_a_job_that_keeps_failing_leaves_a_visible_failed_state(rt, alice, monkeypatch):
    import generator.render as render
    calls = []

    def broken(*args, **kwargs):
        calls.append(1)
        raise RuntimeError("encoder exploded")

    monkeypatch.setattr(render, "render_to_mp4", broken)
    gid = submit(rt, alice, "a teal ring orbiting")
    drain(rt)
    with rt.db.transaction() as s:
        gen = s.get(Generation, gid)
        assert gen.status == Status.FAILED
        assert "encoder exploded" in gen.error and "render" in gen.error
    assert len(calls) == rt.config.job_retries + 1


def test_a_transient_failure_is_retried_and_succeeds(rt, alice, monkeypatch):
    import generator.render as render
    real = render.render_to_mp4
    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OSError("disk hiccup")
        return real(*args, **kwargs)

    monkeypatch.setattr(render, "render_to_mp4", flaky)
    gid = submit(rt, alice, "an orange square rising")
    drain(rt)
    assert status(rt, gid) == Status.DRAFT and len(calls) == 2


def test_recover_requeues_a_generation_whose_job_was_lost(rt, alice):
    gid = submit(rt, alice, "a white circle pulsing")
    rt.queues.queue(RENDER).empty()  # the job vanished (crash between commit and enqueue, lost queue)
    assert rt.queues.counts()[RENDER] == 0
    assert orchestrator.recover(rt, older_than_s=0) == 1
    assert orchestrator.recover(rt, older_than_s=0) == 0  # already carried by a live job
    drain(rt)
    assert status(rt, gid) == Status.DRAFT


def _worker(rt, **env) -> subprocess.Popen:
    full = dict(os.environ, DATABASE_URL=rt.config.database_url, GL_INSTANCE_DIR=str(rt.config.instance_dir),
                GL_MEDIA_DIR=str(rt.config.media_dir), GL_SECRET_KEY="test", GL_JOB_RETRIES="0", **env)
    full.pop("REDIS_URL", None)
    if REDIS_URL:
        full["REDIS_URL"] = REDIS_URL
    return subprocess.Popen([sys.executable, "-m", "app.cli", "worker", "--burst"], env=full,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.mark.slow
def test_worker_killed_mid_render_is_finished_exactly_once_by_the_next_worker(rt, alice):
    gid = submit(rt, alice, "a gold star falling through space")
    assert status(rt, gid) == Status.QUEUED
    # A long render so there is time to kill the worker in the middle of it.
    first = _worker(rt, GL_RENDER_SECONDS="40", GL_RENDER_FPS="24")
    deadline = time.monotonic() + 60
    while status(rt, gid) != Status.RENDERING:
        assert first.poll() is None, first.stdout.read()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.5)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    assert status(rt, gid) == Status.RENDERING
    assert not rt.storage.exists(generations.media_key(gid))   # no half-written file in place

    second = _worker(rt, GL_RENDER_SECONDS="1", GL_STALL_AFTER_S="0")
    out, _ = second.communicate(timeout=120)
    assert second.returncode == 0, out
    verdicts, events, mp4s = counts(rt, gid)
    assert status(rt, gid) == Status.DRAFT
    assert mp4s == [f"{gid}.mp4"]
    with rt.db.transaction() as s:
        history = [(e.before["status"], e.after["status"]) for e in audit.history(s, "generation", gid)
                   if e.action == "generation.transition"]
        post = s.query(VerdictRecord).filter_by(generation_id=gid, phase="post_render").count()
    assert history == [("submitted", "queued"), ("queued", "rendering"),
                       ("rendering", "scanning"), ("scanning", "draft")]
    assert post == len(pipeline.POST_RENDER)
    assert Path(rt.storage.path(generations.media_key(gid))).stat().st_size > 0


@pytest.mark.slow
def test_embedded_worker_thread_renders_and_keeps_running(rt, alice):
    """The worker `greenlight serve` starts: RQ on a background thread, many passes, no leaks."""
    if not rt.queues.embedded:
        pytest.skip("the embedded worker exists only without REDIS_URL")
    from app.queues import EmbeddedWorker
    worker = EmbeddedWorker(rt.queues, poll_s=0.01)
    worker.start()
    try:
        ids = [submit(rt, alice, f"a {colour} ball bouncing") for colour in ("red", "blue")]
        deadline = time.monotonic() + 60
        while {status(rt, g) for g in ids} != {Status.DRAFT}:
            assert time.monotonic() < deadline, [status(rt, g) for g in ids]
            time.sleep(0.05)
        time.sleep(0.5)  # dozens more empty passes
        third = submit(rt, alice, "a green ring spinning")
        while status(rt, third) != Status.DRAFT:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert worker.is_alive()
    finally:
        worker.stop()
    assert not worker.is_alive()

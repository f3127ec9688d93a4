"""Recovery (issue 13, point 10): a job whose worker stopped beating runs again within a minute,
exactly once; a killed render's `.part` file goes; a killed worker leaves no child process.

The liveness logic runs on whichever queue backend the suite runs on (fakeredis by default); the
kill tests start real `greenlight worker` processes (forking RQ workers when GL_TEST_REDIS_URL is set)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from rq import Queue
from rq.registry import StartedJobRegistry
from sqlalchemy import create_engine, select

from app import audit, orchestrator, pipeline, queues as queues_module, runtime
from app.generations import media_key
from app.models import Generation, Status, User, VerdictRecord
from app.queues import RENDER, SCAN, job_id
from tests.conftest import REDIS_URL, create_user, drain, make_config


@pytest.fixture
def rt(migrated, tmp_path):
    # A worker is dead 2 s after its last beat here (30 s by default).
    rt = runtime.configure(make_config(migrated, tmp_path, heartbeat_s=1, dead_after_s=2))
    yield rt
    runtime.reset()


@pytest.fixture
def alice(rt):
    return create_user(rt, "alice@t.test", handle="alice")


def submit(rt, user, prompt) -> str:
    with rt.db.transaction() as s:
        return orchestrator.submit_and_gate(rt, s, s.get(User, user.id), prompt, [], None)


def status(rt, gid) -> Status:
    """A plain read: on SQLite (WAL) it does not wait behind a worker's scan transaction, which holds
    the write lock while the scan loads its models."""
    engine = create_engine(rt.config.database_url)
    try:
        with engine.connect() as conn:
            return Status(conn.execute(select(Generation.status).where(Generation.id == gid)).scalar_one())
    finally:
        engine.dispose()


def transitions(rt, gid) -> list[tuple[str, str]]:
    with rt.db.transaction() as s:
        return [(e.before["status"], e.after["status"]) for e in audit.history(s, "generation", gid)
                if e.action == "generation.transition"]


def partials(rt) -> list[Path]:
    return sorted((rt.config.media_dir / "generations").glob(".*.part"))


def take_job(rt, queue: str, gid: str, *, host: str | None = None, pid: int | None = None) -> Path | None:
    """A worker dequeues the job and starts it as RQ and app.orchestrator do (a render claims the
    generation and starts writing its `.part`), and beats once, as from `host` / `pid` when given."""
    worker = rt.queues.worker((queue,))
    worker.register_birth()
    job, _ = Queue.dequeue_any([rt.queues.queue(queue)], None, connection=rt.queues.connection)
    assert job.id == job_id(queue, gid)
    worker.prepare_execution(job)
    worker.prepare_job_execution(job)
    part = None
    if queue == RENDER:
        assert orchestrator._claim(rt, gid, Status.QUEUED, Status.RENDERING)
        part = rt.storage.staging_path(media_key(gid)).with_name(f".{gid}.mp4.k2x9_q.part")
        part.write_bytes(b"\x00\x00\x00\x18ftypisom half a video")
    with pytest.MonkeyPatch.context() as mp:
        if host:
            mp.setattr(queues_module, "_host_id", lambda: host)
        if pid:
            mp.setattr(os, "getpid", lambda: pid)
        rt.queues.heartbeat(worker).beat()
    return part


def dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


@pytest.mark.parametrize("queue, worker_was", [(RENDER, "on another host, silent"),
                                               (RENDER, "on this host, its process gone"),
                                               (SCAN, "on another host, silent")])
def test_a_job_whose_worker_died_runs_again_at_once_and_exactly_once(rt, alice, queue, worker_was):
    gid = submit(rt, alice, "a gold star falling through space")
    if queue == SCAN:
        rt.queues.run_burst((RENDER,))
    assert status(rt, gid) == (Status.SCANNING if queue == SCAN else Status.QUEUED)
    remote = worker_was.startswith("on another host")
    part = take_job(rt, queue, gid, host="render-box-7/pid:[1]" if remote else None,
                    pid=None if remote else dead_pid())

    if remote:
        # Beating: its job is live, even though the generation was just touched or long ago.
        assert orchestrator.recover(rt, older_than_s=0) == 0
        assert orchestrator.remove_stale_partials(rt) == 0 and (part is None or part.exists())
        time.sleep(rt.config.dead_after_s + 0.3)  # ... then it stops beating (the key expires)

    # Abandoned: back on the queue now, not after GL_STALL_AFTER_S (the generation is fresh).
    assert orchestrator.recover(rt, older_than_s=3600) == 1
    assert partials(rt) == []
    assert StartedJobRegistry(queue, connection=rt.queues.connection).get_job_ids(cleanup=False) == []
    assert rt.queues.counts()[queue] == 1
    assert orchestrator.recover(rt, older_than_s=0) == 0   # carried by the new job: nothing twice

    drain(rt)
    assert status(rt, gid) == Status.DRAFT
    assert sorted(p.name for p in (rt.config.media_dir / "generations").iterdir()) == [f"{gid}.mp4"]
    assert transitions(rt, gid) == [("submitted", "queued"), ("queued", "rendering"),
                                     ("rendering", "scanning"), ("scanning", "draft")]
    with rt.db.transaction() as s:
        post = s.query(VerdictRecord).filter_by(generation_id=gid, phase="post_render").count()
    assert post == len(pipeline.POST_RENDER)


def test_a_live_workers_render_keeps_its_partial_file_and_a_stopped_ones_goes(rt, alice):
    stopped, running = (submit(rt, alice, f"a {c} ball bouncing") for c in ("blue", "red"))
    with rt.db.transaction() as s:  # a render whose job is gone (a lost embedded queue)
        orchestrator.transition(s, s.get(Generation, stopped), Status.RENDERING, actor="test")
    rt.queues.queue(RENDER).remove(job_id(RENDER, stopped))
    left = rt.storage.staging_path(media_key(stopped)).with_name(f".{stopped}.mp4.a8b7c6.part")
    left.write_bytes(b"half")
    running_part = take_job(rt, RENDER, running, host="render-box-7/pid:[1]")  # beating (for 2 s)
    assert orchestrator.remove_stale_partials(rt) == 1
    assert running_part.exists() and not left.exists()


def batch_member(rt, leader: str, gid: str) -> Path:
    """`gid` taken into the leader's render batch, claimed, its `.part` begun (as orchestrator.render)."""
    assert rt.queues.take(RENDER, gid, leader) and not rt.queues.take(RENDER, gid, leader)
    assert orchestrator._claim(rt, gid, Status.QUEUED, Status.RENDERING)
    part = rt.storage.staging_path(media_key(gid)).with_name(f".{gid}.mp4.b4tch1.part")
    part.write_bytes(b"\x00\x00\x00\x18ftypisom half a video")
    return part


def test_a_live_batchs_members_keep_their_partial_files_and_are_not_run_twice(rt, alice):
    leader, member = (submit(rt, alice, f"a {c} ball bouncing") for c in ("blue", "red"))
    leader_part = take_job(rt, RENDER, leader, host="render-box-7/pid:[1]")  # beating (for 2 s)
    member_part = batch_member(rt, leader, member)
    assert rt.queues.counts()[RENDER] == 0  # the member's job is off the queue: no one else starts it
    assert orchestrator.recover(rt, older_than_s=0) == 0
    assert orchestrator.remove_stale_partials(rt) == 0 and leader_part.exists() and member_part.exists()


def test_a_batch_whose_worker_died_runs_again_at_once_every_member(rt, alice):
    leader, member = (submit(rt, alice, f"a {c} ball bouncing") for c in ("blue", "red"))
    take_job(rt, RENDER, leader, pid=dead_pid())
    batch_member(rt, leader, member)
    # Abandoned with its carrier: both back on the queue now, not after GL_STALL_AFTER_S.
    assert orchestrator.recover(rt, older_than_s=3600) == 2
    assert partials(rt) == [] and rt.queues.counts()[RENDER] == 2
    assert orchestrator.recover(rt, older_than_s=0) == 0
    drain(rt)
    assert (status(rt, leader), status(rt, member)) == (Status.DRAFT, Status.DRAFT)
    assert sorted(p.name for p in (rt.config.media_dir / "generations").iterdir()) == sorted(
        [f"{leader}.mp4", f"{member}.mp4"])


def test_the_in_process_worker_of_greenlight_up_resumes_and_removes_partial_files(rt, alice):
    if not rt.queues.embedded:
        pytest.skip("the in-process worker runs only on the embedded queue")
    from app.factory import create_app
    gid = submit(rt, alice, "a teal ring orbiting")
    with rt.db.transaction() as s:  # the process died mid-render; its embedded queue died with it
        orchestrator.transition(s, s.get(Generation, gid), Status.RENDERING, actor="test")
    rt.queues.queue(RENDER).empty()
    left = rt.storage.staging_path(media_key(gid)).with_name(f".{gid}.mp4.a8b7c6.part")
    left.write_bytes(b"half")
    app = create_app(start_worker=True)
    worker, recovery = app.extensions["greenlight.worker"], app.extensions["greenlight.recovery"]
    try:
        assert not left.exists()
        wait_for(lambda: status(rt, gid) == Status.DRAFT, 60, "the resumed render")
        assert recovery.is_alive()
    finally:
        worker.stop()
        recovery.stop()
    assert sorted(p.name for p in (rt.config.media_dir / "generations").iterdir()) == [f"{gid}.mp4"]


def test_one_recovery_pass_at_a_time(rt):
    with rt.queues.exclusive(ttl_s=10) as held:
        assert held
        assert orchestrator.recovery_pass(rt) is None   # another worker's pass is running
    assert orchestrator.recovery_pass(rt) == (0, 0)


def test_a_worker_that_would_look_dead_between_its_beats_does_not_start(rt):
    from app import start_checks
    assert start_checks.liveness_problems(rt.config) == []
    assert "must be less than GL_WORKER_DEAD_AFTER_S" in start_checks.liveness_problems(
        replace(rt.config, heartbeat_s=30, dead_after_s=30))[0]


@pytest.mark.parametrize("kind", ["forking_worker", "worker"])
def test_a_workers_command_listener_stops_within_its_wake_interval(rt, kind):
    """The race behind a minute-long warm shutdown (or end of a burst): the listener thread has
    already handled the unsubscribe and waits for a subscription when the worker stops it."""
    worker = getattr(rt.queues, kind)()
    worker.subscribe()
    try:
        worker.pubsub.unsubscribe()
        wait_for(lambda: not worker.pubsub.subscribed, 5, "the listener handling the unsubscribe")
        time.sleep(0.2)  # it is back in its wait now
        started = time.monotonic()
        worker.unsubscribe()
        took = time.monotonic() - started
    finally:
        worker.pubsub_thread._running.clear()
    assert not worker.pubsub_thread.is_alive()
    assert took < queues_module.PUBSUB_WAKE_S + 2, took


def test_the_recovery_interval_and_the_death_timeout_fit_in_a_minute():
    from app.config import SETTINGS
    beat, dead, every = (SETTINGS[n].default for n in
                         ("GL_WORKER_HEARTBEAT_S", "GL_WORKER_DEAD_AFTER_S", "GL_RECOVERY_INTERVAL_S"))
    assert beat < dead and every <= 20 and dead + every < 60


# -- real worker processes, SIGKILLed mid-render ------------------------------------------------------

def _worker(rt, *extra, **env) -> subprocess.Popen:
    full = dict(os.environ, DATABASE_URL=rt.config.database_url, GL_INSTANCE_DIR=str(rt.config.instance_dir),
                GL_MEDIA_DIR=str(rt.config.media_dir), GL_SECRET_KEY="test", GL_JOB_RETRIES="0",
                GL_WORKER_HEARTBEAT_S="2", GL_WORKER_DEAD_AFTER_S="5", GL_RECOVERY_INTERVAL_S="3", **env)
    full.pop("REDIS_URL", None)
    if REDIS_URL:
        full["REDIS_URL"] = REDIS_URL
    log = rt.config.instance_dir / f"worker-{time.monotonic_ns()}.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "app.cli", "worker", *extra], env=full,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    proc.log = log
    return proc


def descendants(pid: int) -> set[int]:
    """Every live process below `pid`, from /proc (children re-parented after a kill are still found
    by the session the worker leads: start_new_session)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == pid:
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        state, session = fields[0], int(fields[3])
        if session == pid and state != "Z":
            found.add(int(entry.name))
    return found


def wait_for(condition, timeout: float, what: str) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, f"{what}: not within {timeout} s"
        time.sleep(0.1)
    return time.monotonic() - started


@pytest.mark.slow
def test_a_worker_killed_mid_render_leaves_no_child_and_no_part_and_another_finishes_it(rt, alice):
    """On Redis the second worker is already running: its periodic pass notices the dead one. The
    embedded queue lives in one process, so there the next worker is a restarted one."""
    gid = submit(rt, alice, "a gold star falling through space")
    # a render far longer than the test (36,000 frames, minutes of encoding even on an idle machine:
    # the model's held frames encode fast) so the second worker is up while the first still renders
    first = _worker(rt, GL_RENDER_SECONDS="600", GL_RENDER_FPS="60")
    second = None
    try:
        wait_for(lambda: first.poll() is None and status(rt, gid) == Status.RENDERING and partials(rt), 150,
                 "the first worker rendering")
        if REDIS_URL:  # the forking worker: one child, its work-horse; the scheduler is a thread
            assert len(descendants(first.pid)) == 1, descendants(first.pid)
            second = _worker(rt, GL_RENDER_SECONDS="1")
            # Its imports take long on a busy machine; not what is measured here.
            wait_for(lambda: "resumed" in second.log.read_text(), 150, "the second worker up")
            # The live render is left alone.
            assert "resumed 0 in-flight generations, removed 0 partial files" in second.log.read_text()
            assert partials(rt) and status(rt, gid) == Status.RENDERING
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        killed_at = time.monotonic()
        wait_for(lambda: not descendants(first.pid), 5, "the killed worker's children ending")
        if second is None:
            assert partials(rt) and status(rt, gid) == Status.RENDERING
            second = _worker(rt, GL_RENDER_SECONDS="1")
        # Rendered again (a 1-second render) within the minute; the scan then loads its models.
        wait_for(lambda: status(rt, gid) in (Status.SCANNING, Status.DRAFT), 60 - (time.monotonic() - killed_at),
                 "the abandoned render run again by another worker")
        assert partials(rt) == []
        wait_for(lambda: status(rt, gid) == Status.DRAFT, 180, "the scan")
        second.send_signal(signal.SIGTERM)
        try:
            second.wait(30)
        except subprocess.TimeoutExpired:
            second.send_signal(signal.SIGUSR1)  # its threads' stacks, into the log shown below
            time.sleep(1)
            raise AssertionError("the worker did not stop on SIGTERM:\n" + second.log.read_text()[-6000:])
        out = second.log.read_text()
        wait_for(lambda: not descendants(second.pid), 10, "the stopped worker's children ending")
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
            for pid in descendants(proc.pid) if proc is not None else ():
                os.kill(pid, signal.SIGKILL)
    if not REDIS_URL:
        assert "resumed 1 in-flight generations, removed 1 partial files" in out, out
    assert sorted(p.name for p in (rt.config.media_dir / "generations").iterdir()) == [f"{gid}.mp4"]
    assert transitions(rt, gid) == [("submitted", "queued"), ("queued", "rendering"),
                                    ("rendering", "scanning"), ("scanning", "draft")]
    with rt.db.transaction() as s:
        post = s.query(VerdictRecord).filter_by(generation_id=gid, phase="post_render").count()
    assert post == len(pipeline.POST_RENDER)

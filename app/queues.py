"""RQ queues `gate`, `render`, `scan`: real Redis in production, an embedded fakeredis by default.

RQ's forking worker cannot share an in-process fakeredis with its children, and its scheduler
runs in a forked process too, so the embedded worker is RQ's SimpleWorker in burst mode, with
the scheduler's due-job pass, looped on a thread.

Liveness: every Greenlight worker beats from a thread (`Heartbeat`, every GL_WORKER_HEARTBEAT_S,
also while a job runs) into a key that expires after GL_WORKER_DEAD_AFTER_S. A started job whose
worker stopped beating is abandoned; the recovery pass (app.orchestrator.recover) runs it again.
RQ's own detection waits for the job's heartbeat TTL (job timeout + 60 s for a SimpleWorker) and
then for its 10-minute maintenance tick. A Redis worker's children end with it: its work-horse gets
PR_SET_PDEATHSIG and its scheduler is a thread (`ForkingWorker`).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import sys
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator

import fakeredis
import redis
from rq import Callback, Queue, Retry, SimpleWorker, Worker
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry
from rq.scheduler import RQScheduler
from rq.timeouts import TimerDeathPenalty

from app.config import Config, export_to_children

log = logging.getLogger(__name__)

GATE, RENDER, SCAN = "gate", "render", "scan"
QUEUE_NAMES = (GATE, RENDER, SCAN)
_ACTIVE = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}
HEARTBEAT_KEY = "greenlight:heartbeat:{}"
RECOVERY_LOCK_KEY = "greenlight:recovery-lock"
# A render job batching other generations took their jobs off the queue (Queues.take): each taken
# job id -> the job id that renders it, so the taken job lives and dies with its carrier.
CARRIED_KEY = "greenlight:carried-by"
PUBSUB_WAKE_S = 1.0  # how often a worker's command listener wakes (bounds its shutdown)

# What a job means for its generation (Queues.job_states).
LIVE, ABANDONED = "live", "abandoned"


def job_id(queue: str, generation_id: str) -> str:
    """One job id per (queue, generation): enqueueing twice while one is live is a no-op."""
    return f"{queue}-{generation_id}"


def _host_id() -> str:
    """A pid means something only on its host and in its PID namespace (containers share hostnames)."""
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = ""
    return f"{socket.gethostname()}/{namespace}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed child its parent has not reaped yet is a zombie: dead all the same
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def die_with_parent(parent_pid: int) -> None:
    """In a forked child: be SIGKILLed when the parent dies (Linux), so a killed worker leaves no
    work-horse behind to finish (or half-finish) a job the recovery pass hands to another worker."""
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


class Heartbeat(threading.Thread):
    """Beats for one worker from a thread, so a long job (a render, in-process or in a forked
    work-horse) does not make its worker look dead, and a killed worker stops beating at once."""

    def __init__(self, connection, worker_name: str, interval_s: float, ttl_s: float):
        super().__init__(name=f"greenlight-heartbeat-{worker_name[:8]}", daemon=True)
        self.connection, self.key = connection, HEARTBEAT_KEY.format(worker_name)
        self.interval_s, self.ttl_ms = interval_s, max(1, int(ttl_s * 1000))
        self._stop_event = threading.Event()

    def beat(self) -> None:
        self.connection.set(self.key, f"{_host_id()} {os.getpid()}", px=self.ttl_ms)

    def run(self) -> None:
        while not self._stop_event.wait(self.interval_s):
            try:
                self.beat()
            except Exception:  # Redis away for a moment: the next beat retries
                log.warning("worker heartbeat failed", exc_info=True)

    def __enter__(self) -> "Heartbeat":
        self.beat()
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop_event.set()
        self.join(self.interval_s + 5)
        with contextlib.suppress(Exception):
            self.connection.delete(self.key)  # a clean exit is not a death


class QuickCommandListener:
    """RQ's command listener, waking every second instead of every 60: redis-py 8.2's stop()
    joins that thread, and one that has already seen the unsubscribe waits out its whole sleep
    for a subscription, so a warm shutdown, or the end of any burst, could take a minute."""

    def subscribe(self) -> None:
        self.log.info("Worker %s: subscribing to channel %s", self.name, self.pubsub_channel_name)
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(
            sleep_time=PUBSUB_WAKE_S, daemon=True, exception_handler=self._pubsub_exception_handler)


class ThreadWorker(QuickCommandListener, SimpleWorker):
    """SimpleWorker that can run off the main thread: signals (stop requests, SIGALRM job
    timeouts) belong to the main thread, so timeouts use RQ's timer-based death penalty."""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self) -> None:
        pass


class ThreadScheduler(RQScheduler):
    """RQ's scheduler (moves due retries onto their queues) on a thread of the worker instead of
    a forked process: it cannot outlive a killed worker."""

    def _install_signal_handlers(self) -> None:
        pass  # signals belong to the main thread; the worker stops us

    def start(self):
        self._status = self.Status.STARTED
        self._stop_requested = False
        self._process = threading.Thread(target=self._run, name="rq-scheduler", daemon=True)
        self._process.start()
        return self._process

    def _run(self) -> None:
        try:
            self.work()
        except Exception:
            log.exception("scheduler thread failed; the worker restarts it at its next maintenance")

    def stop_thread(self, timeout: float = 5.0) -> None:
        self.request_stop()
        if self._process is not None and self._process.is_alive():
            self._process.join(timeout + self.interval)


class ForkingWorker(QuickCommandListener, Worker):
    """RQ's forking worker (a work-horse per job, so a timeout can kill it) whose children end
    with it: the horse dies with its parent, and the scheduler is a thread."""

    def fork_work_horse(self, job: Job, queue: Queue) -> None:
        parent = os.getpid()
        child_pid = os.fork()
        export_to_children(RQ_WORKER_ID=self.name, RQ_JOB_ID=job.id)
        if child_pid == 0:
            os.setpgrp()
            die_with_parent(parent)
            self.main_work_horse(job, queue)
            os._exit(0)  # as RQ's own
        else:
            self._horse_pid = child_pid
            self.procline(f"Forked {child_pid}")

    def _start_scheduler(self, burst: bool = False, logging_level: str | None = "INFO", date_format=None,
                         log_format=None) -> None:
        kwargs = {k: v for k, v in (("date_format", date_format), ("log_format", log_format)) if v}
        self.scheduler = ThreadScheduler(
            self.queues, connection=self.connection, serializer=self.serializer,
            logging_level=logging_level if logging_level is not None else self.log.level, **kwargs)
        self.scheduler.acquire_locks()
        if not self.scheduler.acquired_locks:
            return
        if burst:
            try:
                self.scheduler.register_birth()
                self.scheduler.enqueue_scheduled_jobs()
            finally:
                self.scheduler.release_locks()
                self.scheduler.register_death()
        else:
            self.scheduler.start()

    def stop_scheduler(self) -> None:
        if isinstance(self.scheduler, ThreadScheduler):
            self.scheduler.stop_thread()


class Queues:
    def __init__(self, config: Config):
        self.config = config
        self.embedded = config.redis_url is None
        if self.embedded:
            self.connection = fakeredis.FakeRedis(server=fakeredis.FakeServer())
        else:
            self.connection = redis.Redis.from_url(config.redis_url)
        self._queues = {name: Queue(name, connection=self.connection) for name in QUEUE_NAMES}

    def queue(self, name: str) -> Queue:
        return self._queues[name]

    # -- liveness ------------------------------------------------------------------------------

    def heartbeat(self, worker: Worker) -> Heartbeat:
        """`with queues.heartbeat(worker):` around the worker's life."""
        return Heartbeat(self.connection, worker.name, self.config.heartbeat_s, self.config.dead_after_s)

    def worker_alive(self, worker_name: str | None) -> bool:
        """Alive: it beat within GL_WORKER_DEAD_AFTER_S and, when it beat from this host, its pid
        still runs (a restarted worker then takes over at once instead of waiting out the beat).
        Only `greenlight worker` processes beat: a plain `rq worker` counts as dead."""
        if not worker_name:
            return False
        beat = self.connection.get(HEARTBEAT_KEY.format(worker_name))
        if beat is None:
            return False
        host, _, pid = beat.decode().rpartition(" ")
        return host != _host_id() or not pid.isdigit() or _pid_alive(int(pid))

    def job_states(self, jids: Iterable[str]) -> dict[str, str | None]:
        """For each job id: LIVE (waiting, or started by a live worker), ABANDONED (started by a
        dead worker) or None (no job, or one that ended)."""
        jids = list(jids)
        jobs = Job.fetch_many(jids, connection=self.connection) if jids else []
        workers: dict[str, bool] = {}
        states: dict[str, str | None] = {}
        for jid, job in zip(jids, jobs, strict=True):
            status = job.get_status(refresh=False) if job is not None else None
            if status == JobStatus.STARTED:
                name = job.worker_name or ""
                if name not in workers:
                    workers[name] = self.worker_alive(name)
                states[jid] = LIVE if workers[name] else ABANDONED
            else:
                states[jid] = LIVE if status in _ACTIVE else None
        taken = [jid for jid, job in zip(jids, jobs, strict=True) if job is None]
        carriers = dict(zip(taken, self.connection.hmget(CARRIED_KEY, taken), strict=True)) if taken else {}
        carried = {jid: c.decode() for jid, c in carriers.items() if c is not None}
        if carried:  # a job another took into its batch is as live as the job rendering it
            of_carriers = self.job_states(set(carried.values()))
            states |= {jid: of_carriers[carrier] for jid, carrier in carried.items()}
        return states

    def _job_is_live(self, jid: str) -> bool:
        return self.job_states([jid])[jid] == LIVE

    def running(self, jid: str) -> bool:
        """Started and carried by a live worker now (not merely waiting), itself or in the batch of
        the job that took it."""
        job = Job.fetch_many([jid], connection=self.connection)[0]
        if job is None:
            carrier = self.connection.hget(CARRIED_KEY, jid)
            return carrier is not None and self.running(carrier.decode())
        return job.get_status(refresh=False) == JobStatus.STARTED and self.worker_alive(job.worker_name)

    def abandoned(self) -> list[str]:
        """Ids of the jobs started by a worker that is dead now. Only the started registries are
        read (one entry a running job), so a pass costs the same whatever the backlog."""
        keys = [StartedJobRegistry(name, connection=self.connection).key for name in QUEUE_NAMES]
        jids = {StartedJobRegistry.parse_job_id(member)
                for key in keys for member in self.connection.zrange(key, 0, -1)}
        dead = {jid for jid, state in self.job_states(sorted(jids)).items() if state == ABANDONED}
        carried = {k.decode(): v.decode() for k, v in self.connection.hgetall(CARRIED_KEY).items()}
        return sorted(dead | {jid for jid, carrier in carried.items() if carrier in dead})

    def discard(self, jid: str) -> None:
        """Drop an abandoned job and its started-registry entries (every execution of it, whether or
        not RQ still has their records), so RQ's own cleanup does not later fail or retry the job
        the recovery pass has handed on under the same id."""
        job = Job.fetch_many([jid], connection=self.connection)[0]
        for name in QUEUE_NAMES:
            key = StartedJobRegistry(name, connection=self.connection).key
            stale = [m for m in self.connection.zrange(key, 0, -1) if StartedJobRegistry.parse_job_id(m) == jid]
            if stale:
                self.connection.zrem(key, *stale)
        if job is not None:
            job.delete(remove_from_queue=True)
        self.connection.hdel(CARRIED_KEY, jid)

    def take(self, name: str, generation_id: str, carrier_id: str) -> bool:
        """Take the generation's job off the queue before any worker starts it, into the job of
        `carrier_id` (a render job batching it with its own): True when this call removed it, so
        its work is the carrier's; False when no such job waits (a worker has started it, it waits
        for a retry, or there is none). LREM is atomic: of two workers taking the same job, one
        gets it. Until `release`, the taken job is as live as its carrier (`job_states`), so the
        recovery pass neither runs it twice nor forgets it when the carrier's worker dies."""
        jid = job_id(name, generation_id)
        if not self.queue(name).remove(jid):
            return False
        self.connection.hset(CARRIED_KEY, jid, job_id(name, carrier_id))
        job = Job.fetch_many([jid], connection=self.connection)[0]
        if job is not None:
            job.delete(remove_from_queue=False)
        return True

    def release(self, name: str, generation_id: str) -> None:
        """The carrier is done with a job it took: the generation moved on, or goes back on the queue."""
        self.connection.hdel(CARRIED_KEY, job_id(name, generation_id))

    @contextlib.contextmanager
    def exclusive(self, ttl_s: float) -> Iterator[bool]:
        """One recovery pass at a time across workers: yields False when another holds it."""
        token = uuid.uuid4().hex
        held = bool(self.connection.set(RECOVERY_LOCK_KEY, token, nx=True, px=max(1, int(ttl_s * 1000))))
        try:
            yield held
        finally:
            if held and self.connection.get(RECOVERY_LOCK_KEY) == token.encode():
                self.connection.delete(RECOVERY_LOCK_KEY)

    # -- work ----------------------------------------------------------------------------------

    def enqueue(self, name: str, func: Callable | str, generation_id: str,
                on_failure: Callable | str | None = None) -> bool:
        """Enqueue unless a live job for this generation is already there. True if enqueued."""
        jid = job_id(name, generation_id)
        if self._job_is_live(jid):
            return False
        cfg = self.config
        self.queue(name).enqueue(
            func, generation_id, job_id=jid,
            retry=Retry(max=cfg.job_retries, interval=list(cfg.retry_intervals)) if cfg.job_retries else None,
            on_failure=Callback(on_failure) if on_failure else None,
            job_timeout=cfg.job_timeout_s, result_ttl=3600, failure_ttl=7 * 24 * 3600,
        )
        return True

    def worker(self, names: tuple[str, ...] = QUEUE_NAMES) -> ThreadWorker:
        return ThreadWorker([self.queue(n) for n in names], connection=self.connection)

    def forking_worker(self, names: tuple[str, ...] = QUEUE_NAMES) -> ForkingWorker:
        """A Redis worker process's worker; it sends RQ's own beats while a horse runs as often as ours."""
        return ForkingWorker([self.queue(n) for n in names], connection=self.connection,
                             job_monitoring_interval=self.config.heartbeat_s)

    def run_burst(self, names: tuple[str, ...] = QUEUE_NAMES, worker: ThreadWorker | None = None) -> None:
        """Work every due job on `names` in this thread until the queues are empty; the scheduler's
        pass in burst mode moves due retries back onto their queues first."""
        (worker or self.worker(names)).work(burst=True, with_scheduler=True, logging_level="WARNING")

    def counts(self) -> dict[str, int]:
        return {name: q.count for name, q in self._queues.items()}

    def close(self) -> None:
        try:
            self.connection.close()
        except Exception:  # closing is best effort at shutdown
            log.debug("queue connection close failed", exc_info=True)


class EmbeddedWorker(threading.Thread):
    """Works the embedded queues on a daemon thread until `stop()`, beating while it lives;
    `before_each` (the recovery pass) runs on the same thread, between jobs."""

    def __init__(self, queues: Queues, names: tuple[str, ...] = QUEUE_NAMES, poll_s: float = 0.25,
                 before_each: Callable[[], None] | None = None):
        super().__init__(name="greenlight-embedded-worker", daemon=True)
        self.queues, self.names, self.poll_s = queues, names, poll_s
        self.before_each = before_each
        self._stop_event = threading.Event()

    def run(self) -> None:
        # One worker for the thread's life: a worker per pass would register (and leak) a
        # client name and connection each time.
        worker = self.queues.worker(self.names)
        with self.queues.heartbeat(worker):
            while not self._stop_event.is_set():
                try:
                    if self.before_each:
                        self.before_each()
                    self.queues.run_burst(self.names, worker)
                except Exception:
                    log.exception("embedded worker pass failed; continuing")
                self._stop_event.wait(self.poll_s)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop_event.set()
        self.join(timeout)

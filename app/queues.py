"""RQ queues `gate`, `render`, `scan`: real Redis in production, an embedded fakeredis by default.

RQ's forking worker cannot share an in-process fakeredis with its children, and its scheduler
runs in a forked process too, so the embedded worker is RQ's SimpleWorker in burst mode, with
the scheduler's due-job pass, looped on a thread.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable

import fakeredis
import redis
from rq import Callback, Queue, Retry, SimpleWorker, Worker
from rq.job import Job, JobStatus
from rq.exceptions import NoSuchJobError
from rq.timeouts import TimerDeathPenalty

from app.config import Config

log = logging.getLogger(__name__)

GATE, RENDER, SCAN = "gate", "render", "scan"
QUEUE_NAMES = (GATE, RENDER, SCAN)
_ACTIVE = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


def job_id(queue: str, generation_id: str) -> str:
    """One job id per (queue, generation): enqueueing twice while one is live is a no-op."""
    return f"{queue}-{generation_id}"


class ThreadWorker(SimpleWorker):
    """SimpleWorker that can run off the main thread: signals (stop requests, SIGALRM job
    timeouts) belong to the main thread, so timeouts use RQ's timer-based death penalty."""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self) -> None:
        pass


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

    def _job_is_live(self, jid: str) -> bool:
        try:
            job = Job.fetch(jid, connection=self.connection)
        except NoSuchJobError:
            return False
        status = job.get_status(refresh=False)
        if status != JobStatus.STARTED:
            return status in _ACTIVE
        return self._worker_alive(job.worker_name)

    def _worker_alive(self, worker_name: str | None) -> bool:
        # A worker killed with SIGKILL leaves its job "started" until its heartbeat key expires;
        # on this host a dead pid tells us sooner.
        if not worker_name:
            return False
        worker = Worker.find_by_key(Worker.redis_worker_namespace_prefix + worker_name, connection=self.connection)
        if worker is None:
            return False
        if worker.hostname == socket.gethostname() and worker.pid:
            try:
                os.kill(worker.pid, 0)
            except ProcessLookupError:
                return False
            except PermissionError:
                return True
        return True

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
    """Works the embedded queues on a daemon thread until `stop()`."""

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

"""The per-process set of services (config, database, storage, queues) behind the app.

Flask views, RQ jobs and CLI commands all reach services through `current()`, so jobs run
without a request or app context, and a forked RQ work-horse gets fresh DB connections.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

from app.config import Config, setting
from app.db import Database
from app.queues import Queues
from app.storage import LocalMediaStorage, private_dir


@dataclass
class Runtime:
    config: Config
    db: Database
    storage: LocalMediaStorage
    queues: Queues
    pid: int

    def close(self) -> None:
        self.queues.close()
        self.db.dispose()


_lock = threading.Lock()
_current: Runtime | None = None


def configure(config: Config | None = None) -> Runtime:
    """Build (or rebuild) the process runtime from `config` or the environment."""
    global _current
    config = (config or Config.from_env()).ensure_secret_key()
    _limit_faiss_threads()
    private_dir(config.instance_dir)  # 0700: keys, temp uploads and media sit in them
    private_dir(config.media_dir)
    with _lock:
        if _current is not None:
            _current.close()
        _current = Runtime(
            config=config,
            db=Database(config.database_url),
            storage=LocalMediaStorage(config.media_dir),
            queues=Queues(config),
            pid=os.getpid(),
        )
        return _current


def _limit_faiss_threads() -> None:
    """FAISS answers one query at a time here; its OpenMP threads then cost more than they give
    (1M PDQ hashes: 0.84 ms with one thread, 24 ms with two: bench/hashbank.py). GL_FAISS_THREADS
    raises it for batch jobs."""
    import logging

    logging.getLogger("faiss.loader").setLevel(logging.WARNING)  # which CPU build it picked: noise
    import faiss

    faiss.omp_set_num_threads(setting("GL_FAISS_THREADS"))


def is_configured() -> bool:
    return _current is not None


def current() -> Runtime:
    global _current
    if _current is None:
        return configure()
    if _current.pid != os.getpid():
        _current.db.after_fork()
        _current.pid = os.getpid()
    return _current


def reset() -> None:
    global _current
    with _lock:
        if _current is not None:
            _current.close()
        _current = None

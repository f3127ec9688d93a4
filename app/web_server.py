"""How `greenlight serve` runs the WSGI app: gunicorn processes in production, one waitress process
for the embedded one-command start.

Why several processes: a request holds the GIL for almost all of its CPU time (Flask, SQLAlchemy,
pydantic, the gate's model forward), so threads of one process share one core whatever the machine
has; processes use them all. Why gunicorn: a pre-fork server whose master restarts a crashed worker,
whose `gthread` workers keep connections alive and overlap database waits on a few threads, and
whose `preload_app` imports the app (Flask, the plugins, torch and the other model libraries) once
in the master, so workers fork with it in shared memory. The models themselves load in each worker
after the fork (`warm_up`): torch's and onnxruntime's thread pools are not safe across fork, and a
model loaded before it would be used from a pool started in another process.

Why waitress stays for the embedded start (`greenlight up`, `serve` without REDIS_URL): the
embedded queue is an in-process fakeredis worked by a thread of the web process, so jobs enqueued
by one process would be invisible to another; and SQLite takes one writer at a time anyway.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from flask import Flask

log = logging.getLogger(__name__)


def default_workers() -> int:
    """GL_WEB_WORKERS, else one process per CPU core."""
    from app.config import setting

    configured = setting("GL_WEB_WORKERS")
    return (os.cpu_count() or 1) if configured is None else configured


def gunicorn_options(host: str, port: int, workers: int, threads: int) -> dict[str, Any]:
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "preload_app": True,
        # POST /generations gates inline: a cold first request (models loading) may take seconds.
        "timeout": 120,
        "graceful_timeout": 30,
        # A worker takes a connection only when it has a thread free for it, and closes it after the
        # answer: kept-alive connections stay with the worker that accepted them, and at 8 client
        # connections one worker took all of them while the other idled (bench/api_load.py: 99/1 %
        # of the server CPU). A new connection goes to whichever worker is free. Behind a reverse
        # proxy (which production should have for TLS and slow clients) the proxy keeps the
        # clients' connections alive.
        "worker_connections": threads,
        "keepalive": 0,
        "accesslog": None,  # one line per request would cost more than some requests do
        "errorlog": "-",
        "loglevel": "info",
        "proc_name": "greenlight",
        "post_fork": _post_fork,
        "post_worker_init": _post_worker_init,
    }


def _post_fork(server, worker) -> None:
    import sys

    from app import runtime
    from app.config import one_native_thread

    # One intra-op thread per worker: the processes are the parallelism. OpenMP pools of two threads
    # in each of N processes oversubscribe the cores and spin at their barriers (a worker's warm-up
    # took 201 s on 2 busy cores with them, 70 s without). torch is imported here, after the fork,
    # unless something imported it before.
    one_native_thread()
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)
    runtime.current()  # a forked worker opens its own database connections (Runtime.current)


def _post_worker_init(worker) -> None:
    from app import orchestrator, runtime

    started = time.perf_counter()
    orchestrator.warm_up(runtime.current())
    log.info("worker %d: models loaded in %.1f s", os.getpid(), time.perf_counter() - started)


def serve_gunicorn(app: Flask, options: dict[str, Any]) -> None:
    from gunicorn.app.base import BaseApplication

    class _Greenlight(BaseApplication):
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Flask:
            return app

    _Greenlight().run()


def serve_waitress(app: Flask, host: str, port: int, threads: int) -> None:
    from waitress import serve

    serve(app, host=host, port=port, threads=threads, ident="greenlight")

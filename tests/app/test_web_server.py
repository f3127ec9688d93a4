"""`greenlight serve`: several gunicorn processes with Redis queues, one waitress process with the
embedded queue (app/web_server.py says why)."""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app import pipeline, web_server
from tests.conftest import PG_URL, REDIS_URL
from tests.app.test_cli import gl


def test_several_processes_need_the_redis_queue(tmp_path):
    gl(tmp_path, "db", "upgrade")
    refused = gl(tmp_path, "serve", "--workers", "2", check=False)
    assert refused.returncode != 0
    assert "embedded queue lives in one process" in refused.stderr and "REDIS_URL" in refused.stderr


def test_worker_count_is_the_setting_else_one_per_core(monkeypatch):
    monkeypatch.delenv("GL_WEB_WORKERS", raising=False)
    assert web_server.default_workers() == os.cpu_count()
    monkeypatch.setenv("GL_WEB_WORKERS", "3")
    assert web_server.default_workers() == 3


def test_gunicorn_preloads_the_app_and_warms_each_worker():
    options = web_server.gunicorn_options("127.0.0.1", 8000, workers=3, threads=2)
    assert options["bind"] == "127.0.0.1:8000" and options["workers"] == 3 and options["threads"] == 2
    assert options["worker_class"] == "gthread" and options["preload_app"] is True
    assert options["post_worker_init"] is web_server._post_worker_init
    # No worker holds more connections than it has threads: new connections go to a free worker.
    assert options["worker_connections"] == 2 and options["keepalive"] == 0


def test_warm_up_runs_the_pre_render_stages_and_writes_nothing(rt, monkeypatch):
    from sqlalchemy import func, select

    from app.models import AuditEvent, Generation
    from app.stage import Stage, Verdict
    from tests.conftest import plug_stage

    seen = []

    class Spy(Stage):
        name, version, produces = "test.spy", "1", ("test.fact",)

        def check(self, ctx):
            seen.append((ctx.prompt, dict(ctx.facts)))
            return Verdict(Verdict.allow().decision, facts={"test.fact": True})

    class After(Spy):
        name, produces = "test.after", ()

    plug_stage(monkeypatch, Spy())
    plug_stage(monkeypatch, After())
    monkeypatch.setattr(pipeline, "PRE_RENDER", ("test.spy", "test.after"))
    from app import orchestrator

    orchestrator.warm_up(rt)
    assert [facts for _, facts in seen] == [{}, {"test.fact": True}]
    with rt.db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Generation)) == 0
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2:].split()[1]) == pid:
                found.append(int(entry))
    return found


@pytest.mark.skipif(not (PG_URL and REDIS_URL), reason="several processes serve with PostgreSQL and Redis")
def test_serve_runs_several_processes_that_answer(config, tmp_path):
    port = _free_port()
    # The two text-model stages are off, so the workers' warm-up is quick: this is about the processes.
    env = dict(os.environ, DATABASE_URL=config.database_url, REDIS_URL=config.redis_url,
               GL_INSTANCE_DIR=str(tmp_path / "inst"), GL_SECRET_KEY="test", GL_STAGES_OFF="safety.prompt,copyright.rights")
    server = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--workers", "2",
                               "--threads", "2"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, start_new_session=True)
    try:
        deadline, status = time.monotonic() + 120, None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/api/v1/health")
                status = conn.getresponse().status
                break
            except OSError:
                time.sleep(0.5)
        assert status == 200, server.stdout.read() if server.poll() is not None else "no answer in time"
        # gunicorn's master and its two workers (the second may still be forking on a busy machine)
        deadline = time.monotonic() + 30
        while len(_children(server.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert len(_children(server.pid)) >= 2
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
        output = server.communicate(timeout=60)[0]
    assert "gunicorn, 2 processes x 2 threads" in output
    assert "Traceback" not in output, output  # no worker crashed on the way


def test_a_server_worker_caps_the_blas_pools_loaded_before_its_fork():
    # The app is preloaded in gunicorn's master, so numpy's OpenBLAS has started its pool (one thread
    # per core) before a worker forks; that pool's second thread busy-waits after every product.
    script = (
        "import json, numpy as np\n"
        "from threadpoolctl import threadpool_info\n"
        "np.ones((64, 64)) @ np.ones((64, 64))\n"
        "before = {p['filepath']: p['num_threads'] for p in threadpool_info()}\n"
        "from app.config import one_native_thread\n"
        "one_native_thread()\n"
        "after = {p['filepath']: p['num_threads'] for p in threadpool_info()}\n"
        "print(json.dumps([before, after]))\n")
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2])
    before, after = json.loads(out.stdout.strip().splitlines()[-1])
    assert any("openblas" in path for path in after), after  # numpy's BLAS is among them
    if (os.cpu_count() or 1) > 1:
        assert max(before.values()) > 1
    assert set(after.values()) == {1}, after

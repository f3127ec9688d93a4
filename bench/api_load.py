"""API throughput on PostgreSQL: the server as production runs it, driven over loopback by a
bounded-concurrency load generator, against the raw calls measured in the same run.

    python bench/api_load.py [--quick] [--duration 12] [--concurrency 8] [--workers N] [--server gunicorn]

What it does: creates a fresh database (DROP/CREATE `--database` on the server of `--admin-url`),
migrates it, makes one creator per connection with an API token, flushes the Redis db of
`--redis-url`, starts `greenlight serve` as a subprocess on a free loopback port (Redis queues:
`POST /generations` runs the pre-render gate inline and enqueues the render, and nothing renders
since no worker runs), warms every server process up, then drives each endpoint for `--duration`
seconds with `--concurrency` keep-alive connections (one thread each, http.client).

Per endpoint it prints requests, errors (any status but the expected one, or a dropped
connection), req/s, p50/p95/p99 latency, the server's CPU per request (utime+stime from
/proc/<pid>/stat of the server and every process under it, reaped children included), the load
generator's own CPU per request (this process: it shares the cores, so it is reported apart), and
the raw call the endpoint is built around, timed in this process in the same run:
  GET /health            a `SELECT 1` round trip on a pooled connection
  GET /generations/<id>  a bare `SELECT ... WHERE id = ...` of the generation's row
  POST /generations      the pre-render stages' own time (the sum of the verdicts' latency_ms
                         of the generations the run created), i.e. the gate's model work
"""

from __future__ import annotations

import argparse
import http.client
import json
from datetime import date
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

# Each request a new, ordinary prompt (the embedder remembers texts it saw, so a repeated prompt
# would be nearly free): subject x action x place x time gives 12,000 distinct one-clause prompts of
# 8-12 words, the shape people type. A serial number or timestamp tacked on would not do: the
# classifiers embed every clause of a prompt, so ", take 17 1733..." adds work no user causes.
SUBJECTS = ["a green cube", "a red kite", "two friends", "a chef", "a paper boat", "a tabby cat", "an old fisherman",
            "a golden retriever", "a street musician", "a small robot", "a hot air balloon", "a grandmother",
            "a skateboarder", "a flock of pigeons", "a ballet dancer", "a delivery cyclist", "a lighthouse keeper",
            "a pair of otters", "a science teacher", "a toy train"]
ACTIONS = ["sliding down a ramp", "drifting slowly", "dancing together", "cutting vegetables", "spinning in circles",
           "reading a letter", "crossing a bridge", "climbing a staircase", "waving hello", "painting a fence",
           "chasing soap bubbles", "watching the rain", "juggling oranges", "building a sandcastle", "sleeping peacefully",
           "playing the violin", "carrying a lantern", "looking at the stars", "opening a gift", "riding a bicycle"]
PLACES = ["in a bright kitchen", "on a quiet mountain lake", "in a busy market", "at a seaside pier",
          "in a snowy forest", "on a city rooftop", "in an empty library", "at a train station", "in a flower field",
          "inside a greenhouse", "on a desert road", "in a rainy alley", "at a county fair", "in a tiny apartment",
          "beside a waterfall"]
TIMES = ["at sunset", "at dawn", "at night", "in the afternoon"]


def prompt(n: int) -> str:
    """The n-th prompt: distinct for n below 12,000."""
    n, subject = divmod(n, len(SUBJECTS))
    n, action = divmod(n, len(ACTIONS))
    n, place = divmod(n, len(PLACES))
    return f"{SUBJECTS[subject]} {ACTIONS[action]} {PLACES[place]} {TIMES[n % len(TIMES)]}"


CLK_TCK = os.sysconf("SC_CLK_TCK")


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


# -- server CPU ------------------------------------------------------------------------------------

def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2:].split()  # fields from `state` on: the name may hold spaces


def tree_cpu(root: int) -> dict[int, float]:
    """CPU seconds (utime+stime, plus what their reaped children used) of `root` and every live
    process under it, by pid."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := _stat(int(entry))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = {}, [root]
    while todo:
        pid = todo.pop()
        fields = _stat(pid)
        if fields is None:
            continue
        # utime stime cutime cstime: fields 14-17 of /proc/<pid>/stat, 11-14 counted from `state`
        found[pid] = sum(int(v) for v in fields[11:15]) / CLK_TCK
        todo += children.get(pid, [])
    return found


def split(before: dict[int, float], after: dict[int, float]) -> str:
    """Each process's share of the server CPU over a phase, largest first: one process doing most
    of the work means the others waited (keep-alive connections stay with the worker that took them)."""
    used = {pid: after[pid] - before.get(pid, 0.0) for pid in after}
    total = sum(used.values()) or 1.0
    return "/".join(f"{100 * v / total:.0f}" for v in sorted(used.values(), reverse=True) if v > 0.005 * total)


# -- load generator --------------------------------------------------------------------------------

@dataclass
class Endpoint:
    name: str
    method: str
    path: str | None  # None: built per request
    expect: int
    body: object = None
    paths: list[str] = field(default_factory=list)


@dataclass
class Result:
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)


def _drive(port: int, token: str, endpoint: Endpoint, until: float, result: Result, lock: threading.Lock,
           counter: list[int]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {token}", "Connection": "keep-alive"}
    latencies, errors, samples = [], 0, []
    while time.perf_counter() < until:
        with lock:
            n = counter[0] = counter[0] + 1
        body = None
        if endpoint.body == "prompt":
            body = json.dumps({"prompt": prompt(n)})
            headers["Content-Type"] = "application/json"
        started = time.perf_counter()
        try:
            conn.request(endpoint.method, endpoint.path, body=body, headers=headers)
            response = conn.getresponse()
            payload = response.read()
            status = response.status
        except (OSError, http.client.HTTPException) as exc:
            errors += 1
            if len(samples) < 3:
                samples.append(repr(exc))
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            continue
        latencies.append((time.perf_counter() - started) * 1000)
        if status != endpoint.expect:
            errors += 1
            if len(samples) < 3:
                samples.append(f"{status} {payload[:200]!r}")
    conn.close()
    with lock:
        result.latencies_ms += latencies
        result.errors += errors
        result.error_samples += samples


# One count across every drive(): the measured POSTs never repeat a warm-up prompt the embedder remembers.
PROMPT_COUNTER = [0]


def drive(port: int, tokens: list[str], endpoint: Endpoint, seconds: float, concurrency: int) -> Result:
    result, lock, counter = Result(), threading.Lock(), PROMPT_COUNTER
    until = time.perf_counter() + seconds
    threads = [threading.Thread(target=_drive, args=(port, tokens[i % len(tokens)], endpoint, until, result,
                                                     lock, counter)) for i in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return result


# -- setup -----------------------------------------------------------------------------------------

def fresh_database(admin_url: str, name: str) -> str:
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_database(admin_url: str, name: str) -> None:
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(port: int, proc: subprocess.Popen, log_path: Path, timeout_s: float = 600) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log_path.read_text(errors="replace")[-3000:]
            raise SystemExit(f"the server exited with {proc.returncode} before it answered:\n{tail}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/api/v1/health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit("the server did not answer /api/v1/health in time")


def stop(server: subprocess.Popen) -> None:
    """SIGTERM to the server's process group (its own session), SIGKILL if it lingers."""
    for sig, wait_s in ((signal.SIGTERM, 30), (signal.SIGKILL, 5)):
        try:
            os.killpg(server.pid, sig)
        except ProcessLookupError:
            return
        try:
            server.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--admin-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
                    help="a PostgreSQL login that may create databases")
    ap.add_argument("--database", default="greenlight_bench_api", help="created fresh, dropped at the end")
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/8", help="its db is flushed")
    ap.add_argument("--duration", type=float, default=12.0, help="seconds per endpoint")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--server", choices=("gunicorn", "waitress"), default="gunicorn",
                    help="gunicorn: `greenlight serve --workers N` (production); waitress: --workers 0")
    ap.add_argument("--workers", type=int, default=None, help="server processes (default: the serve default)")
    ap.add_argument("--threads", type=int, default=None, help="threads per server process")
    ap.add_argument("--endpoints", default="health,get,post", help="which to drive, in order")
    ap.add_argument("--quick", action="store_true", help="3 s per endpoint, a short warm-up: a smoke run")
    ap.add_argument("--keep", action="store_true", help="keep the database and the server's folder")
    ap.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE",
                    help="extra environment for the server (e.g. a quota raised for the run)")
    args = ap.parse_args()
    if args.quick:
        args.duration = min(args.duration, 3.0)

    from app import accounts, runtime
    from app.config import Config
    from app.factory import load_plugins
    from app.migrate import upgrade
    from app.models import Generation

    tmp = Path(tempfile.mkdtemp(prefix="gl-api-load-"))
    url = fresh_database(args.admin_url, args.database)
    upgrade(url)
    import redis
    redis.Redis.from_url(args.redis_url).flushdb()

    load_plugins()
    cfg = replace(Config.from_env(env={}), instance_dir=tmp, media_dir=tmp / "media", database_url=url,
                  redis_url=args.redis_url, secret_key="bench")
    rt = runtime.configure(cfg)
    tokens = []
    with rt.db.transaction() as s:
        for i in range(args.concurrency):
            user = accounts.create_user(s, f"load{i}@bench.test", "bench-password-1", birthdate=date(1990, 1, 1))
            raw, _ = accounts.issue_token(s, user, "bench")
            tokens.append(raw)

    env = dict(os.environ, DATABASE_URL=url, REDIS_URL=args.redis_url, GL_INSTANCE_DIR=str(tmp),
               GL_SECRET_KEY="bench-secret",
               # The quotas stay on (their COUNT is part of every POST) but too high to refuse one.
               GL_GENERATION_QUOTA_DAILY="1000000", GL_GENERATION_QUOTA_PER_MINUTE="1000000")
    env.update(dict(kv.split("=", 1) for kv in args.server_env))
    port = free_port()
    # `-m app.cli` from this checkout (the `greenlight` script may import another editable copy).
    greenlight = [sys.executable, "-m", "app.cli"]
    command = [*greenlight, "serve", "--host", "127.0.0.1", "--port", str(port), "--no-worker"]
    # An older `serve` (waitress only) has no --workers: the bench still runs against it.
    has_workers = "--workers" in subprocess.run([*greenlight, "serve", "--help"], env=env, cwd=ROOT, capture_output=True,
                                                text=True).stdout
    if args.server == "waitress" and has_workers:
        command += ["--workers", "0"]
    elif args.workers is not None and has_workers:
        command += ["--workers", str(args.workers)]
    if args.threads is not None:
        command += ["--threads", str(args.threads)]
    log = open(tmp / "server.log", "w")
    started = time.monotonic()
    server = subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_healthy(port, server, tmp / "server.log")
        print(f"server: {' '.join(command[2:])}  (up in {time.monotonic() - started:.1f} s; log {tmp / 'server.log'})")
        print(f"cpus: {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}; concurrency {args.concurrency}, "
              f"{args.duration:g} s per endpoint")

        # Warm-up: every server process loads its models and opens its pooled connections.
        post = Endpoint("POST /generations", "POST", "/api/v1/generations", 201, body="prompt")
        warm = drive(port, tokens, post, 2.0 if args.quick else 6.0, args.concurrency)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        conn.request("POST", "/api/v1/generations", body=json.dumps({"prompt": "a red kite over a beach"}),
                     headers={"Authorization": f"Bearer {tokens[0]}", "Content-Type": "application/json"})
        response = conn.getresponse()
        created = json.loads(response.read())
        if response.status != 201:
            raise SystemExit(f"POST /generations answered {response.status}: {created}")
        gen_id = created["id"]
        print(f"warm-up: {len(warm.latencies_ms)} POSTs, {warm.errors} errors {warm.error_samples[:1]}; "
              f"the GET reads a generation with {len(created['verdicts'])} verdicts, status {created['status']}")

        endpoints = {
            "health": Endpoint("GET /health", "GET", "/api/v1/health", 200),
            "get": Endpoint("GET /generations/<id>", "GET", f"/api/v1/generations/{gen_id}", 200),
            "post": post,
        }
        # Every connection reads the one generation: its owner's token for all of them.
        get_tokens = [tokens[0]]
        rows = []
        for key in args.endpoints.split(","):
            endpoint = endpoints[key]
            since = time.time()
            server_before, self_before = tree_cpu(server.pid), time.process_time()
            wall_started = time.perf_counter()
            result = drive(port, get_tokens if key == "get" else tokens, endpoint, args.duration, args.concurrency)
            wall = time.perf_counter() - wall_started
            server_after, self_cpu = tree_cpu(server.pid), time.process_time() - self_before
            server_cpu = sum(server_after.values()) - sum(server_before.values())
            n = len(result.latencies_ms) + (result.errors if not result.latencies_ms else 0)
            raw_label, raw_ms = raw_call(rt, key, gen_id, since, Generation)
            shares = split(server_before, server_after)
            rows.append((endpoint.name, n, result, wall, server_cpu, self_cpu, raw_label, raw_ms, shares))
            print(f"  {endpoint.name}: {n} requests, {result.errors} errors; server CPU by process, %: {shares}",
                  *result.error_samples[:2], flush=True)
            time.sleep(1.0)  # let the queue of the previous phase drain from the sockets
    finally:
        stop(server)
        log.close()
        runtime.reset()
        if not args.keep:
            drop_database(args.admin_url, args.database)
            redis.Redis.from_url(args.redis_url).flushdb()
            shutil.rmtree(tmp, ignore_errors=True)

    print()
    print("| endpoint | requests | errors | req/s | p50 ms | p95 ms | p99 ms | server CPU ms/req "
          "| load-gen CPU ms/req | raw call | raw p50 ms | p50 / raw | server CPU by process % |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---|")
    for name, n, result, wall, server_cpu, self_cpu, raw_label, raw_ms, shares in rows:
        lat = result.latencies_ms
        per = max(n, 1)
        p50 = pct(lat, 50)
        print(f"| {name} | {n} | {result.errors} | {n / wall:.1f} | {p50:.1f} | {pct(lat, 95):.1f} | "
              f"{pct(lat, 99):.1f} | {server_cpu * 1000 / per:.2f} | {self_cpu * 1000 / per:.2f} | {raw_label} | "
              f"{raw_ms:.2f} | {p50 / raw_ms if raw_ms else float('nan'):.1f}× | {shares} |")


def raw_call(rt, key: str, gen_id: str, since: float, Generation) -> tuple[str, float]:
    """The endpoint's raw call, timed in this process (p50 ms)."""
    from datetime import datetime, timezone

    from sqlalchemy import select

    from app.models import VerdictRecord

    if key == "post":
        moment = datetime.fromtimestamp(since, timezone.utc)
        with rt.db.transaction() as s:
            rows = s.execute(select(VerdictRecord.generation_id, VerdictRecord.latency_ms)
                             .join(Generation, Generation.id == VerdictRecord.generation_id)
                             .where(Generation.created_at >= moment, VerdictRecord.phase == "pre_render")).all()
        sums: dict[str, float] = {}
        for gid, ms in rows:
            sums[gid] = sums.get(gid, 0.0) + ms
        return "pre-render stages' own time", pct(list(sums.values()), 50)
    sql = "SELECT 1" if key == "health" else "SELECT * FROM generations WHERE id = :id"
    times = []
    with rt.db.engine.connect() as conn:
        for _ in range(300):
            started = time.perf_counter()
            conn.execute(text(sql), {"id": gen_id}).all()
            times.append((time.perf_counter() - started) * 1000)
    return ("SELECT 1" if key == "health" else "SELECT generation by id"), pct(times, 50)


if __name__ == "__main__":
    main()

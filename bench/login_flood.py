"""GET /health latency while threads loop wrong-password logins against a real (waitress) server.

    python bench/login_flood.py [--db URL] [--loops 32] [--threads 8]

The per-email and per-address throttles are switched off here, as when the flood comes from many
addresses against many accounts: what is left is the bounded password hashing
(GL_PASSWORD_HASH_SLOTS, GL_PASSWORD_HASH_WAIT_MS; set them in the environment to compare). A
PostgreSQL --db is emptied (its public schema is dropped) and migrated.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="database URL (default: a fresh SQLite file)")
    parser.add_argument("--loops", type=int, default=32, help="concurrent wrong-password loops")
    parser.add_argument("--threads", type=int, default=8, help="server threads")
    parser.add_argument("--probes", type=int, default=20, help="GET /health requests measured under load")
    args = parser.parse_args()
    os.environ.update(GL_LOGIN_ADDRESS_FAILURES="1000000", GL_LOGIN_ACCOUNT_FAILURES="1000000")

    from sqlalchemy import create_engine, text
    from waitress.server import create_server

    from app import accounts, runtime
    from app.config import Config, setting
    from app.factory import create_app, load_plugins
    from app.migrate import upgrade

    tmp = Path(tempfile.mkdtemp())
    url = args.db or f"sqlite:///{tmp / 'bench.db'}"
    if url.startswith("postgresql"):
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    upgrade(url)
    load_plugins()
    rt = runtime.configure(replace(Config.from_env(env={}), instance_dir=tmp, media_dir=tmp / "media",
                                   database_url=url, redis_url=None, secret_key="bench"))
    with rt.db.transaction() as s:
        accounts.create_user(s, "victim@bench.test", "correct-horse-battery")
    server = create_server(create_app(), host="127.0.0.1", port=0, threads=args.threads)
    base = f"http://127.0.0.1:{server.effective_port}/api/v1"
    threading.Thread(target=server.run, daemon=True).start()

    def health_ms() -> float:
        started = time.perf_counter()
        urllib.request.urlopen(f"{base}/health", timeout=120).read()
        return (time.perf_counter() - started) * 1000

    answers: Counter = Counter()
    stop = threading.Event()

    def flood() -> None:
        body = json.dumps({"email": "victim@bench.test", "password": "wrong-password"}).encode()
        while not stop.is_set():
            request = urllib.request.Request(f"{base}/tokens", data=body,
                                             headers={"Content-Type": "application/json"})
            try:
                urllib.request.urlopen(request, timeout=120)
                answers[200] += 1
            except urllib.error.HTTPError as exc:
                answers[exc.code] += 1
            except OSError:
                answers["connection error"] += 1

    idle = [health_ms() for _ in range(10)]
    loops = [threading.Thread(target=flood, daemon=True) for _ in range(args.loops)]
    for loop in loops:
        loop.start()
    time.sleep(2)
    started = time.perf_counter()
    loaded = sorted(health_ms() for _ in range(args.probes))
    elapsed = time.perf_counter() - started
    stop.set()
    print(f"{rt.db.engine.dialect.name}, {args.threads} server threads, {args.loops} wrong-password loops, "
          f"GL_PASSWORD_HASH_SLOTS={setting('GL_PASSWORD_HASH_SLOTS')}, "
          f"GL_PASSWORD_HASH_WAIT_MS={setting('GL_PASSWORD_HASH_WAIT_MS')}")
    print(f"GET /health idle p50 {statistics.median(idle):.0f} ms; under load p50 {statistics.median(loaded):.0f} ms, "
          f"max {loaded[-1]:.0f} ms")
    print(f"login answers in {elapsed + 2:.0f} s: {dict(answers)}")


if __name__ == "__main__":
    main()

"""Fixtures: a real database and a real queue per test.

Backends: SQLite + embedded fakeredis by default; PostgreSQL and Redis when
GL_TEST_DATABASE_URL / GL_TEST_REDIS_URL are set (.ci/run does both passes). The schema is
made by the Alembic migrations, once per session, never by create_all. With
GL_TEST_MIGRATION_DATABASE_URL the tables' owner migrates and empties them, and the suite runs as
GL_TEST_DATABASE_URL's role, granted as production grants the app's role (docs/deployment.md).
"""

from __future__ import annotations

import functools
import random
import re
import shutil
import zlib
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Callable

import pytest
from sqlalchemy import create_engine, make_url, text

from app import accounts, runtime
from app.config import Config, setting
from app.factory import load_plugins
from app.migrate import upgrade
from app.models import Role, User
from app.schema import metadata

load_plugins()  # the domains register their stages, as the app and the CLI do at start

PG_URL = setting("GL_TEST_DATABASE_URL")
OWNER_URL = setting("GL_TEST_MIGRATION_DATABASE_URL") or PG_URL  # migrates, truncates
# The role the suite runs as when it is not the owner: granted what production's app role is.
APP_ROLE = make_url(PG_URL).username if PG_URL and make_url(OWNER_URL).username != make_url(PG_URL).username \
    else None
REDIS_URL = setting("GL_TEST_REDIS_URL")
PASSWORD = "correct-horse-battery"


def pytest_report_header(config):
    share = setting("GL_TEST_BACKEND_FREE").strip()
    only = "" if share == "all" else f"; of the tests that cannot touch them: {share} (GL_TEST_BACKEND_FREE)"
    return f"greenlight backends: database={'postgresql' if PG_URL else 'sqlite'}" \
           f"{f' as app role {APP_ROLE}' if APP_ROLE else ''}, queue={'redis' if REDIS_URL else 'embedded fakeredis'}{only}"


# A module that names the backends in code (or builds its own config over them) may touch them outside
# the fixtures: all of its tests count as touching them. A name in quotes does not count: test_cli.py's
# commands pop "REDIS_URL" and run on SQLite files of their own, whatever the backend.
_NAMES_A_BACKEND = re.compile(r"(?<![\"'])\b(PG_URL|REDIS_URL|OWNER_URL|APP_ROLE|make_config|migrated)\b(?![\"'])")


@functools.cache
def _module_names_a_backend(path: Path) -> bool:
    return bool(_NAMES_A_BACKEND.search(path.read_text(encoding="utf-8")))


def touches_backend(item: pytest.Item) -> bool:
    """Whether a test can reach the database or the queue: every fixture that opens them is built on
    `migrated`, and a module that names them runs whole."""
    return "migrated" in getattr(item, "fixturenames", ()) or _module_names_a_backend(Path(item.path))


ROOT = Path(__file__).resolve().parents[1]


def backend_free_share(selector: str) -> Callable[[Path], bool]:
    """Which of the tests that cannot touch the database or the queue a run takes (GL_TEST_BACKEND_FREE):
    `all`, `none`, comma-separated folders (only the tests under them) or `not` and folders (all but
    those). `.ci/run` splits them between its two passes, which run side by side."""
    selector = selector.strip()
    if selector in ("", "all"):
        return lambda path: True
    if selector == "none":
        return lambda path: False
    negated = selector.startswith("not ")
    folders = [Path(f.strip()) for f in selector.removeprefix("not ").split(",") if f.strip()]
    missing = [str(f) for f in folders if not (ROOT / f).is_dir()]
    if not folders or missing:
        raise pytest.UsageError(f"GL_TEST_BACKEND_FREE={selector!r}: expected all, none, folders or `not` folders; "
                                f"no such folder: {', '.join(missing) or '(none given)'}")

    def takes(path: Path) -> bool:
        inside = any(Path(path).resolve().is_relative_to(ROOT / f) for f in folders)
        return inside != negated
    return takes


def pytest_collection_modifyitems(config, items):
    """GL_TEST_BACKEND_FREE: `.ci/run` runs the suite on SQLite and on PostgreSQL + Redis side by side.
    Every test that can touch the database or the queue runs in both; the others (models, data files,
    pure functions: half of the suite's time) would do the same on any backend, so each runs in one
    pass only, the passes taking a share each."""
    takes = backend_free_share(setting("GL_TEST_BACKEND_FREE"))
    keep = [item for item in items if touches_backend(item) or takes(Path(item.path))]
    if len(keep) < len(items):
        kept = set(keep)
        config.hook.pytest_deselected(items=[item for item in items if item not in kept])
        items[:] = keep


@pytest.fixture(autouse=True)
def reproducible_random(request, monkeypatch):
    """Generation seeds are drawn from `random`, and the tiny model's frames follow the seed; the
    invisible watermark carries the generation's id, so its pixels follow the id. Both seeded from
    the test's id, a test that a render's pictures happen to fail fails on every run, in any order,
    instead of once in a while (nudenet read three red balls at a wall as exposed genitalia at 0.35
    under one id in three; tests/likeness/test_remix.py)."""
    import types
    import uuid

    import app.db

    seed = zlib.crc32(request.node.nodeid.encode())
    random.seed(seed)
    ids = random.Random(seed + 1)
    monkeypatch.setattr(app.db, "uuid", types.SimpleNamespace(
        uuid4=lambda: uuid.UUID(int=ids.getrandbits(128), version=4)))


@pytest.fixture(autouse=True)
def model_frames_stand_in(request, monkeypatch):
    """In-process renders load the tiny model as the shipped one is loaded, but draw the synthetic
    set's clip for their seed (what the shipped model is trained to draw) instead of the tiny random
    model's noise, in which the frame scans now and then see something (nudenet once saw an exposed
    breast): a test about the pipeline must not pass or fail on that. Tests marked `real_sampler`
    sample the tiny model itself; worker subprocesses always do."""
    if request.node.get_closest_marker("real_sampler"):
        return
    import generator.render as render
    from generator import dataset

    def clip_for(pipe, seed: int):
        config = pipe.unet.config
        spec = dataset.sample_spec(random.Random(seed), held_out=None)
        return dataset.render(spec, frames=config.in_channels // 3, size=config.sample_size).frames

    monkeypatch.setattr(render, "sample_clip", lambda pipe, prompt, *, seed, steps, guidance, lineage=():
                        clip_for(pipe, lineage[0][1] if lineage else seed))
    monkeypatch.setattr(render, "sample_clips", lambda pipe, prompts, seeds, *, steps, guidance:
                        [clip_for(pipe, seed) for seed in seeds])


TINY_VIDEO_MODEL = dict(frames=4, size=16, width=16, text_width=32, text_layers=1)


@pytest.fixture(scope="session", autouse=True)
def tiny_video_model(tmp_path_factory):
    """Renders in tests go through a tiny random pipeline, saved and loaded from its directory as
    the shipped one is (GL_GENERATOR_MODEL, inherited by the workers tests start); the tests that
    judge the shipped model's pictures load it by name (tests/generator/test_render.py)."""
    import torch

    from generator.dataset import vocabulary
    from generator.video_model import new_pipeline
    torch.manual_seed(0)
    directory = tmp_path_factory.mktemp("video-model") / "tiny"
    new_pipeline(vocabulary(), **TINY_VIDEO_MODEL).save_pretrained(str(directory), safe_serialization=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GL_GENERATOR_MODEL", str(directory))
        # a configured model states no licence until declared; this one is ours (random weights)
        mp.setenv("GL_MODEL_DECLARED_LICENCES", "video-model=Apache-2.0")
        yield directory


@pytest.fixture(scope="session", autouse=True)
def c2pa_signer(tmp_path_factory):
    """Renders are signed with a credential made once per session and configured as an operator
    configures theirs (GL_C2PA_CERT, GL_C2PA_KEY); tests/generator/test_provenance.py covers the default one."""
    from generator.provenance import init
    cred = init(tmp_path_factory.mktemp("provenance"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GL_C2PA_CERT", str(cred.chain))
        mp.setenv("GL_C2PA_KEY", str(cred.key))
        mp.setenv("GL_C2PA_TRUST_ANCHORS", str(cred.trust))
        yield cred


@pytest.fixture(scope="session")
def migrated(tmp_path_factory) -> str:
    """A database migrated to head: a template file for SQLite, the test database for PostgreSQL."""
    if PG_URL:
        engine = create_engine(OWNER_URL)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        upgrade(OWNER_URL, app_role=APP_ROLE)
        return PG_URL
    template = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{template}")
    return str(template)


@functools.cache
def _owner_engine():
    return create_engine(OWNER_URL)  # the app role may not TRUNCATE


def _empty_postgres() -> None:
    """Every table emptied and every sequence restarted, as `TRUNCATE <all> RESTART IDENTITY` does,
    but only the tables a test wrote to are truncated: truncating all of them (new files for each)
    cost ~0.1 s a test, minutes of the PostgreSQL pass."""
    names = [t.name for t in metadata().sorted_tables]
    written = " UNION ALL ".join(f"SELECT '{n}' WHERE EXISTS (SELECT 1 FROM {n})" for n in names)
    with _owner_engine().begin() as conn:
        tables = [row[0] for row in conn.execute(text(written))]
        if tables:
            # TRUNCATE does not fire the row triggers that keep audit_events append-only.
            conn.execute(text(f"TRUNCATE {', '.join(tables)} CASCADE"))
        used = conn.execute(text("SELECT sequencename FROM pg_sequences WHERE schemaname = 'public' "
                                 "AND last_value IS NOT NULL")).scalars().all()
        for sequence in used:
            conn.execute(text(f"ALTER SEQUENCE {sequence} RESTART"))


def _fresh_database(migrated: str, tmp_path: Path) -> str:
    if PG_URL:
        _empty_postgres()
        return PG_URL
    db_file = tmp_path / "greenlight.db"
    shutil.copy(migrated, db_file)
    return f"sqlite:///{db_file}"


def make_config(migrated: str, tmp_path: Path, **overrides) -> Config:
    if REDIS_URL:
        import redis
        redis.Redis.from_url(REDIS_URL).flushdb()
    base = Config.from_env(env={})
    cfg = replace(base, instance_dir=tmp_path / "instance", media_dir=tmp_path / "media",
                  database_url=_fresh_database(migrated, tmp_path), redis_url=REDIS_URL,
                  secret_key="test-secret", job_retries=2, retry_intervals=(0,), render_seconds=1.0,
                  render_fps=12, worker_poll_s=0.05)
    return replace(cfg, **overrides)


@pytest.fixture
def config(migrated, tmp_path) -> Config:
    return make_config(migrated, tmp_path)


@pytest.fixture
def rt(config):
    rt = runtime.configure(config)
    yield rt
    runtime.reset()


@pytest.fixture
def app(rt):
    from app.factory import create_app
    flask_app = create_app()
    flask_app.testing = True
    return flask_app


@pytest.fixture
def client(app):
    return app.test_client()


def create_user(rt, email: str, role: Role = Role.CREATOR, birthdate: date | None = date(1990, 1, 1),
                handle: str | None = None) -> User:
    with rt.db.transaction() as s:
        return accounts.create_user(s, email, PASSWORD, role=role, birthdate=birthdate, handle=handle)


def token_for(rt, user: User) -> str:
    with rt.db.transaction() as s:
        raw, _ = accounts.issue_token(s, s.get(User, user.id))
    return raw


class Api:
    """A test client bound to one user's bearer token."""

    def __init__(self, client, token: str | None):
        self.client, self.token = client, token

    def _headers(self, extra=None):
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return headers | (extra or {})

    def get(self, path, **kw):
        return self.client.get(path, headers=self._headers(kw.pop("headers", None)), **kw)

    def post(self, path, json=None, **kw):
        return self.client.post(path, json=json, headers=self._headers(kw.pop("headers", None)), **kw)

    def put(self, path, json=None, **kw):
        return self.client.put(path, json=json, headers=self._headers(kw.pop("headers", None)), **kw)

    def patch(self, path, json=None, **kw):
        return self.client.patch(path, json=json, headers=self._headers(kw.pop("headers", None)), **kw)

    def delete(self, path, **kw):
        return self.client.delete(path, headers=self._headers(kw.pop("headers", None)), **kw)


@pytest.fixture
def make_api(rt, client):
    def _make(email: str, role: Role = Role.CREATOR, birthdate: date | None = date(1990, 1, 1),
              handle: str | None = None) -> tuple[Api, User]:
        user = create_user(rt, email, role, birthdate, handle)
        return Api(client, token_for(rt, user)), user
    return _make


def drain(rt) -> None:
    """Work every queue until empty, in this thread, with real RQ."""
    for _ in range(10):
        rt.queues.run_burst()
        if not any(rt.queues.counts().values()):
            return


@pytest.fixture(scope="session")
def tiny_whisper(tmp_path_factory):
    """A Whisper checkpoint in the file format of the released ones, with tiny random weights:
    it exercises the real load and decode path; what it hears is noise."""
    torch = pytest.importorskip("torch")
    from dataclasses import asdict

    from whisper.model import ModelDimensions, Whisper

    dims = ModelDimensions(n_mels=80, n_audio_ctx=1500, n_audio_state=32, n_audio_head=1, n_audio_layer=1,
                           n_vocab=51865, n_text_ctx=448, n_text_state=32, n_text_head=1, n_text_layer=1)
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("whisper") / "tiny-random.pt"
    torch.save({"dims": asdict(dims), "model_state_dict": Whisper(dims).state_dict()}, path)
    return path, dims


def plug_stage(monkeypatch, stage, *, append_to: str | None = None) -> None:
    """For one test: `stage` answers under its name in the registry (replacing a domain's own, or
    new), and is appended to pipeline.PRE_RENDER / POST_RENDER when `append_to` names one."""
    from app import domains, pipeline

    monkeypatch.setitem(domains._stages, stage.name, stage)
    if append_to:
        monkeypatch.setattr(pipeline, append_to, getattr(pipeline, append_to) + (stage.name,))


def tamper(database_url: str, tables: tuple[str, ...], statements: list[tuple[str, dict]]) -> None:
    """Run `statements` as the tables' owner with their append-only triggers off: what someone
    holding an owner's (or, before issue 13, the app's) database login can do. In one transaction."""
    engine = create_engine(OWNER_URL if PG_URL else database_url)
    try:
        with engine.begin() as conn:
            if PG_URL:
                for table in tables:
                    conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
            else:
                names = ", ".join(f"'{t}'" for t in tables)
                triggers = conn.execute(text(f"SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                                             f"AND tbl_name IN ({names})")).all()
                for name, _ in triggers:
                    conn.execute(text(f"DROP TRIGGER {name}"))
            for statement, params in statements:
                conn.execute(text(statement), params)
            if PG_URL:
                for table in tables:
                    conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
            else:
                for _, sql in triggers:
                    conn.execute(text(sql))
    finally:
        engine.dispose()

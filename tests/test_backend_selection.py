"""GL_TEST_BACKEND_ONLY (`.ci/run`'s PostgreSQL + Redis pass) keeps every test that can reach the
database or the queue (tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from tests.conftest import touches_backend

TESTS = Path(__file__).parent


def item(path: Path, *fixtures: str) -> SimpleNamespace:
    return SimpleNamespace(path=path, fixturenames=list(fixtures))


def test_a_test_on_the_database_fixtures_touches_the_backend():
    pure = TESTS / "safety" / "test_prompt_terms.py"   # a module that names no backend
    assert not touches_backend(item(pure))
    assert touches_backend(item(pure, "tmp_path", "migrated", "config", "rt"))


def test_every_test_of_a_module_that_names_a_backend_touches_it():
    assert touches_backend(item(TESTS / "app" / "test_jobs.py"))          # imports REDIS_URL
    assert touches_backend(item(TESTS / "test_db_roles.py"))              # imports PG_URL, APP_ROLE


def test_the_pure_modules_name_no_backend():
    """The modules whose tests the PostgreSQL pass leaves out: models, data files, pure functions."""
    for name in ("safety/test_prompt_classifier.py", "safety/test_prompt_head.py", "generator/test_video_model.py"):
        assert not touches_backend(item(TESTS / name)), name

"""GL_TEST_BACKEND_FREE (`.ci/run` splits the tests that cannot reach the database or the queue
between its two passes) keeps every test that can reach them (tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.conftest import backend_free_share, touches_backend

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


def test_a_module_that_only_quotes_a_backend_name_does_not_touch_it():
    """test_cli.py runs each command on an SQLite file of its own and pops "REDIS_URL" from their
    environment: running it again in the PostgreSQL pass would test SQLite twice."""
    assert not touches_backend(item(TESTS / "app" / "test_cli.py"))
    assert not touches_backend(item(TESTS / "app" / "test_config.py"))


def test_the_two_shares_of_backend_free_tests_take_each_test_once():
    paths = [TESTS / "app" / "test_cli.py", TESTS / "app" / "kit" / "test_speech.py",
             TESTS / "safety" / "test_prompt_head.py", TESTS / "test_imports.py"]
    first, second = backend_free_share("not tests/app"), backend_free_share("tests/app")
    assert [first(p) for p in paths] == [False, False, True, True]
    assert [second(p) for p in paths] == [True, True, False, False]
    assert all(backend_free_share("all")(p) for p in paths)
    assert all(backend_free_share("")(p) for p in paths)
    assert not any(backend_free_share("none")(p) for p in paths)
    both = backend_free_share(" tests/safety , tests/app/kit")
    assert [both(p) for p in paths] == [False, True, True, False]


@pytest.mark.parametrize("selector", ["tests/nowhere", "not ", "not tests/app, tests/nowhere", ","])
def test_a_share_naming_no_folder_or_a_missing_one_stops_the_run(selector):
    with pytest.raises(pytest.UsageError, match="GL_TEST_BACKEND_FREE"):
        backend_free_share(selector)

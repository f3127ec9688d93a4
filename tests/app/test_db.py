"""The Database's connection pool on PostgreSQL: a ping only for connections that sat idle."""

import pytest
from sqlalchemy import create_engine, text

from app import db as db_module
from app.db import Database
from tests.conftest import PG_URL

pytestmark = pytest.mark.skipif(not PG_URL, reason="SQLite connections are files: nothing to ping")


def _backend_pid(database: Database) -> int:
    with database.transaction() as s:
        return s.scalar(text("SELECT pg_backend_pid()"))


def test_a_connection_used_a_moment_ago_is_not_pinged_again(config, monkeypatch):
    database = Database(config.database_url)
    pings = []
    real = database.engine.dialect.do_ping
    monkeypatch.setattr(database.engine.dialect, "do_ping", lambda conn: pings.append(1) or real(conn))
    try:
        first = _backend_pid(database)
        assert [_backend_pid(database) for _ in range(3)] == [first] * 3  # the same pooled connection
        assert pings == []  # a round trip per request saved

        # Idle past the limit, and killed meanwhile (a database restart): pinged, found dead, replaced.
        monkeypatch.setattr(db_module, "PING_AFTER_IDLE_S", 0.0)
        admin = create_engine(config.database_url)
        with admin.begin() as conn:
            assert conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        admin.dispose()
        assert _backend_pid(database) != first
        assert pings, "an idle connection is pinged before use"
    finally:
        database.dispose()

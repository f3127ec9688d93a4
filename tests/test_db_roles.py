"""Issue 13, point 1: the app's database login cannot rewrite history. On PostgreSQL the suite
runs as a role that does not own the tables (GL_TEST_MIGRATION_DATABASE_URL owns them, as
`.ci/run` sets up): it is refused UPDATE, DELETE and TRUNCATE on the audit log and the ledger.
On SQLite, which has no roles, the append-only triggers refuse UPDATE and DELETE."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app import audit
from app.db import utcnow
from app.models import Role
from copyright import ledger, revenue
from tests.conftest import APP_ROLE, PG_URL, create_user

APPEND_ONLY = ("audit_events", "ledger_entries", "ledger_lines", "ledger_period_changes")


@pytest.fixture
def history(rt):
    admin = create_user(rt, "admin@t.test", Role.ADMIN)
    with rt.db.transaction() as s:
        audit.record(s, actor="t", action="thing.done", object_type="thing", object_id="1")
        revenue._store(s, ledger.Posting("ev-1", "EUR", (ledger.Line("platform", 5), ledger.Line("creator:x", -5))),
                       kind="revenue", actor=s.merge(admin), occurred_at=utcnow())
        revenue.close_period(s, s.merge(admin), "2020-01")  # a row in ledger_period_changes


@pytest.mark.parametrize("table", APPEND_ONLY)
@pytest.mark.parametrize("verb", ["UPDATE", "DELETE", "TRUNCATE"])
def test_the_app_login_cannot_change_or_empty_the_append_only_tables(rt, history, table, verb):
    postgres = rt.db.engine.dialect.name == "postgresql"
    if postgres and not APP_ROLE:
        pytest.skip("the suite runs as the tables' owner: set GL_TEST_MIGRATION_DATABASE_URL (as .ci/run does)")
    if verb == "TRUNCATE" and not postgres:
        pytest.skip("SQLite has no TRUNCATE (DELETE covers it)")
    statement = {"UPDATE": f"UPDATE {table} SET id = id", "DELETE": f"DELETE FROM {table}",
                 "TRUNCATE": f"TRUNCATE {table} CASCADE"}[verb]
    refusal = "permission denied" if postgres else "append-only"
    with pytest.raises(DBAPIError, match=refusal):
        with rt.db.transaction() as s:
            s.execute(text(statement))
    with rt.db.transaction() as s:
        assert s.scalar(text(f"SELECT count(*) FROM {table}")) >= 1


@pytest.mark.skipif(not (PG_URL and APP_ROLE), reason="PostgreSQL run as the app role only")
def test_the_app_role_reads_and_writes_ordinary_tables_but_owns_nothing(rt):
    create_user(rt, "someone@t.test")  # INSERT on an ordinary table
    with rt.db.transaction() as s:
        assert s.scalar(text("SELECT current_user")) == APP_ROLE
        s.execute(text("UPDATE users SET handle = handle"))
        owned = s.scalar(text("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() "
                              "AND tableowner = current_user"))
    assert owned == 0
    with pytest.raises(DBAPIError, match="permission denied|must be owner"):
        with rt.db.transaction() as s:
            s.execute(text("DROP TRIGGER audit_events_no_update ON audit_events"))

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app import audit
from app.models import AuditEvent


def _append(rt, n):
    with rt.db.transaction() as s:
        for i in range(n):
            audit.record(s, actor="test", action="thing.done", object_type="thing", object_id=str(i),
                         before={"n": i}, after={"n": i + 1})


def test_chain_links_each_row_to_the_previous(rt):
    _append(rt, 5)
    with rt.db.transaction() as s:
        rows = list(s.query(AuditEvent).order_by(AuditEvent.id))
        assert rows[0].prev_hash == audit.GENESIS
        assert all(b.prev_hash == a.hash for a, b in zip(rows, rows[1:]))
        report = audit.verify(s)
    assert report.ok and report.checked == 5


@pytest.mark.parametrize("statement", [
    "UPDATE audit_events SET actor = 'mallory' WHERE id = 2",
    "DELETE FROM audit_events WHERE id = 2",
])
def test_database_refuses_update_and_delete(rt, statement):
    _append(rt, 3)
    # The triggers refuse it; on PostgreSQL the app's role is not even granted it (tests/test_db_roles.py).
    with pytest.raises(DBAPIError, match="append-only|permission denied"):
        with rt.db.transaction() as s:
            s.execute(text(statement))
    with rt.db.transaction() as s:
        assert audit.verify(s).ok


def test_verify_detects_a_forged_row(rt):
    _append(rt, 3)
    with rt.db.transaction() as s:
        last = s.query(AuditEvent).order_by(AuditEvent.id.desc()).first()
        # Inserting is allowed; a forged row with a made-up hash is caught by verify().
        s.add(AuditEvent(actor="mallory", action="generation.transition", object_type="generation",
                         object_id="x", before=None, after={"status": "published"},
                         created_at=last.created_at, prev_hash=last.hash, hash="f" * 64))
    with rt.db.transaction() as s:
        report = audit.verify(s)
    assert not report.ok and report.first_bad_id == 4 and "hash" in report.problem


def test_chain_cannot_fork(rt):
    _append(rt, 1)
    with pytest.raises(DBAPIError):
        with rt.db.transaction() as s:
            first = s.query(AuditEvent).first()
            s.add(AuditEvent(actor="x", action="y", object_type="z", object_id="1", created_at=first.created_at,
                             prev_hash=first.prev_hash, hash="e" * 64))

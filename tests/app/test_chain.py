"""Issue 13, point 1: the audit chain is keyed and anchored. Each attack the outside test made with
the app's database login (TRUNCATE, rows edited and re-hashed with the project's own digest,
the last row deleted) passed `greenlight audit verify`; each is caught now."""

import base64
import hashlib
import hmac
import json
import os

import pytest

from app import audit, chain, keys
from app.models import AuditEvent
from tests.conftest import tamper


def _append(rt, n, start=0):
    with rt.db.transaction() as s:
        for i in range(start, start + n):
            audit.record(s, actor="test", action="thing.done", object_type="thing", object_id=str(i),
                         before={"n": i}, after={"n": i + 1})


def _checkpoint(rt):
    with rt.db.transaction() as s:
        return chain.checkpoint(s, audit.CHAIN, rt.config.instance_dir)


def _verify(rt):
    instance = rt.config.instance_dir
    points = chain.load_checkpoints(audit.CHAIN, instance, chain.signing_key(instance, create=False))
    with rt.db.transaction() as s:
        return chain.verify(s, audit.CHAIN, chain.chain_key(instance, create=False), points)


def _rehash_from(rt, first_id, digest, *, null_key=False):
    """Edit every row from `first_id` on (actor -> mallory) and re-hash the chain from there with
    `digest(prev, content)`: the issue's "rows 300-425 edited and re-hashed"."""
    with rt.db.transaction() as s:
        rows = list(s.query(AuditEvent).order_by(AuditEvent.id))
        statements, prev = [], chain.GENESIS
        for row in rows:
            if row.id < first_id:
                prev = row.hash
                continue
            row.actor = "mallory"
            new = digest(prev, audit._contents(s, [row])[0])
            statements.append(("UPDATE audit_events SET actor = 'mallory', prev_hash = :p, hash = :h, "
                               "key_id = CASE WHEN :null THEN NULL ELSE key_id END WHERE id = :id",
                               {"p": prev, "h": new, "id": row.id, "null": null_key}))
            prev = new
        s.rollback()
    tamper(rt.config.database_url, ("audit_events",), statements)


def test_rows_are_keyed_with_a_key_outside_the_database(rt):
    _append(rt, 3)
    key = chain.chain_key(rt.config.instance_dir, create=False)
    folder = keys.keys_dir(rt.config.instance_dir)
    assert key is not None and (folder / chain.CHAIN_KEY_FILE).exists()
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    assert oct((folder / chain.CHAIN_KEY_FILE).stat().st_mode & 0o777) == "0o600"
    with rt.db.transaction() as s:
        rows = list(s.query(AuditEvent).order_by(AuditEvent.id))
        assert {r.key_id for r in rows} == {key.id}
        # The hash is the HMAC, not the project's published unkeyed digest.
        first = audit._contents(s, rows[:1])[0]
        assert rows[0].hash == key.digest(chain.GENESIS, first) != chain.unkeyed_digest(chain.GENESIS, first)
        assert audit.verify(s).ok


def test_truncate_is_caught_by_the_checkpoint(rt):
    _append(rt, 5)
    _checkpoint(rt)
    assert _verify(rt).ok
    # TRUNCATE as the owner (PostgreSQL); on SQLite, which has no TRUNCATE, the same as DELETE.
    tamper(rt.config.database_url, ("audit_events",),
           [("TRUNCATE audit_events" if rt.db.engine.dialect.name == "postgresql" else "DELETE FROM audit_events", {})])
    report = _verify(rt)
    assert not report.ok and report.checked == 0
    assert "the table is empty" in report.problem and "recorded 5" in report.problem and "truncated" in report.problem


def test_deleting_the_last_row_is_caught_by_the_checkpoint(rt):
    _append(rt, 4)
    _checkpoint(rt)
    with rt.db.transaction() as s:
        last = s.query(AuditEvent).order_by(AuditEvent.id.desc()).first().id
    tamper(rt.config.database_url, ("audit_events",), [("DELETE FROM audit_events WHERE id = :id", {"id": last})])
    report = _verify(rt)
    assert not report.ok and "ends after 3 events" in report.problem and "deleted from the end" in report.problem


def test_rows_after_the_last_checkpoint_verify_and_the_next_checkpoint_covers_them(rt):
    _append(rt, 2)
    _checkpoint(rt)
    _append(rt, 3, start=2)
    report = _verify(rt)
    assert report.ok and report.checked == 5 and report.anchored_at == 2
    assert _checkpoint(rt).count == 5 and _verify(rt).anchored_at == 5


def test_rehashed_with_the_old_unkeyed_digest_is_caught(rt):
    _append(rt, 6)
    _checkpoint(rt)
    _rehash_from(rt, 3, chain.unkeyed_digest)
    report = _verify(rt)
    assert not report.ok and report.first_bad_id == 3 and "does not match its hash" in report.problem


def test_rehashed_as_if_written_before_the_key_is_caught(rt):
    """Posing as rows from before the chain was keyed (key_id NULL, the unkeyed digest)."""
    _append(rt, 6)
    _rehash_from(rt, 3, chain.unkeyed_digest, null_key=True)
    report = _verify(rt)
    assert not report.ok and report.first_bad_id == 3 and "unkeyed row after keyed ones" in report.problem


def test_the_whole_chain_rehashed_as_unkeyed_is_caught_by_the_checkpoint(rt):
    _append(rt, 4)
    _checkpoint(rt)
    _rehash_from(rt, 1, chain.unkeyed_digest, null_key=True)
    report = _verify(rt)
    # Unkeyed rows pass as far as a checkpoint covers them, up to the row whose hash it signed.
    assert not report.ok and report.first_bad_id == 4
    assert "differs from checkpoint" in report.problem and "rewritten" in report.problem


@pytest.mark.parametrize("guess", [b"", b"test-secret", b"greenlight", os.urandom(32)])
def test_rehashed_with_a_guessed_key_is_caught(rt, guess):
    _append(rt, 6)
    _rehash_from(rt, 3, lambda prev, content: hmac.new(guess, chain.canonical(prev, content),
                                                       hashlib.sha256).hexdigest())
    report = _verify(rt)
    assert not report.ok and report.first_bad_id == 3 and "does not match its hash" in report.problem


def test_an_altered_checkpoint_does_not_verify(rt):
    _append(rt, 5)
    point = _checkpoint(rt)
    body = json.loads(point.path.read_text())
    body["count"] = 2  # to hide three deleted rows
    point.path.write_text(json.dumps(body))
    with pytest.raises(chain.CheckpointError, match="signature does not verify"):
        _verify(rt)


def test_a_checkpoint_signed_by_another_key_is_refused(rt, tmp_path, monkeypatch):
    _append(rt, 2)
    _checkpoint(rt)
    mine = chain.signing_key(rt.config.instance_dir, create=False)
    monkeypatch.setenv("GL_CHECKPOINT_KEY", base64.b64encode(os.urandom(32)).decode())
    forged = _checkpoint(rt)  # a forger's own key, signing the head they want
    monkeypatch.delenv("GL_CHECKPOINT_KEY")
    assert forged.key_id != mine.id
    with pytest.raises(chain.CheckpointError, match=f"signed by key {forged.key_id}, not by"):
        _verify(rt)


def test_checkpoint_files_are_signed_json(rt):
    _append(rt, 3)
    point = _checkpoint(rt)
    body = json.loads(point.path.read_text())
    assert set(body) == {"chain", "count", "head", "at", "chain_key_id", "key_id", "signature"}
    assert body["chain"] == "audit" and body["count"] == 3 and point.path.parent.name == "audit"
    assert body["chain_key_id"] == chain.chain_key(rt.config.instance_dir).id
    assert point.path.is_relative_to(rt.config.instance_dir / "checkpoints")


def test_the_worker_checkpoints_on_its_interval_and_only_chains_that_moved(rt, monkeypatch):
    from app.cli import _scheduled_checkpoints

    monkeypatch.setenv("GL_CHECKPOINT_INTERVAL", "5m")
    _append(rt, 2)
    assert _scheduled_checkpoints(rt, minute=3) == []
    written = dict((c.name, p) for c, p in _scheduled_checkpoints(rt, minute=5))
    assert written["audit"].count == 2
    assert dict((c.name, p) for c, p in _scheduled_checkpoints(rt, minute=10))["audit"] is None  # unmoved
    _append(rt, 1, start=2)
    assert dict((c.name, p) for c, p in _scheduled_checkpoints(rt, minute=15))["audit"].count == 3


def test_another_chain_key_cannot_verify_the_rows(rt, monkeypatch):
    _append(rt, 2)
    other = chain.ChainKey(os.urandom(32))
    with rt.db.transaction() as s:
        report = audit.verify(s, key=other)
    assert not report.ok and report.first_bad_id == 1 and other.id in report.problem


def test_appends_in_one_transaction_continue_from_the_row_before_and_a_rolled_back_savepoint_is_forgotten(rt):
    """Later appends of a transaction skip the lock and the query for the chain's end; a savepoint
    rolled back takes its rows with it, and the next append continues from what is really there."""
    with rt.db.transaction() as s:
        audit.record(s, actor="test", action="a", object_type="thing", object_id="1")
        second = audit.record(s, actor="test", action="b", object_type="thing", object_id="2")
        nested = s.begin_nested()
        audit.record(s, actor="test", action="gone", object_type="thing", object_id="3")
        nested.rollback()
        after = audit.record(s, actor="test", action="c", object_type="thing", object_id="4")
        assert after.prev_hash == second.hash
    with rt.db.transaction() as s:  # a new transaction reads the end again
        audit.record(s, actor="test", action="d", object_type="thing", object_id="5")
    with rt.db.transaction() as s:
        rows = list(s.query(AuditEvent).order_by(AuditEvent.id))
        assert [r.action for r in rows][-4:] == ["a", "b", "c", "d"]
        assert all(later.prev_hash == earlier.hash for earlier, later in zip(rows, rows[1:]))
    assert _verify(rt).ok


def test_a_session_does_not_continue_from_its_last_transaction_when_another_appended_since(rt):
    s = rt.db.sessions()
    try:
        audit.record(s, actor="long-lived", action="one", object_type="thing", object_id="1")
        s.commit()
        _append(rt, 2, start=10)  # another session appends after it
        mine = audit.record(s, actor="long-lived", action="two", object_type="thing", object_id="2")
        s.commit()
    finally:
        s.close()
    with rt.db.transaction() as s:
        before = s.query(AuditEvent).filter(AuditEvent.id < mine.id).order_by(AuditEvent.id.desc()).first()
        assert mine.prev_hash == before.hash and before.object_id == "11"
    assert _verify(rt).ok

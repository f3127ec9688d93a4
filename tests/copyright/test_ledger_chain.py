"""Issue 13, point 1: the revenue ledger is on the same keyed, checkpointed chain as the audit log:
an edited amount, a re-hashed entry, a deleted tail or a truncated ledger fails verification."""

import pytest
from sqlalchemy import select

from app import chain
from app.db import utcnow
from app.models import Role
from copyright import ledger, ledger_chain, revenue
from copyright.models import LedgerEntry, LedgerLine
from tests.conftest import create_user, tamper

TABLES = ("ledger_entries", "ledger_lines")


@pytest.fixture
def entries(rt):
    admin = create_user(rt, "admin@t.test", Role.ADMIN)
    with rt.db.transaction() as s:
        for i in range(4):
            posting = ledger.Posting(f"ev-{i}", "EUR",
                                     (ledger.Line("platform", 30 + i), ledger.Line("creator:x", -30 - i)))
            revenue._store(s, posting, kind="revenue", actor=s.merge(admin), occurred_at=utcnow())
    return [f"ev-{i}" for i in range(4)]


def _checkpoint(rt):
    with rt.db.transaction() as s:
        return chain.checkpoint(s, ledger_chain.CHAIN, rt.config.instance_dir)


def _verify(rt):
    instance = rt.config.instance_dir
    points = chain.load_checkpoints(ledger_chain.CHAIN, instance, chain.signing_key(instance, create=False))
    with rt.db.transaction() as s:
        return chain.verify(s, ledger_chain.CHAIN, chain.chain_key(instance, create=False), points)


def test_entries_are_chained_in_order_and_keyed(rt, entries):
    with rt.db.transaction() as s:
        rows = list(s.scalars(select(LedgerEntry).order_by(LedgerEntry.seq)))
    assert [r.event_id for r in rows] == entries and [r.seq for r in rows] == [1, 2, 3, 4]
    assert rows[0].prev_hash == chain.GENESIS and all(b.prev_hash == a.hash for a, b in zip(rows, rows[1:]))
    assert {r.key_id for r in rows} == {chain.chain_key(rt.config.instance_dir).id}
    _checkpoint(rt)
    assert _verify(rt).ok and _verify(rt).checked == 4


def test_an_edited_line_amount_is_caught(rt, entries):
    with rt.db.transaction() as s:
        entry_id = s.scalar(select(LedgerEntry.id).where(LedgerEntry.event_id == "ev-2"))
    move = "UPDATE ledger_lines SET amount = amount {} 1000 WHERE entry_id = :e AND account = '{}'"
    tamper(rt.config.database_url, TABLES, [(move.format("+", "platform"), {"e": entry_id}),
                                            (move.format("-", "creator:x"), {"e": entry_id})])
    report = _verify(rt)
    assert not report.ok and report.first_bad_id == "ev-2" and "does not match its hash" in report.problem


def test_a_line_slipped_into_an_entry_is_caught(rt, entries):
    """INSERT is all the app's role may do: a line added to an old entry breaks that entry's hash."""
    with rt.db.transaction() as s:
        entry = s.scalar(select(LedgerEntry).where(LedgerEntry.event_id == "ev-1"))
        s.add_all([LedgerLine(entry_id=entry.id, account="creator:mallory", currency="EUR", amount=500),
                   LedgerLine(entry_id=entry.id, account="platform", currency="EUR", amount=-500)])
    report = _verify(rt)
    assert not report.ok and report.first_bad_id == "ev-1"


def test_an_entry_rehashed_with_the_unkeyed_digest_is_caught(rt, entries):
    with rt.db.transaction() as s:
        rows = list(s.scalars(select(LedgerEntry).order_by(LedgerEntry.seq)))
        contents = ledger_chain._contents(s, rows)
    statements, prev = [], rows[1].hash
    for row, content in zip(rows[2:], contents[2:]):
        content[5] = 0  # gross
        new = chain.unkeyed_digest(prev, content)
        statements.append(("UPDATE ledger_entries SET gross = 0, prev_hash = :p, hash = :h WHERE id = :id",
                           {"p": prev, "h": new, "id": row.id}))
        prev = new
    tamper(rt.config.database_url, TABLES, statements)
    report = _verify(rt)
    assert not report.ok and report.first_bad_id == "ev-2"


def test_a_deleted_last_entry_and_a_truncated_ledger_are_caught(rt, entries):
    _checkpoint(rt)
    with rt.db.transaction() as s:
        last = s.scalar(select(LedgerEntry.id).where(LedgerEntry.event_id == "ev-3"))
    tamper(rt.config.database_url, TABLES, [("DELETE FROM ledger_lines WHERE entry_id = :e", {"e": last}),
                                            ("DELETE FROM ledger_entries WHERE id = :e", {"e": last})])
    report = _verify(rt)
    assert not report.ok and "ends after 3 events" in report.problem
    truncate = ("TRUNCATE ledger_lines, ledger_entries" if rt.db.engine.dialect.name == "postgresql"
                else "DELETE FROM ledger_lines; DELETE FROM ledger_entries")
    tamper(rt.config.database_url, TABLES, [(part, {}) for part in truncate.split("; ")])
    report = _verify(rt)
    assert not report.ok and "the table is empty" in report.problem and "recorded 4" in report.problem

"""keyed audit and ledger chains

audit_events gets `key_id` (the chain key's id; NULL for the rows hashed before the chain was
keyed, which keep their SHA-256 hashes). ledger_entries join a chain of their own: `seq`, `prev_hash`,
`hash`, `key_id`. The entries that exist are chained here, in the order they were written, with
the unkeyed SHA-256 the audit log used (the key lives outside the database, out of a migration's
reach); the first keyed entry's HMAC then covers them, and `greenlight db upgrade` writes a
signed checkpoint after migrating (app/chain.py).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 06:40:00
"""
import hashlib
import json
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def _iso(value) -> str:
    if isinstance(value, str):  # SQLite hands back text
        value = datetime.fromisoformat(value)
    value = value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    return value.isoformat()


def _digest(prev: str, content: list) -> str:
    # As app/chain.py's unkeyed_digest over copyright/ledger_chain.py's content, written out here.
    payload = json.dumps([prev, *content], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def _set_triggers(enabled: bool) -> None:
    """The append-only triggers of ledger_entries, off while the existing rows get their hashes."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE ledger_entries {'ENABLE' if enabled else 'DISABLE'} TRIGGER ledger_entries_no_update")
        return
    for verb in ("UPDATE", "DELETE"):
        if enabled:
            op.execute(f"""CREATE TRIGGER ledger_entries_no_{verb.lower()} BEFORE {verb} ON ledger_entries
                          BEGIN SELECT RAISE(ABORT, 'ledger_entries is append-only'); END""")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS ledger_entries_no_{verb.lower()}")


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.add_column('audit_events', sa.Column('key_id', sa.String(length=32), nullable=True))
    # NOT NULL columns on a table with rows: a placeholder default, replaced just below.
    op.add_column('ledger_entries', sa.Column('seq', sa.BigInteger(), nullable=False, server_default='0'))
    op.add_column('ledger_entries', sa.Column('prev_hash', sa.String(length=64), nullable=False, server_default=''))
    op.add_column('ledger_entries', sa.Column('hash', sa.String(length=64), nullable=False, server_default=''))
    op.add_column('ledger_entries', sa.Column('key_id', sa.String(length=32), nullable=True))

    conn = op.get_bind()
    entries = conn.execute(sa.text(
        "SELECT id, event_id, kind, currency, period, generation_id, gross, reverses, occurred_at, created_by_id, "
        "created_at FROM ledger_entries ORDER BY created_at, id")).all()
    if entries:
        lines: dict[str, list] = {}
        for entry_id, account, currency, amount in conn.execute(sa.text(
                "SELECT entry_id, account, currency, amount FROM ledger_lines")):
            lines.setdefault(entry_id, []).append([account, currency, int(amount)])
        _set_triggers(False)
        prev = GENESIS
        for seq, e in enumerate(entries, start=1):
            content = [e.event_id, e.kind, e.currency, e.period, e.generation_id, int(e.gross), e.reverses,
                       _iso(e.occurred_at), e.created_by_id, _iso(e.created_at), sorted(lines.get(e.id, []))]
            digest = _digest(prev, content)
            conn.execute(sa.text("UPDATE ledger_entries SET seq = :seq, prev_hash = :prev, hash = :hash "
                                 "WHERE id = :id"), {"seq": seq, "prev": prev, "hash": digest, "id": e.id})
            prev = digest
        _set_triggers(True)
    if postgres:  # SQLite cannot drop a default without copying the table; the app always sets these
        for column in ('seq', 'prev_hash', 'hash'):
            op.alter_column('ledger_entries', column, server_default=None)
    for column in ('seq', 'prev_hash', 'hash'):
        op.create_index(f'ix_ledger_entries_{column}', 'ledger_entries', [column], unique=True)


def downgrade() -> None:
    for column in ('seq', 'prev_hash', 'hash'):
        op.drop_index(f'ix_ledger_entries_{column}', table_name='ledger_entries')
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+): a batch copy of the table would lose its
    # append-only triggers.
    for column in ('key_id', 'hash', 'prev_hash', 'seq'):
        op.execute(f"ALTER TABLE ledger_entries DROP COLUMN {column}")
    op.execute("ALTER TABLE audit_events DROP COLUMN key_id")

"""revenue ledger

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 12:42:09.334646
"""
from alembic import op
import sqlalchemy as sa
import app.db


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ledger_periods',
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('closed_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_by_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['closed_by_id'], ['users.id'], name=op.f('fk_ledger_periods_closed_by_id_users')),
    sa.PrimaryKeyConstraint('period', name=op.f('pk_ledger_periods'))
    )
    op.create_table('ledger_entries',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('event_id', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('generation_id', sa.String(length=36), nullable=True),
    sa.Column('gross', sa.BigInteger(), nullable=False),
    sa.Column('reverses', sa.String(length=200), nullable=True),
    sa.Column('occurred_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.String(length=36), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_ledger_entries_created_by_id_users')),
    sa.ForeignKeyConstraint(['generation_id'], ['generations.id'], name=op.f('fk_ledger_entries_generation_id_generations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_entries')),
    sa.UniqueConstraint('event_id', name=op.f('uq_ledger_entries_event_id')),
    sa.UniqueConstraint('reverses', name=op.f('uq_ledger_entries_reverses'))
    )
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ledger_entries_generation_id'), ['generation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_entries_period'), ['period'], unique=False)

    op.create_table('ledger_lines',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('entry_id', sa.String(length=36), nullable=False),
    sa.Column('account', sa.String(length=120), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['ledger_entries.id'], name=op.f('fk_ledger_lines_entry_id_ledger_entries')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_lines'))
    )
    with op.batch_alter_table('ledger_lines', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_lines_account_currency', ['account', 'currency'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_lines_entry_id'), ['entry_id'], unique=False)

    _append_only(("ledger_entries", "ledger_lines"))


_APPEND_ONLY = ("ledger_entries", "ledger_lines")


def _append_only(tables) -> None:
    """Postings are never edited or deleted, whatever code runs: the database refuses it."""
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute("""
            CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$;
        """)
    for table in tables:
        if postgres:
            op.execute(f"""CREATE TRIGGER {table}_no_update BEFORE UPDATE OR DELETE ON {table}
                          FOR EACH ROW EXECUTE FUNCTION ledger_append_only()""")
        else:
            for verb in ("UPDATE", "DELETE"):
                op.execute(f"""CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table}
                              BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END""")


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in _APPEND_ONLY:
        if postgres:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update ON {table}")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
    if postgres:
        op.execute("DROP FUNCTION IF EXISTS ledger_append_only()")
    with op.batch_alter_table('ledger_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_lines_entry_id'))
        batch_op.drop_index('ix_ledger_lines_account_currency')

    op.drop_table('ledger_lines')
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_entries_period'))
        batch_op.drop_index(batch_op.f('ix_ledger_entries_generation_id'))

    op.drop_table('ledger_entries')
    op.drop_table('ledger_periods')

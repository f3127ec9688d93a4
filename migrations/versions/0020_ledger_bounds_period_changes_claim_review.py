"""ledger bounds: period changes (close and reopen, append-only), adjustments of closed months;
claims that wait for review, overturned claims and flagged organisations

`ledger_periods` (a row per closed month, closed for good) becomes `ledger_period_changes`: every
close and reopen, append-only like the postings; each closed month carries over as one `close`.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02 06:30:00
"""
from alembic import op
import sqlalchemy as sa
import app.db


revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    op.create_table('ledger_period_changes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('action', sa.String(length=8), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('actor_id', sa.String(length=36), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_ledger_period_changes_actor_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_period_changes'))
    )
    with op.batch_alter_table('ledger_period_changes', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_period_changes_period', ['period', 'id'], unique=False)
    op.execute("INSERT INTO ledger_period_changes (period, action, actor_id, created_at) "
               "SELECT period, 'close', closed_by_id, closed_at FROM ledger_periods ORDER BY closed_at")
    op.drop_table('ledger_periods')
    # Closing and reopening leave a trail nobody rewrites (ledger_append_only() is 0008's function).
    if _postgres():
        op.execute("""CREATE TRIGGER ledger_period_changes_no_update BEFORE UPDATE OR DELETE ON ledger_period_changes
                      FOR EACH ROW EXECUTE FUNCTION ledger_append_only()""")
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"""CREATE TRIGGER ledger_period_changes_no_{verb.lower()} BEFORE {verb}
                          ON ledger_period_changes BEGIN SELECT RAISE(ABORT, 'ledger_period_changes is append-only'); END""")

    # Adding a nullable column to the append-only postings: no row is updated.
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('adjusts_period', sa.String(length=7), nullable=True))

    with op.batch_alter_table('video_claims', schema=None) as batch_op:
        batch_op.add_column(sa.Column('effective_at', app.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('overturned', sa.Boolean(), server_default='0', nullable=False))
    with op.batch_alter_table('rightsholder_orgs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('flagged_at', app.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('flag_reason', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('rightsholder_orgs', schema=None) as batch_op:
        batch_op.drop_column('flag_reason')
        batch_op.drop_column('flagged_at')
    with op.batch_alter_table('video_claims', schema=None) as batch_op:
        batch_op.drop_column('overturned')
        batch_op.drop_column('effective_at')
    # Claims that never took effect had no equivalent before: they go (nothing acted on them).
    op.execute("DELETE FROM video_claims WHERE status IN ('pending_review', 'rejected')")
    op.create_table('ledger_periods',
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('closed_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_by_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['closed_by_id'], ['users.id'], name=op.f('fk_ledger_periods_closed_by_id_users')),
    sa.PrimaryKeyConstraint('period', name=op.f('pk_ledger_periods'))
    )
    # A month whose latest change is a close is closed.
    op.execute("""INSERT INTO ledger_periods (period, closed_at, closed_by_id)
                  SELECT c.period, c.created_at, c.actor_id FROM ledger_period_changes c
                  WHERE c.action = 'close' AND c.id = (SELECT max(l.id) FROM ledger_period_changes l
                                                       WHERE l.period = c.period)""")
    if _postgres():
        op.execute("DROP TRIGGER IF EXISTS ledger_period_changes_no_update ON ledger_period_changes")
    else:
        op.execute("DROP TRIGGER IF EXISTS ledger_period_changes_no_update")
        op.execute("DROP TRIGGER IF EXISTS ledger_period_changes_no_delete")
    op.drop_table('ledger_period_changes')
    # ledger_entries.adjusts_period: dropping a column rewrites the table under SQLite's batch mode,
    # which the append-only triggers refuse; the triggers go and come back around it.
    _without_append_only_triggers(lambda: _drop_adjusts_period())


def _drop_adjusts_period() -> None:
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_column('adjusts_period')


def _without_append_only_triggers(work) -> None:
    if _postgres():
        work()  # ALTER TABLE ... DROP COLUMN fires no row trigger
        return
    for verb in ("update", "delete"):
        op.execute(f"DROP TRIGGER IF EXISTS ledger_entries_no_{verb}")
    work()
    for verb in ("UPDATE", "DELETE"):
        op.execute(f"""CREATE TRIGGER ledger_entries_no_{verb.lower()} BEFORE {verb} ON ledger_entries
                      BEGIN SELECT RAISE(ABORT, 'ledger_entries is append-only'); END""")

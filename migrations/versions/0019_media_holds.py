"""media holds: withheld media kept for legal holds, then purged

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02 06:40:00.000000
"""
from alembic import op
import sqlalchemy as sa
import app.db


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('media_holds',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('generation_id', sa.String(length=36), nullable=False),
    sa.Column('media_key', sa.String(length=255), nullable=False),
    sa.Column('media_sha256', sa.String(length=64), nullable=True),
    sa.Column('reason', sa.String(length=40), nullable=False),
    sa.Column('held_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('purge_after', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('purged_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['generation_id'], ['generations.id'], name=op.f('fk_media_holds_generation_id_generations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_media_holds'))
    )
    with op.batch_alter_table('media_holds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_media_holds_generation_id'), ['generation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_media_holds_purge_after'), ['purge_after'], unique=False)
    with op.batch_alter_table('generations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('media_withheld', sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('generations', schema=None) as batch_op:
        batch_op.drop_column('media_withheld')
    with op.batch_alter_table('media_holds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_media_holds_purge_after'))
        batch_op.drop_index(batch_op.f('ix_media_holds_generation_id'))
    op.drop_table('media_holds')

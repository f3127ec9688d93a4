"""hash banks

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23 14:44:13.800802
"""
from alembic import op
import sqlalchemy as sa
import app.db


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('hash_banks',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('category', sa.String(length=64), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('negative', sa.Boolean(), nullable=False),
    sa.Column('pdq_distance', sa.Integer(), nullable=False),
    sa.Column('phash_distance', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.String(length=36), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_hash_banks_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hash_banks')),
    sa.UniqueConstraint('name', name=op.f('uq_hash_banks_name'))
    )
    op.create_table('bank_signals',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('bank_id', sa.String(length=36), nullable=False),
    sa.Column('signal_type', sa.String(length=16), nullable=False),
    sa.Column('signal', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('tags', sa.String(length=400), nullable=False),
    sa.Column('added_by_id', sa.String(length=36), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['added_by_id'], ['users.id'], name=op.f('fk_bank_signals_added_by_id_users')),
    sa.ForeignKeyConstraint(['bank_id'], ['hash_banks.id'], name=op.f('fk_bank_signals_bank_id_hash_banks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bank_signals')),
    sa.UniqueConstraint('bank_id', 'signal_type', 'signal', name=op.f('uq_bank_signals_bank_id'))
    )
    with op.batch_alter_table('bank_signals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bank_signals_bank_id'), ['bank_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('bank_signals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bank_signals_bank_id'))

    op.drop_table('bank_signals')
    op.drop_table('hash_banks')

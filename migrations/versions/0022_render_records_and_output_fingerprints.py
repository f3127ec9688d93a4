"""render records on generations; the platform's bank of its own outputs

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04 23:50:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('generations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('render_model', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('render_steps', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('render_timings', sa.JSON(), nullable=True))
    op.create_table('output_fingerprints',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('generation_id', sa.String(length=36), nullable=False),
    sa.Column('at_s', sa.Float(), nullable=False),
    sa.Column('view', sa.String(length=16), nullable=False),
    sa.Column('pdq', sa.LargeBinary(length=32), nullable=False),
    sa.Column('quality', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['generation_id'], ['generations.id'], name=op.f('fk_output_fingerprints_generation_id_generations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_output_fingerprints'))
    )
    with op.batch_alter_table('output_fingerprints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_output_fingerprints_generation_id'), ['generation_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('output_fingerprints', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_output_fingerprints_generation_id'))
    op.drop_table('output_fingerprints')
    with op.batch_alter_table('generations', schema=None) as batch_op:
        batch_op.drop_column('render_timings')
        batch_op.drop_column('render_steps')
        batch_op.drop_column('render_model')

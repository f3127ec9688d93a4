"""statements of reasons

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-23 14:48:31.475014
"""
from alembic import op
import sqlalchemy as sa
import app.db


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('statements_of_reasons',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('generation_id', sa.String(length=36), nullable=False),
    sa.Column('user_id', sa.String(length=36), nullable=False),
    sa.Column('decision_visibility', sa.JSON(), nullable=False),
    sa.Column('decision_monetary', sa.String(length=48), nullable=True),
    sa.Column('decision_ground', sa.String(length=48), nullable=False),
    sa.Column('decision_ground_reference_url', sa.String(length=500), nullable=False),
    sa.Column('legal_ground', sa.Text(), nullable=False),
    sa.Column('explanation', sa.Text(), nullable=False),
    sa.Column('content_type', sa.JSON(), nullable=False),
    sa.Column('category', sa.String(length=80), nullable=False),
    sa.Column('keywords', sa.JSON(), nullable=False),
    sa.Column('territorial_scope', sa.JSON(), nullable=False),
    sa.Column('decision_facts', sa.Text(), nullable=False),
    sa.Column('source_type', sa.String(length=32), nullable=False),
    sa.Column('automated_detection', sa.Boolean(), nullable=False),
    sa.Column('automated_decision', sa.String(length=40), nullable=False),
    sa.Column('content_date', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('application_date', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('origin', sa.String(length=64), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('redress', sa.JSON(), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['generation_id'], ['generations.id'], name=op.f('fk_statements_of_reasons_generation_id_generations')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_statements_of_reasons_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_statements_of_reasons'))
    )
    with op.batch_alter_table('statements_of_reasons', schema=None) as batch_op:
        batch_op.create_index('ix_statements_of_reasons_created_at', ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_statements_of_reasons_generation_id'), ['generation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_statements_of_reasons_user_id'), ['user_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('statements_of_reasons', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_statements_of_reasons_user_id'))
        batch_op.drop_index(batch_op.f('ix_statements_of_reasons_generation_id'))
        batch_op.drop_index('ix_statements_of_reasons_created_at')

    op.drop_table('statements_of_reasons')

"""video claims and disputes

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 12:33:51.149733
"""
from alembic import op
import sqlalchemy as sa
import app.db


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('video_claims',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('generation_id', sa.String(length=36), nullable=False),
    sa.Column('org_id', sa.String(length=36), nullable=False),
    sa.Column('work_id', sa.String(length=80), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('dispute_reason', sa.Text(), nullable=True),
    sa.Column('decision_reason', sa.Text(), nullable=True),
    sa.Column('filed_by_id', sa.String(length=36), nullable=False),
    sa.Column('decided_by_id', sa.String(length=36), nullable=True),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('disputed_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decided_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_video_claims_decided_by_id_users')),
    sa.ForeignKeyConstraint(['filed_by_id'], ['users.id'], name=op.f('fk_video_claims_filed_by_id_users')),
    sa.ForeignKeyConstraint(['generation_id'], ['generations.id'], name=op.f('fk_video_claims_generation_id_generations')),
    sa.ForeignKeyConstraint(['org_id'], ['rightsholder_orgs.id'], name=op.f('fk_video_claims_org_id_rightsholder_orgs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_video_claims'))
    )
    with op.batch_alter_table('video_claims', schema=None) as batch_op:
        batch_op.create_index('ix_video_claims_generation_status', ['generation_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_video_claims_org_id'), ['org_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('video_claims', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_video_claims_org_id'))
        batch_op.drop_index('ix_video_claims_generation_status')

    op.drop_table('video_claims')

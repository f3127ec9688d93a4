"""copyright registry

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 12:26:10.153997
"""
from alembic import op
import sqlalchemy as sa
import app.db


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('rightsholder_orgs',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rightsholder_orgs')),
    sa.UniqueConstraint('name', name=op.f('uq_rightsholder_orgs_name'))
    )
    op.create_table('registered_works',
    sa.Column('id', sa.String(length=80), nullable=False),
    sa.Column('org_id', sa.String(length=36), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('aliases', sa.JSON(), nullable=False),
    sa.Column('descriptions', sa.JSON(), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['rightsholder_orgs.id'], name=op.f('fk_registered_works_org_id_rightsholder_orgs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_registered_works'))
    )
    with op.batch_alter_table('registered_works', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_registered_works_org_id'), ['org_id'], unique=False)

    op.create_table('rightsholder_members',
    sa.Column('user_id', sa.String(length=36), nullable=False),
    sa.Column('org_id', sa.String(length=36), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['rightsholder_orgs.id'], name=op.f('fk_rightsholder_members_org_id_rightsholder_orgs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_rightsholder_members_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_rightsholder_members'))
    )
    with op.batch_alter_table('rightsholder_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rightsholder_members_org_id'), ['org_id'], unique=False)

    op.create_table('work_claims',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('work_id', sa.String(length=80), nullable=False),
    sa.Column('org_id', sa.String(length=36), nullable=False),
    sa.Column('evidence_text', sa.Text(), nullable=False),
    sa.Column('evidence_url', sa.String(length=2000), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('decided_by_id', sa.String(length=36), nullable=True),
    sa.Column('decision_reason', sa.Text(), nullable=True),
    sa.Column('decided_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_work_claims_decided_by_id_users')),
    sa.ForeignKeyConstraint(['org_id'], ['rightsholder_orgs.id'], name=op.f('fk_work_claims_org_id_rightsholder_orgs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_work_claims'))
    )
    with op.batch_alter_table('work_claims', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_work_claims_org_id'), ['org_id'], unique=False)
        batch_op.create_index('ix_work_claims_work_status', ['work_id', 'status'], unique=False)

    op.create_table('work_policies',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('work_id', sa.String(length=80), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('share_bp', sa.Integer(), nullable=False),
    sa.Column('restrictions', sa.JSON(), nullable=False),
    sa.Column('valid_from', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('valid_until', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_by_id', sa.String(length=36), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_work_policies_created_by_id_users')),
    sa.ForeignKeyConstraint(['org_id'], ['rightsholder_orgs.id'], name=op.f('fk_work_policies_org_id_rightsholder_orgs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_work_policies')),
    sa.UniqueConstraint('work_id', 'version', name=op.f('uq_work_policies_work_id'))
    )
    with op.batch_alter_table('work_policies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_work_policies_work_id'), ['work_id'], unique=False)

    op.create_table('generation_works',
    sa.Column('generation_id', sa.String(length=36), nullable=False),
    sa.Column('work_id', sa.String(length=80), nullable=False),
    sa.Column('policy_id', sa.String(length=36), nullable=True),
    sa.Column('org_id', sa.String(length=36), nullable=True),
    sa.Column('decision', sa.String(length=16), nullable=False),
    sa.Column('score', sa.Double(), nullable=False),
    sa.Column('via', sa.String(length=32), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['generation_id'], ['generations.id'], name=op.f('fk_generation_works_generation_id_generations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['org_id'], ['rightsholder_orgs.id'], name=op.f('fk_generation_works_org_id_rightsholder_orgs')),
    sa.ForeignKeyConstraint(['policy_id'], ['work_policies.id'], name=op.f('fk_generation_works_policy_id_work_policies')),
    sa.PrimaryKeyConstraint('generation_id', 'work_id', name=op.f('pk_generation_works'))
    )


def downgrade() -> None:
    op.drop_table('generation_works')
    with op.batch_alter_table('work_policies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_work_policies_work_id'))

    op.drop_table('work_policies')
    with op.batch_alter_table('work_claims', schema=None) as batch_op:
        batch_op.drop_index('ix_work_claims_work_status')
        batch_op.drop_index(batch_op.f('ix_work_claims_org_id'))

    op.drop_table('work_claims')
    with op.batch_alter_table('rightsholder_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rightsholder_members_org_id'))

    op.drop_table('rightsholder_members')
    with op.batch_alter_table('registered_works', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_registered_works_org_id'))

    op.drop_table('registered_works')
    op.drop_table('rightsholder_orgs')

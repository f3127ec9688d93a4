"""cameo block lists

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 12:07:37.052008
"""
from alembic import op
import sqlalchemy as sa
import app.db


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('cameo_blocks',
    sa.Column('cameo_id', sa.String(length=36), nullable=False),
    sa.Column('user_id', sa.String(length=36), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['cameo_id'], ['cameos.id'], name=op.f('fk_cameo_blocks_cameo_id_cameos'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_cameo_blocks_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('cameo_id', 'user_id', name=op.f('pk_cameo_blocks'))
    )
    with op.batch_alter_table('enrolment_challenges', schema=None) as batch_op:
        batch_op.add_column(sa.Column('blocked_user_ids', sa.Text(), server_default='', nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('enrolment_challenges', schema=None) as batch_op:
        batch_op.drop_column('blocked_user_ids')

    op.drop_table('cameo_blocks')

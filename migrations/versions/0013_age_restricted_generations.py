"""age restricted generations

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-23 15:06:54.227823
"""
from alembic import op
import sqlalchemy as sa
import app.db


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('generations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('age_restricted', sa.Boolean(), server_default='0', nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('generations', schema=None) as batch_op:
        batch_op.drop_column('age_restricted')


"""longer stage versions

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-23 15:31:53.568632
"""
from alembic import op
import sqlalchemy as sa
import app.db


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('verdicts', schema=None) as batch_op:
        batch_op.alter_column('stage_version',
               existing_type=sa.VARCHAR(length=128),
               type_=sa.String(length=512),
               existing_nullable=False)



def downgrade() -> None:
    with op.batch_alter_table('verdicts', schema=None) as batch_op:
        batch_op.alter_column('stage_version',
               existing_type=sa.String(length=512),
               type_=sa.VARCHAR(length=128),
               existing_nullable=False)


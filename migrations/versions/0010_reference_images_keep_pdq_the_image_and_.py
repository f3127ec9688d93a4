"""reference images keep PDQ, the image and an embedding

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 15:05:00
"""
from alembic import op
import sqlalchemy as sa
import app.db


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('work_reference_images', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pdq', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('pdq_quality', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('storage_key', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('embedding', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('embedding_model', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('indexed_at', app.db.UTCDateTime(timezone=True), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('work_reference_images', schema=None) as batch_op:
        batch_op.drop_column('indexed_at')
        batch_op.drop_column('embedding_model')
        batch_op.drop_column('embedding')
        batch_op.drop_column('storage_key')
        batch_op.drop_column('pdq_quality')
        batch_op.drop_column('pdq')


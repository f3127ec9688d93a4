"""work reference images

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 12:50:20.029732
"""
from alembic import op
import sqlalchemy as sa
import app.db


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('work_reference_images',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('work_id', sa.String(length=80), nullable=False),
    sa.Column('phash', sa.String(length=16), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('uploaded_by_id', sa.String(length=36), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['users.id'], name=op.f('fk_work_reference_images_uploaded_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_work_reference_images'))
    )
    with op.batch_alter_table('work_reference_images', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_work_reference_images_work_id'), ['work_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('work_reference_images', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_work_reference_images_work_id'))

    op.drop_table('work_reference_images')

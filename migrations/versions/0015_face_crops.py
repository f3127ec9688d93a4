"""face crops

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 10:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
import app.db


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('face_crops',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('cameo_id', sa.String(length=36), nullable=True),
    sa.Column('figure_id', sa.String(length=80), nullable=True),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('key_id', sa.String(length=32), nullable=False),
    sa.Column('nonce', sa.LargeBinary(), nullable=False),
    sa.Column('ciphertext', sa.LargeBinary(), nullable=False),
    sa.CheckConstraint('(cameo_id IS NULL) <> (figure_id IS NULL)', name=op.f('ck_face_crops_one_owner')),
    sa.ForeignKeyConstraint(['cameo_id'], ['face_templates.cameo_id'], name=op.f('fk_face_crops_cameo_id_face_templates'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['figure_id'], ['figure_face_templates.figure_id'], name=op.f('fk_face_crops_figure_id_figure_face_templates'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_face_crops'))
    )
    with op.batch_alter_table('face_crops', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_face_crops_cameo_id'), ['cameo_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_face_crops_figure_id'), ['figure_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('face_crops', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_face_crops_figure_id'))
        batch_op.drop_index(batch_op.f('ix_face_crops_cameo_id'))

    op.drop_table('face_crops')

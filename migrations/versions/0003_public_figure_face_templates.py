"""public figure face templates

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 11:45:25.725885
"""
from alembic import op
import sqlalchemy as sa
import app.db


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('figure_face_templates',
    sa.Column('figure_id', sa.String(length=80), nullable=False),
    sa.Column('photos', sa.Integer(), nullable=False),
    sa.Column('key_id', sa.String(length=32), nullable=False),
    sa.Column('nonce', sa.LargeBinary(), nullable=False),
    sa.Column('ciphertext', sa.LargeBinary(), nullable=False),
    sa.Column('dim', sa.Integer(), nullable=False),
    sa.Column('vectors', sa.Integer(), nullable=False),
    sa.Column('model_version', sa.String(length=160), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('figure_id', name=op.f('pk_figure_face_templates'))
    )


def downgrade() -> None:
    op.drop_table('figure_face_templates')

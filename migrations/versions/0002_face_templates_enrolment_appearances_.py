"""face templates, enrolment, appearances, notifications

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa
import app.db


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('notifications',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('user_id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=48), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('read_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_notifications_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications'))
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index('ix_notifications_user_created', ['user_id', 'created_at', 'id'], unique=False)

    op.create_table('cameo_appearances',
    sa.Column('generation_id', sa.String(length=36), nullable=False),
    sa.Column('cameo_id', sa.String(length=36), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['cameo_id'], ['cameos.id'], name=op.f('fk_cameo_appearances_cameo_id_cameos'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['generation_id'], ['generations.id'], name=op.f('fk_cameo_appearances_generation_id_generations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('generation_id', 'cameo_id', name=op.f('pk_cameo_appearances'))
    )
    with op.batch_alter_table('cameo_appearances', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cameo_appearances_cameo_id'), ['cameo_id'], unique=False)

    op.create_table('enrolment_challenges',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('user_id', sa.String(length=36), nullable=False),
    sa.Column('digits', sa.String(length=16), nullable=False),
    sa.Column('direction', sa.String(length=8), nullable=False),
    sa.Column('display_name', sa.String(length=80), nullable=False),
    sa.Column('permission', sa.String(length=16), nullable=False),
    sa.Column('approved_user_ids', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('failure', sa.Text(), nullable=True),
    sa.Column('cameo_id', sa.String(length=36), nullable=True),
    sa.Column('expires_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['cameo_id'], ['cameos.id'], name=op.f('fk_enrolment_challenges_cameo_id_cameos'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_enrolment_challenges_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enrolment_challenges'))
    )
    with op.batch_alter_table('enrolment_challenges', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enrolment_challenges_user_id'), ['user_id'], unique=False)

    op.create_table('enrolment_reviews',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('cameo_id', sa.String(length=36), nullable=False),
    sa.Column('matched_cameo_id', sa.String(length=36), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('decision', sa.String(length=8), nullable=True),
    sa.Column('decided_by_id', sa.String(length=36), nullable=True),
    sa.Column('decided_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['cameo_id'], ['cameos.id'], name=op.f('fk_enrolment_reviews_cameo_id_cameos'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_enrolment_reviews_decided_by_id_users')),
    sa.ForeignKeyConstraint(['matched_cameo_id'], ['cameos.id'], name=op.f('fk_enrolment_reviews_matched_cameo_id_cameos'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enrolment_reviews'))
    )
    with op.batch_alter_table('enrolment_reviews', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enrolment_reviews_cameo_id'), ['cameo_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_enrolment_reviews_status'), ['status'], unique=False)

    op.create_table('face_templates',
    sa.Column('cameo_id', sa.String(length=36), nullable=False),
    sa.Column('key_id', sa.String(length=32), nullable=False),
    sa.Column('nonce', sa.LargeBinary(), nullable=False),
    sa.Column('ciphertext', sa.LargeBinary(), nullable=False),
    sa.Column('dim', sa.Integer(), nullable=False),
    sa.Column('vectors', sa.Integer(), nullable=False),
    sa.Column('model_version', sa.String(length=160), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['cameo_id'], ['cameos.id'], name=op.f('fk_face_templates_cameo_id_cameos'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('cameo_id', name=op.f('pk_face_templates'))
    )
    with op.batch_alter_table('cameos', schema=None) as batch_op:
        batch_op.add_column(sa.Column('enrolled_at', app.db.UTCDateTime(timezone=True), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('cameos', schema=None) as batch_op:
        batch_op.drop_column('enrolled_at')

    op.drop_table('face_templates')
    with op.batch_alter_table('enrolment_reviews', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enrolment_reviews_status'))
        batch_op.drop_index(batch_op.f('ix_enrolment_reviews_cameo_id'))

    op.drop_table('enrolment_reviews')
    with op.batch_alter_table('enrolment_challenges', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enrolment_challenges_user_id'))

    op.drop_table('enrolment_challenges')
    with op.batch_alter_table('cameo_appearances', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cameo_appearances_cameo_id'))

    op.drop_table('cameo_appearances')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_user_created')

    op.drop_table('notifications')

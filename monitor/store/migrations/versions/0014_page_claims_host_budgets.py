"""page claims (instances sharing a database fetch each article page once) and per-host request budgets shared
by the instances (the next start and the requests in flight of each host)

Revision ID: 0014
Revises: 0013
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import monitor.store.models

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'page_claim',
        sa.Column('key', sa.String(), nullable=False),
        sa.Column('owner', sa.String(), nullable=False),
        sa.Column('expires_at', monitor.store.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('key'),
    )
    op.create_table(
        'host_budget',
        sa.Column('host', sa.String(), nullable=False),
        sa.Column('next_start', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('host'),
    )
    op.create_table(
        'host_slot',
        sa.Column('token', sa.String(), nullable=False),
        sa.Column('host', sa.String(), nullable=False),
        sa.Column('owner', sa.String(), nullable=False),
        sa.Column('sent', sa.Boolean(), nullable=False),
        sa.Column('expires_at', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('token'),
    )
    with op.batch_alter_table('host_slot', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_host_slot_host'), ['host'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('host_slot', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_host_slot_host'))
    op.drop_table('host_slot')
    op.drop_table('host_budget')
    op.drop_table('page_claim')

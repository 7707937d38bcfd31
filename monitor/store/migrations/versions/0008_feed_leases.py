"""feed leases (instances sharing one database claim the feeds they poll), the instances' heartbeats and
per-feed schedules (a fixed interval, the publisher's stated one, the observed gap between new entries)

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import monitor.store.models

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('feed', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lease_owner', sa.String(), nullable=True))
        batch_op.add_column(sa.Column('lease_expires_at', monitor.store.models.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('poll_interval', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('stated_interval', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('entry_gap', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('last_new_entry_at', monitor.store.models.UTCDateTime(), nullable=True))
    op.create_table(
        'instance',
        sa.Column('id', sa.String(), nullable=False),
        sa.Column('host', sa.String(), nullable=False),
        sa.Column('pid', sa.Integer(), nullable=False),
        sa.Column('started_at', monitor.store.models.UTCDateTime(), nullable=False),
        sa.Column('heartbeat_at', monitor.store.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )


def downgrade() -> None:
    op.drop_table('instance')
    with op.batch_alter_table('feed', schema=None) as batch_op:
        for column in ('last_new_entry_at', 'entry_gap', 'stated_interval', 'poll_interval', 'lease_expires_at',
                       'lease_owner'):
            batch_op.drop_column(column)

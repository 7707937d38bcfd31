"""alert target: each delivery of an alert names its target ("email", or a [[targets]] entry) and its kind

Rows stored before this revision are the subscriptions' emails: target and kind "email".

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('alert', schema=None) as batch_op:
        batch_op.add_column(sa.Column('target', sa.String(), nullable=False, server_default='email'))
        batch_op.add_column(sa.Column('target_kind', sa.String(), nullable=False, server_default='email'))


def downgrade() -> None:
    with op.batch_alter_table('alert', schema=None) as batch_op:
        batch_op.drop_column('target_kind')
        batch_op.drop_column('target')

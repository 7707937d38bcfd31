"""statement kind: "direct" (the speaker's words, in quotation marks) or "indirect" (a paraphrase)

Rows stored before this revision have no kind (NULL): `monitor retag` gives them one.

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('statement', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('statement', schema=None) as batch_op:
        batch_op.drop_column('kind')

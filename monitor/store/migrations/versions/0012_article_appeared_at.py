"""article.appeared_at: when an article appeared (published, else fetched), the axis of lists and feeds

Filled for stored articles (their publication time when known and not after the fetch, else the fetch time) and
indexed with the id, so newest-first pages read the index alone as they read (fetched_at, id) before.

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import monitor.store.models

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('article', schema=None) as batch_op:
        batch_op.add_column(sa.Column('appeared_at', monitor.store.models.UTCDateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE article SET appeared_at = CASE WHEN published IS NOT NULL AND published <= fetched_at "
        "THEN published ELSE fetched_at END"
    )
    op.create_index('ix_article_appeared_at_id', 'article', ['appeared_at', 'id'])


def downgrade() -> None:
    op.drop_index('ix_article_appeared_at_id', 'article')
    with op.batch_alter_table('article', schema=None) as batch_op:
        batch_op.drop_column('appeared_at')

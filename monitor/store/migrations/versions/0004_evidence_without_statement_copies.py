"""tag evidence without the copies of statements

Up to 0003 each statement of a statement tag was stored twice in the tag's evidence: once as scored evidence
(kind "statement", the reason in ``text``) and once as a plain copy of the statement row (kind "statement" with
a ``speaker`` key). The statements live in their own table; the copies are dropped.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000


def upgrade() -> None:
    tag = sa.table('article_tag', sa.column('article_id', sa.String), sa.column('tag', sa.String),
                   sa.column('evidence', sa.JSON))
    conn = op.get_bind()
    rows = conn.execute(sa.select(tag.c.article_id, tag.c.tag, tag.c.evidence)).all()
    changed = []
    for article_id, name, evidence in rows:
        kept = [e for e in evidence or [] if not (e.get('kind') == 'statement' and 'speaker' in e)]
        if len(kept) != len(evidence or []):
            changed.append({'a': article_id, 't': name, 'e': kept})
    update = (
        tag.update()
        .where(tag.c.article_id == sa.bindparam('a'), tag.c.tag == sa.bindparam('t'))
        .values(evidence=sa.bindparam('e'))
    )
    for i in range(0, len(changed), BATCH):
        conn.execute(update, changed[i : i + BATCH])


def downgrade() -> None:
    pass  # the copies are derived data: `monitor retag` on the older version writes them again

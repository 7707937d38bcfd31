"""full-text search index: an SQLite FTS5 table kept in step by triggers, PostgreSQL tsvector columns with GIN indexes

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 16:30:00

Both index the title and the first 200,000 characters of the text as words of letters and digits (no stemming,
no accent folding), so one query gives the same answers on both (``monitor/store/search.py`` queries them).
Existing articles are indexed here, on upgrade.
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_ROW = "coalesce({r}.title, ''), substr({r}.text, 1, 200000)"
SQLITE_CREATE = [
    # External content: the words are indexed, the text is read from `article` (not stored twice).
    "CREATE VIRTUAL TABLE article_fts USING fts5(title, text, content='article', content_rowid='rowid', "
    "tokenize='unicode61 remove_diacritics 0', prefix='2 3 4')",  # prefix indexes: word* of 2-4 letters
    "INSERT INTO article_fts(rowid, title, text) SELECT rowid, " + SQLITE_ROW.format(r="article") + " FROM article",
    "CREATE TRIGGER article_fts_insert AFTER INSERT ON article BEGIN "
    "INSERT INTO article_fts(rowid, title, text) VALUES (new.rowid, " + SQLITE_ROW.format(r="new") + "); END",
    "CREATE TRIGGER article_fts_delete AFTER DELETE ON article BEGIN "
    "INSERT INTO article_fts(article_fts, rowid, title, text) VALUES ('delete', old.rowid, "
    + SQLITE_ROW.format(r="old") + "); END",
    "CREATE TRIGGER article_fts_update AFTER UPDATE OF title, text ON article BEGIN "
    "INSERT INTO article_fts(article_fts, rowid, title, text) VALUES ('delete', old.rowid, "
    + SQLITE_ROW.format(r="old") + "); "
    "INSERT INTO article_fts(rowid, title, text) VALUES (new.rowid, " + SQLITE_ROW.format(r="new") + "); END",
]
SQLITE_DROP = [
    "DROP TRIGGER article_fts_update", "DROP TRIGGER article_fts_delete", "DROP TRIGGER article_fts_insert",
    "DROP TABLE article_fts",
]
PG_WORDS = "to_tsvector('simple', regexp_replace({x}, '[^[:alnum:]]+', ' ', 'g'))"
PG_CREATE = [
    # Generated columns: computed for every existing row here, and by PostgreSQL on every insert and update.
    "ALTER TABLE article ADD COLUMN search_title tsvector GENERATED ALWAYS AS ("
    + PG_WORDS.format(x="coalesce(title, '')") + ") STORED",
    "ALTER TABLE article ADD COLUMN search_text tsvector GENERATED ALWAYS AS ("
    + PG_WORDS.format(x="left(text, 200000)") + ") STORED",
    "CREATE INDEX ix_article_search_title ON article USING gin (search_title)",
    "CREATE INDEX ix_article_search_text ON article USING gin (search_text)",
]
PG_DROP = [
    "DROP INDEX ix_article_search_text", "DROP INDEX ix_article_search_title",
    "ALTER TABLE article DROP COLUMN search_text", "ALTER TABLE article DROP COLUMN search_title",
]


def upgrade() -> None:
    for statement in SQLITE_CREATE if op.get_bind().dialect.name == "sqlite" else PG_CREATE:
        op.execute(statement)
    # Newest-first pages of search results read (fetched_at, id) from this index, not from the wide rows.
    op.create_index("ix_article_fetched_at_id", "article", ["fetched_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_article_fetched_at_id", "article")
    for statement in SQLITE_DROP if op.get_bind().dialect.name == "sqlite" else PG_DROP:
        op.execute(statement)

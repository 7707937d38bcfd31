"""Storage: finding articles — filters, the full-text query compiled for SQLite FTS5 or PostgreSQL, ranking and
cursor pagination. The index itself is made and kept in step by migration 0004."""

from __future__ import annotations

import base64
import binascii
import enum
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from monitor.core.errors import InvalidParameter
from monitor.store.models import Article, ArticleSource, ArticleTag, Feed, Statement
from monitor.store.query import And, Field, Node, Not, Or, Term, positive_terms

articles = Article.__table__.c
BAD_CURSOR = "invalid cursor: pass the `next` value of the previous page unchanged"


class Order(enum.Enum):
    NEWEST = "newest"  # by the time each appeared (published, else fetched), newest first
    RELEVANCE = "relevance"  # best match first (by date when the query has no full-text term)


@dataclass(frozen=True)
class ArticleFilter:
    """Which articles: a parsed query and plain filters (all must hold). Dates apply to when each appeared (its
    published time, or the fetched time where none is known); ``until`` is exclusive."""

    query: Node | None = None
    tag: str | None = None
    feed_url: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    story: str | None = None
    source: str | None = None


@dataclass(frozen=True)
class Page:
    articles: list[Article]
    next: str | None  # the cursor of the next page, None on the last


def _encode_cursor(data: dict[str, str | int]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, order: Order) -> dict[str, str | int]:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(data, dict) or data.get("o") != order.value:
            raise ValueError
        return data
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidParameter(BAD_CURSOR) from None


class _Compiler:
    """Turns a query's syntax tree into one SQL condition on ``article`` for the engine's dialect."""

    def __init__(self, dialect: str):
        self.sqlite = dialect == "sqlite"

    # --- full-text terms ---

    @staticmethod
    def fts5(term: Term) -> str:
        """A term as an FTS5 expression (words are letters and digits only, so quoting is plain)."""
        phrase = '"' + " ".join(term.words) + '"' + (" *" if term.prefix else "")
        return f"title : {phrase}" if term.field is Field.TITLE else phrase

    @staticmethod
    def tsquery(terms: Sequence[Term]) -> sa.ColumnElement[str]:
        """Terms as one PostgreSQL tsquery matching any of them."""
        parts = []
        for term in terms:
            words = [f"'{w}'" for w in term.words]
            if term.prefix:
                words[-1] += ":*"
            parts.append("(" + " <-> ".join(words) + ")")
        return sa.func.to_tsquery(sa.literal_column("'simple'"), sa.bindparam("tsq", " | ".join(parts), unique=True))

    def fts_condition(self, expression: str) -> sa.ColumnElement[bool]:
        matching = sa.select(sa.literal_column("rowid")).select_from(sa.table("article_fts")).where(
            sa.literal_column("article_fts").op("MATCH")(sa.bindparam("fts", expression, unique=True))
        )
        # "+": the matches filter articles, they do not drive the lookup — newest-first pages then walk the
        # covering (appeared_at, id) index and stop after a page instead of reading every matching article row.
        return sa.literal_column("+article.rowid").in_(matching)

    def pg_condition(self, term: Term) -> sa.ColumnElement[bool]:
        query = self.tsquery([term])
        in_title = sa.literal_column("article.search_title").op("@@")(query)
        if term.field is Field.TITLE:
            return in_title
        return sa.or_(in_title, sa.literal_column("article.search_text").op("@@")(query))

    # --- fields stored elsewhere ---

    def probe(self) -> sa.ColumnElement[str]:
        """The article id as matched against a set of ids (a tag's, a speaker's, a feed's articles). On SQLite the
        "+" keeps the set from driving the lookup, as for full-text matches (see ``fts_condition``)."""
        return sa.literal_column("+article.id") if self.sqlite else articles.id

    def field_condition(self, term: Term) -> sa.ColumnElement[bool]:
        pattern = f"%{term.value}%"
        if term.field is Field.TAG:
            tagged = sa.select(col(ArticleTag.article_id)).where(sa.func.lower(ArticleTag.tag) == term.value)
            return self.probe().in_(tagged)
        if term.field is Field.SPEAKER:
            said = sa.select(col(Statement.article_id)).where(sa.or_(
                sa.func.lower(Statement.speaker).like(pattern), sa.func.lower(Statement.role).like(pattern)
            ))
            return self.probe().in_(said)
        seen = (
            sa.select(col(ArticleSource.article_id)).join(Feed, col(Feed.id) == col(ArticleSource.feed_id))
            .where(sa.or_(sa.func.lower(Feed.url).like(pattern), sa.func.lower(Feed.title).like(pattern)))
        )
        return self.probe().in_(seen)

    # --- the tree ---

    def condition(self, node: Node) -> sa.ColumnElement[bool]:
        expression = self.fts_expression(node) if self.sqlite else None
        if expression is not None:
            return self.fts_condition(expression)
        if isinstance(node, Term):
            return self.pg_condition(node) if node.field.is_full_text else self.field_condition(node)
        if isinstance(node, Not):
            return sa.not_(self.condition(node.child))
        if isinstance(node, Or):
            return sa.or_(*(self.condition(c) for c in node.children))
        # AND: on SQLite, the full-text parts (with their exclusions) as one FTS5 expression, the rest in SQL.
        text, rest = [], []
        for child in node.children:
            expression = self.fts_expression(child) if self.sqlite else None
            (text if expression is not None else rest).append(child)
        if len(text) > 1:
            return sa.and_(self.condition(And(tuple(text))), *(self.condition(c) for c in rest))
        return sa.and_(*(self.condition(c) for c in node.children))

    def fts_expression(self, node: Node) -> str | None:
        """The node as one FTS5 expression, or None when it needs SQL (a field outside the index, or an
        exclusion with nothing to exclude from)."""
        if isinstance(node, Term):
            return self.fts5(node) if node.field.is_full_text else None
        if isinstance(node, Not):
            return None
        if isinstance(node, Or):
            parts = [self.fts_expression(c) for c in node.children]
            return None if None in parts else "(" + " OR ".join(p for p in parts if p) + ")"
        positive = [self.fts_expression(c) for c in node.children if not isinstance(c, Not)]
        negative = [self.fts_expression(c.child) for c in node.children if isinstance(c, Not)]
        if not positive or None in positive or None in negative:
            return None
        expression = "(" + " AND ".join(p for p in positive if p) + ")"
        return expression + "".join(f" NOT {n}" for n in negative if n)

    # --- ranking ---

    def rank(self, node: Node) -> tuple[sa.Subquery | None, sa.ColumnElement[float]] | None:
        """How to order by relevance to the query's positive full-text terms, best first: on SQLite a relation
        (article rowid, score) to join and its score, on PostgreSQL a score over the article's own columns;
        None when the query has no full-text term."""
        terms = positive_terms(node)
        if not terms:
            return None
        if self.sqlite:
            expression = " OR ".join(self.fts5(t) for t in terms)
            match = sa.literal_column("article_fts").op("MATCH")(sa.bindparam("rank", expression, unique=True))
            scores = (
                sa.select(
                    sa.literal_column("rowid").label("key"),
                    sa.literal_column("bm25(article_fts, 2.0, 1.0)").label("score"),
                )
                .select_from(sa.table("article_fts")).where(match).subquery("ranked")
            )
            return scores, scores.c.score.asc().nulls_last()  # bm25: lower is better
        query = self.tsquery(terms)
        score = 2 * sa.func.ts_rank(sa.literal_column("article.search_title"), query) + sa.func.ts_rank(
            sa.literal_column("article.search_text"), query
        )
        return None, score.desc()


class ArticleSearch:
    """Finds articles by filters and a search query, on SQLite or PostgreSQL."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.compiler = _Compiler(engine.dialect.name)

    def _conditions(self, f: ArticleFilter) -> list[sa.ColumnElement[bool]]:
        when = articles.appeared_at
        conditions = []
        if f.query is not None:
            conditions.append(self.compiler.condition(f.query))
        if f.tag:
            tagged = sa.select(col(ArticleTag.article_id)).where(ArticleTag.tag == f.tag)
            conditions.append(self.compiler.probe().in_(tagged))
        if f.feed_url:
            conditions.append(self.compiler.probe().in_(
                sa.select(col(ArticleSource.article_id)).join(Feed, col(Feed.id) == col(ArticleSource.feed_id))
                .where(Feed.url == f.feed_url)
            ))
        if f.since:
            conditions.append(when >= f.since)
        if f.until:
            conditions.append(when < f.until)
        if f.story:
            conditions.append(sa.func.coalesce(articles.story_id, articles.id) == f.story)
        if f.source:
            conditions.append(articles.source == f.source)
        return conditions

    def find(
        self, f: ArticleFilter, limit: int | None = None, cursor: str | None = None, order: Order = Order.NEWEST
    ) -> Page:
        """One page of matching articles (all of them when ``limit`` is None) and the cursor of the next.

        Two steps: the keys of the page (on SQLite without reading the wide article rows: FTS5 and a covering
        index on (appeared_at, id) answer it), then those articles."""
        sqlite = self.compiler.sqlite
        key = sa.literal_column("article.rowid") if sqlite else articles.id
        ranked = self.compiler.rank(f.query) if order is Order.RELEVANCE and f.query is not None else None
        order = order if ranked is not None else Order.NEWEST
        data = _decode_cursor(cursor, order) if cursor else {}
        offset = int(data.get("n", 0))
        if ranked is not None:
            keys = self._ranked_keys(f, key, ranked).offset(offset)
        else:
            keys = sa.select(key.label("key"), articles.appeared_at, articles.id).where(*self._conditions(f))
            keys = keys.order_by(articles.appeared_at.desc(), articles.id)
            if cursor:
                try:
                    after, after_id = datetime.fromisoformat(str(data["t"])), str(data["id"])
                except (KeyError, ValueError):
                    raise InvalidParameter(BAD_CURSOR) from None
                when = sa.bindparam("after", after, type_=articles.appeared_at.type)
                keys = keys.where(sa.or_(
                    articles.appeared_at < when, sa.and_(articles.appeared_at == when, articles.id > after_id)
                ))
        if limit is not None:
            keys = keys.limit(limit + 1)
        with Session(self.engine) as s:
            found = s.execute(keys).all()
            more = limit is not None and len(found) > limit
            found = found[:limit] if limit is not None else found
            wanted = [row[0] for row in found]
            loaded: dict[Any, Article] = {}
            for i in range(0, len(wanted), 500):
                chunk = wanted[i : i + 500]
                loaded.update((k, a) for a, k in s.execute(select(Article, key).where(key.in_(chunk))).all())
        rows = [loaded[k] for k in wanted if k in loaded]
        if not more or not rows:
            return Page(rows, None)
        if ranked is not None:
            return Page(rows, _encode_cursor({"o": order.value, "n": offset + len(found)}))
        last = rows[-1]
        after = (last.appeared_at or last.appeared()).isoformat()
        return Page(rows, _encode_cursor({"o": order.value, "t": after, "id": last.id}))

    def _ranked_keys(
        self, f: ArticleFilter, key: sa.ColumnElement[Any], ranked: tuple[sa.Subquery | None, Any]
    ) -> sa.Select[Any]:
        """The keys of the matching articles, best match first."""
        scores, by_score = ranked
        if scores is None:  # PostgreSQL: a score over the article's own columns
            return sa.select(key.label("key")).where(*self._conditions(f)).order_by(
                by_score, articles.appeared_at.desc(), articles.id
            )
        expression = self.compiler.fts_expression(f.query) if f.query is not None else None
        if expression is not None and f == ArticleFilter(query=f.query):  # text alone: FTS5 answers by itself
            fts = sa.table("article_fts")
            match = sa.literal_column("article_fts").op("MATCH")(sa.bindparam("fts", expression, unique=True))
            return (
                sa.select(sa.literal_column("rowid").label("key")).select_from(fts).where(match)
                .order_by(sa.literal_column("bm25(article_fts, 2.0, 1.0)"), sa.literal_column("rowid").desc())
            )
        return (
            sa.select(key.label("key")).select_from(Article.__table__)
            .outerjoin(scores, scores.c.key == key).where(*self._conditions(f))
            .order_by(by_score, key.desc())  # ties: the later stored first (rowid order, no wide-row reads)
        )

"""Full-text search: the query language, and the same answers from SQLite FTS5 and PostgreSQL on one corpus."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from monitor.core.errors import InvalidParameter
from monitor.store import Store
from monitor.store.engine import create_db_engine, migrate
from monitor.store.query import And, Field, Not, Or, QueryError, Term, parse_query
from monitor.store.search import ArticleFilter, ArticleSearch, Order
from tests.corpus import T0, store_corpus

QUERIES = [
    ("ukraine", {"a1", "a2", "a4", "a6"}),
    ("UKRAINE", {"a1", "a2", "a4", "a6"}),
    ('"defence secretary"', {"a1"}),
    ('"secretary defence"', set()),
    ("missile*", {"a1", "a5"}),
    ("missile", {"a5"}),
    ("drone*", {"a4"}),
    ("ukraine -eurovision", {"a1", "a4", "a6"}),
    ('ukraine -"song contest"', {"a1", "a4", "a6"}),
    ("kyiv OR odesa", {"a1", "a4"}),
    ("defence kyiv OR odesa", {"a1", "a4"}),
    ("title:defence", {"a5"}),
    ("title:kyiv", {"a1"}),
    ("title:\"Missiles hit\"", {"a1"}),
    ("title:ukraine", {"a2"}),
    ("speaker:wallace", {"a1"}),
    ('speaker:"ministry of defence"', {"a4"}),
    ("speaker:wallace OR speaker:healey", {"a1", "a5"}),
    ("tag:ukraine-war", {"a1", "a4", "a6"}),
    ("tag:ukraine-war -speaker:ministry", {"a1", "a6"}),
    ("tag:uk-defence-statement missile*", {"a1", "a5"}),
    ("feed:first", {"a1", "a2", "a3"}),
    ("feed:127.0.0.9/second", {"a4", "a5", "a6"}),
    ("feed:second defence -review", {"a4"}),
    ("pro-russian", {"a3"}),
    ("café", {"a6"}),
    ("cafe", set()),  # no accent folding, on either database
    ("naïve", {"a6"}),
    ("chancellor's", {"a3"}),
    ("(ukraine -war) OR budget", {"a1", "a2", "a3", "a4"}),
    ("nothing-here", set()),
]


@pytest.fixture
def corpus(store: Store) -> dict[str, str]:
    return store_corpus(store)


def found(store: Store, query: str, order: Order = Order.NEWEST) -> list[str]:
    page = ArticleSearch(store.engine).find(ArticleFilter(query=parse_query(query)), order=order)
    return [a.id for a in page.articles]


@pytest.mark.parametrize(("query", "expected"), QUERIES)
def test_same_answers_on_both_databases(store: Store, corpus: dict[str, str], query: str, expected: set[str]) -> None:
    assert set(found(store, query)) == {corpus[k] for k in expected}


def test_the_query_is_parsed_once_into_a_tree() -> None:
    assert parse_query('title:kyiv "air defence" -eurovision missile* OR speaker:wallace') == And((
        Term(Field.TITLE, ("kyiv",)),
        Term(Field.TEXT, ("air", "defence")),
        Not(Term(Field.TEXT, ("eurovision",))),
        Or((Term(Field.TEXT, ("missile",), prefix=True), Term(Field.SPEAKER, ("wallace",)))),
    ))
    assert parse_query("   ") is None
    assert parse_query("tag:Ukraine-War") == Term(Field.TAG, ("ukraine-war",))
    assert parse_query("10:30") == Term(Field.TEXT, ("10", "30"))  # not a field: a phrase of its words


@pytest.mark.parametrize(("query", "message"), [
    ('"unclosed phrase', "unbalanced quote"),
    ("kyiv OR", "OR needs a term on each side"),
    ("OR kyiv", "OR needs a term on each side"),
    ("(kyiv", "unbalanced '('"),
    ("kyiv)", "unbalanced ')'"),
    ("title:", "title: needs a value"),
    ("speaker:wal*", "prefix search"),
    ('"two words"*', "prefix search needs one word"),
    ("10:3*", "prefix search needs one word"),
    ("-eurovision", "only excludes"),
    ("x" * 1001, "too long"),
    (" ".join(f"w{i}" for i in range(40)), "too many terms"),
])
def test_a_malformed_query_is_a_clear_message(query: str, message: str) -> None:
    with pytest.raises(QueryError, match=re.escape(message)):
        parse_query(query)


def test_relevance_ranks_the_best_match_first(store: Store, corpus: dict[str, str]) -> None:
    assert found(store, "ukraine", Order.RELEVANCE)[0] == corpus["a2"]  # in the title and twice in the text
    assert found(store, "defence", Order.RELEVANCE)[0] == corpus["a5"]
    assert found(store, "ukraine")[0] == corpus["a6"]  # newest first


def test_the_index_follows_inserts_updates_and_deletes(store: Store, corpus: dict[str, str]) -> None:
    assert found(store, "zaporizhzhia") == []
    with store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE article SET title = 'Zaporizhzhia plant' WHERE id = :id"), {"id": corpus["a3"]})
    assert found(store, "zaporizhzhia") == [corpus["a3"]]
    assert found(store, "title:budget") == []
    store.replace_analysis(corpus["a3"], ["ukraine-war"], [], [])  # an update of other columns keeps the index
    assert found(store, "zaporizhzhia") == [corpus["a3"]]
    with store.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM article WHERE id = :id"), {"id": corpus["a3"]})
    assert found(store, "zaporizhzhia") == []
    assert set(found(store, "ukraine")) == {corpus[k] for k in ("a1", "a2", "a4", "a6")}


def test_an_existing_database_is_indexed_on_upgrade(db_url: str) -> None:
    engine = create_db_engine(db_url)
    migrate(engine, "0003")
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO article (id, content_hash, title, text, source, authors, tags, fetched_at) "
                "VALUES ('00000000000000aa', '00000000000000aa', 'Old news', 'stored before search existed', "
                "'seed', '[]', '[]', :t)"
            ),
            {"t": datetime(2020, 1, 1)},
        )
    migrate(engine)
    assert found(Store(engine), "search existed") == ["00000000000000aa"]
    assert found(Store(engine), "title:old") == ["00000000000000aa"]
    engine.dispose()


@pytest.mark.parametrize("order", list(Order))
def test_cursor_pages_cover_every_match_once(store: Store, corpus: dict[str, str], order: Order) -> None:
    search, wanted = ArticleSearch(store.engine), ArticleFilter(query=parse_query("ukraine OR defence"))
    everything = [a.id for a in search.find(wanted, order=order).articles]
    pages, cursor = [], None
    while True:
        page = search.find(wanted, limit=2, cursor=cursor, order=order)
        pages.append([a.id for a in page.articles])
        if page.next is None:
            break
        cursor = page.next
    assert [i for p in pages for i in p] == everything and len(everything) == 6
    assert all(len(p) == 2 for p in pages)


def test_filters_combine_with_the_query(store: Store, corpus: dict[str, str]) -> None:
    search = ArticleSearch(store.engine)

    def ids(**kw: object) -> set[str]:
        return {a.id for a in search.find(ArticleFilter(**kw)).articles}  # type: ignore[arg-type]

    assert ids(query=parse_query("ukraine"), tag="ukraine-war", since=T0 + timedelta(hours=1)) == {
        corpus["a4"], corpus["a6"]
    }
    assert ids(until=T0 + timedelta(hours=1)) == {corpus["a1"]}
    assert ids(feed_url="http://127.0.0.9/first.xml", query=parse_query("defence")) == {corpus["a1"], corpus["a3"]}
    assert ids(story=corpus["a2"]) == {corpus["a2"]}


@pytest.mark.parametrize("cursor", ["garbage", "eyJvIjoieCJ9", "e30"])
def test_a_bad_cursor_is_an_invalid_parameter(store: Store, cursor: str) -> None:
    with pytest.raises(InvalidParameter, match="invalid cursor"):
        ArticleSearch(store.engine).find(ArticleFilter(), limit=1, cursor=cursor)


def test_newest_first_is_by_publication_and_pages_keep_that_order(store: Store) -> None:
    from monitor.store.models import Article

    def save(n: int, published: datetime | None, fetched: datetime) -> str:
        aid = f"{n:016x}"
        store.save_article(Article(id=aid, content_hash=aid, title=f"Kyiv {n}", text=f"Kyiv report {n}",
                                   source="feed", published=published, fetched_at=fetched), None)
        return aid

    early = save(1, T0, T0 + timedelta(hours=5))  # published first, fetched last
    late = save(2, T0 + timedelta(hours=3), T0 + timedelta(hours=3, minutes=5))
    undated = save(3, None, T0 + timedelta(hours=4))  # no publication known: its fetch time stands in
    future = save(4, T0 + timedelta(days=30), T0 + timedelta(hours=1))  # a claimed date after the fetch: not trusted
    search = ArticleSearch(store.engine)
    assert [a.id for a in search.find(ArticleFilter()).articles] == [undated, late, future, early]
    pages, cursor = [], None
    while True:
        page = search.find(ArticleFilter(), limit=1, cursor=cursor)
        pages += [a.id for a in page.articles]
        if page.next is None:
            break
        cursor = page.next
    assert pages == [undated, late, future, early]
    since = search.find(ArticleFilter(since=T0 + timedelta(hours=2))).articles
    assert {a.id for a in since} == {undated, late}


def test_upgrading_fills_when_stored_articles_appeared(db_url: str) -> None:
    engine = create_db_engine(db_url)
    migrate(engine, "0011")
    rows = [("00000000000000e1", T0, T0 + timedelta(hours=1)), ("00000000000000e2", None, T0),
            ("00000000000000e3", T0 + timedelta(days=9), T0)]
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO article (id, content_hash, text, source, tags, authors, published, fetched_at) "
            "VALUES (:id, :id, 'Kyiv', 'feed', '[]', '[]', :published, :fetched)"
        ), [{"id": i, "published": p, "fetched": f} for i, p, f in rows])
    migrate(engine)
    store = Store(engine)
    for aid, published, fetched in rows:
        stored = store.article(aid)
        assert stored is not None and stored.appeared_at == (published if published and published <= fetched
                                                              else fetched), aid
    engine.dispose()

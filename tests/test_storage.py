import json
from datetime import UTC, datetime, timedelta, timezone

import sqlalchemy as sa

from monitor.core.config import PollSettings
from monitor.store import PollRecord, Sighting, Store
from monitor.store.engine import alembic_config, create_db_engine, head_revision, migrate
from monitor.store.models import Article, utcnow


def article(text: str, **kw: object) -> Article:
    from monitor.dedup.exact import content_hash

    h = content_hash(text)
    return Article(id=h, content_hash=h, text=text, source="feed", **kw)  # type: ignore[arg-type]


def test_datetimes_come_back_timezone_aware(store: Store) -> None:
    published = datetime(2022, 10, 10, 12, 0, tzinfo=timezone(timedelta(hours=3)))
    store.save_article(article("one", published=published), None)
    stored = store.article(article("one").id)
    assert stored is not None and stored.published == published
    assert stored.published.utcoffset() == timedelta(0)


def test_duplicate_text_records_a_sighting_not_a_row(store: Store) -> None:
    feed, _ = store.add_feed("http://127.0.0.2/feed")
    first = store.save_article(article("same text"), Sighting(feed.id, "http://a/1", "http://a/1", "g1"))
    second = store.save_article(article("same   text"), Sighting(feed.id, "http://b/1", "http://b/1", "g2"))
    assert first.created and not second.created and first.article_id == second.article_id
    assert [s.url for s in store.sightings([first.article_id])[first.article_id]] == ["http://a/1", "http://b/1"]
    assert store.find_seen(Sighting(None, "", "http://b/1", None)) == first.article_id


def test_guid_scope(store: Store) -> None:
    a, _ = store.add_feed("http://127.0.0.2/a")
    b, _ = store.add_feed("http://127.0.0.2/b")
    store.save_article(article("x"), Sighting(a.id, "http://a/x", None, "42"))
    store.save_article(article("y"), Sighting(a.id, "http://a/y", None, "tag:site,2022:y"))
    assert store.find_seen(Sighting(b.id, "", None, "42")) is None  # a bare number is only unique in its feed
    assert store.find_seen(Sighting(a.id, "", None, "42")) is not None
    assert store.find_seen(Sighting(b.id, "", None, "tag:site,2022:y")) is not None


def test_record_polls_keeps_bounded_history(store: Store) -> None:
    feed, _ = store.add_feed("http://127.0.0.2/feed")
    settings = PollSettings(history_keep=3)
    for _ in range(5):
        store.record_polls([PollRecord(feed_id=feed.id or 0, started_at=utcnow(), outcome="ok")], settings)
    assert len(store.fetch_history(feed.id or 0)) == 3
    assert store.record_polls([PollRecord(feed_id=999_999, started_at=utcnow(), outcome="ok")], settings) == [None]


def test_older_database_upgrades_in_place(db_url: str) -> None:
    engine = create_db_engine(db_url)
    migrate(engine, "0001")
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO article (id, content_hash, text, source, authors, tags, fetched_at) "
                "VALUES ('00000000000000aa', '00000000000000aa', 'old text', 'seed', '[]', '[]', :t)"
            ),
            {"t": datetime(2020, 1, 1)},
        )
    migrate(engine)
    store = Store(engine)
    old = store.article("00000000000000aa")
    assert old is not None and old.text == "old text" and old.fetched_at == datetime(2020, 1, 1, tzinfo=UTC)
    migrate(engine)  # idempotent
    engine.dispose()


def test_the_head_revision_read_from_the_files_is_alembics(db_url: str) -> None:
    """A database at head is recognised without Alembic: the revision the files name must be the one it finds;
    one behind it is still migrated."""
    from alembic.script import ScriptDirectory

    engine = create_db_engine(db_url)
    script = ScriptDirectory.from_config(alembic_config(engine))
    head = script.get_current_head()
    assert head is not None and head_revision() == head

    def version() -> list[str]:
        with engine.connect() as conn:
            return list(conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars())

    newest = script.get_revision(head)
    assert newest is not None and isinstance(newest.down_revision, str)
    previous = newest.down_revision
    migrate(engine, previous)
    assert version() == [previous]
    migrate(engine)
    assert version() == [head]
    engine.dispose()


def test_record_seen_answers_a_whole_document_in_one_transaction(store: Store) -> None:
    a, _ = store.add_feed("http://127.0.0.2/a")
    b, _ = store.add_feed("http://127.0.0.2/b")
    stored = store.save_article(article("x"), Sighting(a.id, "http://s/x?utm_source=a", "http://s/x", "7")).article_id
    batch = [
        Sighting(a.id, "http://s/x?utm_source=a", "http://s/x", "7"),  # the same place again
        Sighting(b.id, "http://s/x?fbclid=1", "http://s/x", None),  # same canonical URL, another feed
        Sighting(b.id, "http://s/other", "http://s/other", "7"),  # a bare GUID only counts in its own feed
        Sighting(a.id, "http://s/renamed", "http://s/renamed", "7"),  # ... where it does
    ]
    assert store.record_seen(batch) == [stored, stored, None, stored]
    places = {(s.feed_id, s.url) for s in store.sightings([stored])[stored]}
    assert places == {(a.id, "http://s/x?utm_source=a"), (b.id, "http://s/x?fbclid=1"), (a.id, "http://s/renamed")}
    assert store.record_seen(batch) == [stored, stored, None, stored]  # idempotent
    assert len(store.sightings([stored])[stored]) == 3
    assert store.record_seen([Sighting(a.id, "x", None, None)]) == [None]


def test_add_sightings_in_one_transaction_skips_recorded_places(store: Store) -> None:
    a, _ = store.add_feed("http://127.0.0.2/a")
    b, _ = store.add_feed("http://127.0.0.2/b")
    stored = store.save_article(article("y"), Sighting(a.id, "http://s/y", "http://s/y", None)).article_id
    pairs = [
        (stored, Sighting(a.id, "http://s/y", "http://s/y", None)),
        (stored, Sighting(b.id, "http://s/y", "http://s/y", None)),
        (stored, Sighting(b.id, "http://s/y", "http://s/y", None)),
    ]
    assert store.add_sightings(pairs) == 1
    assert store.add_sightings(pairs) == 0 and store.add_sightings([]) == 0
    assert {s.feed_id for s in store.sightings([stored])[stored]} == {a.id, b.id}


def test_migration_0004_drops_the_statement_copies_from_tag_evidence(db_url: str) -> None:
    engine = create_db_engine(db_url)
    migrate(engine, "0003")
    scored = {"kind": "statement", "text": "Ministry of Defence: defence voice: quote", "field": "text", "start": 0,
              "end": 5, "weight": 1.5}
    copy = {"kind": "statement", "speaker": None, "role": "Ministry of Defence", "text": "quote", "start": 0, "end": 5,
            "field": "text"}
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO article (id, content_hash, text, source, authors, tags, fetched_at) "
                "VALUES ('00000000000000bb', '00000000000000bb', 'quote', 'seed', '[]', '[]', :t)"
            ),
            {"t": datetime(2020, 1, 1)},
        )
        conn.execute(
            sa.text("INSERT INTO article_tag (article_id, tag, score, evidence) "
                    "VALUES ('00000000000000bb', 't', 1, :e)"),
            {"e": json.dumps([scored, copy])},
        )
    migrate(engine)
    [row] = Store(engine).tag_details(["00000000000000bb"])["00000000000000bb"]
    assert row.evidence == [scored]
    engine.dispose()


def test_migration_0009_keeps_the_story_bands_and_their_stories(db_url: str) -> None:
    """The band rows move to a table without rowid (SQLite): every row is kept, and a near-copy stored after
    the upgrade joins the story of one stored before it."""
    from monitor.dedup.neardup import NearDupConfig, band_keys, signature
    from tests.test_neardup import WIRE, WIRE_EDITED

    def stored(text: str) -> Article:
        sig = signature(text, NearDupConfig())
        assert sig is not None
        return article(text, minhash=sig.to_bytes())

    engine = create_db_engine(db_url)
    migrate(engine, "0008")
    # stored as the code of revision 0008 stored it (today's Store writes columns that revision lacks)
    old = stored(WIRE)
    sig = signature(WIRE, NearDupConfig())
    assert sig is not None
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO article (id, content_hash, text, source, tags, authors, fetched_at, story_id, minhash) "
            "VALUES (:id, :id, :text, 'feed', '[]', '[]', :at, :id, :minhash)"
        ), {"id": old.id, "text": WIRE, "at": old.fetched_at, "minhash": old.minhash})
        conn.execute(sa.text("INSERT INTO story_band (band_key, article_id) VALUES (:k, :id)"),
                     [{"k": k, "id": old.id} for k in band_keys(sig, NearDupConfig())])
    first = old.id

    def bands() -> list[tuple[str, str]]:
        with engine.connect() as conn:
            return sorted(conn.execute(sa.text("SELECT band_key, article_id FROM story_band")).tuples())

    before = bands()
    assert len(before) == NearDupConfig().bands
    migrate(engine)
    assert bands() == before
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            sql = conn.execute(sa.text("SELECT sql FROM sqlite_master WHERE name = 'story_band'")).scalar_one()
            indexes = conn.execute(sa.text("SELECT name FROM sqlite_master WHERE tbl_name = 'story_band' "
                                           "AND type = 'index' AND sql IS NOT NULL")).scalars().all()
        assert sql.endswith("WITHOUT ROWID") and indexes == ["ix_story_band_article_id"]
    copy = Store(engine).save_article(stored(WIRE_EDITED), None).article_id
    joined = Store(engine).article(copy)
    assert joined is not None and (joined.duplicate_of, joined.story_id) == (first, first)
    assert len(bands()) == 2 * NearDupConfig().bands
    engine.dispose()


def test_feed_urls_are_compared_in_canonical_form(store: Store) -> None:
    feed, created = store.add_feed("http://127.0.0.2:8000/feed.xml")
    assert created and feed.url == "http://127.0.0.2:8000/feed.xml"
    for variant in ("HTTP://127.0.0.2:8000/feed.xml#frag", "http://127.0.0.2:8000/./feed.xml",
                    "http://127.0.0.2:8000/a/../feed.xml", "http://127.0.0.2:8000/feed.xml?utm_source=x"):
        same, created = store.add_feed(variant)
        assert (same.id, created) == (feed.id, False), variant
        found = store.feed(variant)
        assert found is not None and found.id == feed.id
    assert store.feed_count() == 1
    other, created = store.add_feed("http://127.0.0.2:8000/FEED.xml?b=2&a=1")
    assert created and other.url == "http://127.0.0.2:8000/FEED.xml?a=1&b=2"  # the path's case and the query count
    assert store.remove_feed("http://127.0.0.2:8000/./feed.xml#x") and store.feed_count() == 1

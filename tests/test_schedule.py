"""Feed scheduling and claims: the rules as plain methods of the model (no database), then the store's claims on
both backends (several instances never poll one feed at a time; a dead instance's claims expire)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import sqlalchemy as sa

from monitor.core.config import PollSettings
from monitor.ingest.feedparse import parse_feed
from monitor.ingest.fetcher import freshness
from monitor.service.app import App
from monitor.store import PollRecord, Store
from monitor.store.models import Feed, Instance
from tests.conftest import run_cycle
from tests.newsworld import Item, NewsServer, Reply, article_page, article_text, rss

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def feed(**kw: object) -> Feed:
    return Feed(url="http://127.0.0.2/feed.xml", next_poll_at=NOW - timedelta(seconds=1), **kw)  # type: ignore[arg-type]


def test_retry_delay_backs_off_exponentially_and_honours_retry_after() -> None:
    settings = PollSettings(interval=100, backoff_max=1000)
    delays = [feed(error_count=n).retry_delay(settings, NOW) for n in range(6)]
    assert delays == [100, 200, 400, 800, 1000, 1000]
    assert feed(error_count=1).retry_delay(settings, NOW, retry_after=5000) == 5000
    f = feed(error_count=2)
    f.schedule_next_poll(NOW, settings)
    assert f.next_poll_at == NOW + timedelta(seconds=400)


def test_due_claimed_and_expired_leases() -> None:
    f = feed()
    assert f.is_due(NOW) and f.lease_free(NOW)
    f.claim("a:1", NOW, 30)
    assert not f.is_due(NOW) and not f.is_due(NOW + timedelta(seconds=29))
    assert f.is_due(NOW + timedelta(seconds=30)), "a claim left by a dead instance expires"
    f.release()
    assert f.lease_owner is None and f.is_due(NOW)
    assert not feed(enabled=False).is_due(NOW)
    assert not Feed(url="x", next_poll_at=NOW + timedelta(seconds=1)).is_due(NOW)


def test_instance_liveness() -> None:
    i = Instance(id="a:1", host="a", pid=1, heartbeat_at=NOW - timedelta(seconds=50))
    assert i.is_live(NOW, 60) and not i.is_live(NOW, 49)


def test_claims_divide_due_feeds_between_instances(store: Store) -> None:
    for n in range(5):
        store.add_feed(f"http://127.0.0.2/feed{n}.xml")
    first = store.claim_due_feeds("a:1", 60, limit=3)
    second = store.claim_due_feeds("b:2", 60, limit=3)
    assert len(first) == 3 and len(second) == 2
    assert not {f.id for f in first} & {f.id for f in second}
    assert store.claim_due_feeds("c:3", 60, limit=3) == []
    assert store.renew_leases("a:1", [f.id for f in first if f.id], 60) == 3
    assert store.renew_leases("c:3", [f.id for f in first if f.id], 60) == 0, "only the owner renews"
    # a poll's outcome releases the claim along with the new schedule: not due again before the interval
    settings = PollSettings(interval=600)
    [stored] = store.record_polls([PollRecord(feed_id=first[0].id or 0, started_at=NOW, outcome="ok")], settings)
    assert stored is not None and stored.lease_owner is None and stored.lease_expires_at is None
    assert store.claim_due_feeds("c:3", 60, limit=5) == []


def test_claims_of_a_dead_instance_expire(store: Store) -> None:
    store.add_feed("http://127.0.0.2/feed.xml")
    [claimed] = store.claim_due_feeds("dead:1", 0.5, limit=5)
    assert store.claim_due_feeds("b:2", 60, limit=5) == []
    later = datetime.now(UTC) + timedelta(seconds=1)
    [taken] = store.claim_due_feeds("b:2", 60, limit=5, now=later)
    assert taken.id == claimed.id and taken.lease_owner == "b:2"


def test_stopping_instance_releases_its_claims(store: Store) -> None:
    store.add_feed("http://127.0.0.2/feed.xml")
    assert store.claim_due_feeds("a:1", 600, limit=5)
    store.release_leases("a:1")
    assert [f.lease_owner for f in store.claim_due_feeds("b:2", 600, limit=5)] == ["b:2"]


def test_forced_claim_resets_back_off_but_not_a_live_claim(store: Store) -> None:
    f, _ = store.add_feed("http://127.0.0.2/feed.xml")
    assert f.id is not None
    assert store.claim_feed(f.id, "a:1", 60) is not None
    assert store.claim_feed(f.id, "b:2", 60, force=True) is None, "another instance polls it"
    store.release_leases("a:1")
    settings = PollSettings(interval=600)
    store.record_polls([PollRecord(feed_id=f.id, started_at=NOW, outcome="error", error="http: 500")], settings)
    assert store.claim_feed(f.id, "b:2", 60) is None, "not due: backing off"
    forced = store.claim_feed(f.id, "b:2", 60, force=True)
    assert forced is not None and forced.error_count == 0


def test_heartbeats_of_instances_do_not_collide(store: Store) -> None:
    store.heartbeat("a:1", "a", 1)
    store.heartbeat("b:2", "b", 2)
    store.heartbeat("a:1", "a", 1)
    assert sorted(i.id for i in store.instances()) == ["a:1", "b:2"]
    store.remove_instance("a:1")
    assert [i.id for i in store.instances()] == ["b:2"]


# --- schedules that follow each feed ------------------------------------------------------------------

POLL = PollSettings(interval=900, min_interval=60, max_interval=86400, silent_after=5)


def test_rhythm_unknown_polls_at_the_configured_interval() -> None:
    f = feed()
    assert f.interval(POLL, NOW) == 900
    f.observe_new_entries(NOW, 20)  # the first poll's entries only start the clock
    assert f.entry_gap is None and f.last_new_entry_at == NOW and f.interval(POLL, NOW) == 900


def test_a_busy_feed_is_polled_often_a_weekly_one_rarely() -> None:
    wire, blog = feed(), feed()
    for f, gap in ((wire, 240), (blog, 7 * 86400)):
        f.observe_new_entries(NOW - timedelta(seconds=3 * gap), 5)
        for k in (2, 1, 0):
            f.observe_new_entries(NOW - timedelta(seconds=k * gap), 1)
        assert f.entry_gap is not None and abs(f.entry_gap - gap) < 1
    assert wire.interval(POLL, NOW) == 120, "twice per usual gap"
    assert blog.interval(POLL, NOW) == 86400, "bounded by max_interval"
    fast = feed()
    fast.observe_new_entries(NOW - timedelta(seconds=20), 1)
    fast.observe_new_entries(NOW, 2)
    assert fast.entry_gap == 10 and fast.interval(POLL, NOW) == 60, "never faster than min_interval"


def test_gap_estimate_is_smoothed_and_grows_while_the_feed_is_quiet() -> None:
    f = feed()
    f.observe_new_entries(NOW - timedelta(seconds=2000), 1)
    f.observe_new_entries(NOW - timedelta(seconds=1000), 1)
    f.observe_new_entries(NOW, 1)
    assert f.entry_gap == 1000
    f.observe_new_entries(NOW + timedelta(seconds=3000), 1)
    assert f.entry_gap == pytest.approx(0.7 * 1000 + 0.3 * 3000)
    quiet = NOW + timedelta(seconds=3000 + 10_000)
    assert f.interval(POLL, quiet) == 5000, "a quiet feed is polled less and less often"


def test_publisher_stated_rate_slows_polling_never_below_the_minimum_and_the_user_override_wins() -> None:
    f = feed(stated_interval=3600)
    assert f.interval(POLL, NOW) == 3600
    f.stated_interval = 10
    assert f.interval(POLL, NOW) == 900, "a short max-age does not make polling faster"
    f.stated_interval = 365 * 86400
    assert f.interval(POLL, NOW) == 86400, "capped at max_interval"
    f.poll_interval = 300
    assert f.interval(POLL, NOW) == 300
    f.error_count = 2
    assert f.retry_delay(POLL, NOW) == 1200, "back-off from the feed's own interval"


def test_silent_feed_is_flagged() -> None:
    f = feed()
    f.observe_new_entries(NOW - timedelta(hours=20), 1)
    f.observe_new_entries(NOW - timedelta(hours=10), 1)
    assert f.entry_gap == 36000 and not f.is_silent(POLL, NOW)
    later = NOW + timedelta(hours=41)  # 51 h without a new entry, usual gap 10 h
    assert f.is_silent(POLL, later)
    f.error_count = 1
    assert not f.is_silent(POLL, later), "a failing feed is failing, not silent"
    assert not feed().is_silent(POLL, later), "no rhythm known: never silent"


def test_freshness_headers() -> None:
    assert freshness("public, max-age=600", None) == 600
    assert freshness("no-cache", None) is None
    expires = format_datetime(NOW + timedelta(hours=2), usegmt=True)
    assert freshness(None, expires, now=NOW) == 7200
    assert freshness("max-age=60", expires, now=NOW) == 60, "max-age wins"
    assert freshness(None, "0", now=NOW) is None and freshness(None, "garbage") is None


def test_feed_stated_update_period() -> None:
    doc = (
        b'<?xml version="1.0"?><rss version="2.0" xmlns:sy="http://purl.org/rss/1.0/modules/syndication/">'
        b"<channel><title>t</title><ttl>30</ttl><sy:updatePeriod>daily</sy:updatePeriod>"
        b"<sy:updateFrequency>2</sy:updateFrequency><item><title>a</title><link>http://127.0.0.2/1</link></item>"
        b"</channel></rss>"
    )
    assert parse_feed(doc, "http://127.0.0.2/feed.xml").stated_interval == 43200
    assert parse_feed(doc.replace(b"<sy:updateFrequency>2", b"<sy:updateFrequency>48"),
                      "http://127.0.0.2/feed.xml").stated_interval == 1800, "the ttl is longer"
    assert parse_feed(rss([Item("a", "http://127.0.0.2/1")]), "http://127.0.0.2/f").stated_interval is None


def test_poll_learns_the_rhythm_and_the_stated_rate(app: App, server: NewsServer) -> None:
    items = [Item("Story 1", server.url("/news/1"), "g1")]
    server.static("/news/1", article_page("Story 1", article_text(1)))
    server.route("/feed.xml", lambda _r: Reply(200, rss(items), {
        "Content-Type": "application/rss+xml", "Cache-Control": "max-age=5400",
    }))
    app.store.add_feed(server.url("/feed.xml"))
    before = datetime.now(UTC)
    run_cycle(app)
    [f] = app.store.feeds()
    assert f.stated_interval == 5400 and f.last_new_entry_at is not None and f.entry_gap is None
    assert f.next_poll_at >= before + timedelta(seconds=5400), "the publisher's max-age is honoured"
    items.append(Item("Story 2", server.url("/news/2"), "g2"))
    server.static("/news/2", article_page("Story 2", article_text(2)))
    app.store.set_feed_interval(f.url, 1, app.settings.poll)
    with app.store.session() as s:
        s.execute(sa.update(Feed).values(next_poll_at=datetime.now(UTC)))
        s.commit()
    run_cycle(app)
    [f] = app.store.feeds()
    assert f.entry_gap is not None and f.entry_gap > 0, "the gap between new entries is observed"
    assert f.next_poll_at <= datetime.now(UTC) + timedelta(seconds=1), "the user's interval wins"


def test_a_fixed_interval_moves_the_next_poll_at_once_and_keeps_a_back_off() -> None:
    settings, now = PollSettings(), datetime(2026, 5, 1, 12, tzinfo=UTC)
    feed = Feed(url="http://127.0.0.9/f.xml", last_polled_at=now - timedelta(minutes=10),
                next_poll_at=now + timedelta(hours=6))
    feed.set_interval(300, settings, now)
    assert feed.poll_interval == 300 and feed.next_poll_at == now - timedelta(minutes=5)  # due now
    feed.set_interval(None, settings, now)
    assert feed.next_poll_at == now - timedelta(minutes=10) + timedelta(seconds=settings.interval)
    failing = Feed(url="http://127.0.0.9/g.xml", error_count=3, next_poll_at=now + timedelta(hours=2))
    failing.set_interval(300, settings, now)
    assert failing.next_poll_at == now + timedelta(hours=2)  # the back-off stands

"""Feed scheduling and claims: the rules as plain methods of the model (no database), then the store's claims on
both backends (several instances never poll one feed at a time; a dead instance's claims expire)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.config import PollSettings
from monitor.models import Feed, Instance
from monitor.storage import PollRecord, Store

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def feed(**kw: object) -> Feed:
    return Feed(url="http://127.0.0.2/feed.xml", next_poll_at=NOW - timedelta(seconds=1), **kw)  # type: ignore[arg-type]


def test_retry_delay_backs_off_exponentially_and_honours_retry_after() -> None:
    settings = PollSettings(interval=100, backoff_max=1000)
    delays = [feed(error_count=n).retry_delay(settings) for n in range(6)]
    assert delays == [100, 200, 400, 800, 1000, 1000]
    assert feed(error_count=1).retry_delay(settings, retry_after=5000) == 5000
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

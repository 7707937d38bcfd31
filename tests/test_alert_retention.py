"""Sent alerts are deleted after ``alerts.keep_sent_days`` by the sender's runs; unsent ones never are, and a story
whose alert was deleted stays alerted (no second mail, no place in a later digest)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import col, select

from monitor.alerts.outbox import make_alert_hook
from monitor.alerts.sender import DIGEST_STATE, build_due_digests, deliver_pending, run_alerts
from monitor.store import Store
from monitor.store.models import AlertStory, utcnow
from tests.smtp import SmtpServer
from tests.test_alerts import WAR, alerts, configure, plain_text, save, subscription


def story_alerts(store: Store) -> list[int | None]:
    with store.session() as s:
        return list(s.exec(select(AlertStory.alert_id).order_by(col(AlertStory.story_id))))


def test_sent_alerts_older_than_the_setting_are_deleted_unsent_ones_stay(
    config_file: Path, mail: SmtpServer, store: Store
) -> None:
    settings = configure(config_file, mail.port, subscription(), alerts="keep_sent_days = 1e-9")  # ~0.1 ms
    store.article_hooks.append(make_alert_hook(settings))
    for n in range(3):
        save(store, f"Kyiv story {n}", plain_text(n))
    assert len(deliver_pending(store, settings).sent) == 3
    save(store, "Kyiv story 3", plain_text(3))  # pending
    save(store, "Kyiv story 4", plain_text(4))
    failed = alerts(store)[-1].id
    assert failed is not None
    store.finish_alert(failed, status="failed", last_error="refused")

    report = run_alerts(store, settings)  # sends the pending one, then trims
    assert len(report.sent) == 1 and len(mail.messages) == 4
    kept = alerts(store)
    # of the four sent, the newest stays: the stories of the others point at it; the failed one stays
    assert report.trimmed == 3
    assert [(a.id, a.status) for a in kept] == [(kept[0].id, "sent"), (failed, "failed")]
    assert set(story_alerts(store)) == {kept[0].id, failed}  # every story still alerted
    save(store, "Kyiv story 0 again", plain_text(0) + " Updated.")  # a near copy of a trimmed alert's story
    assert len(alerts(store)) == 2 and run_alerts(store, settings).sent == []

    # the default keeps them 90 days
    assert configure(config_file, mail.port, subscription()).alerts.keep_sent_days == 90
    assert store.trim_sent_alerts(utcnow() - timedelta(days=90)) == 0


def test_a_story_of_a_deleted_digest_never_goes_into_the_next_one(
    config_file: Path, mail: SmtpServer, store: Store
) -> None:
    digest = subscription("morning", "digest", schedule='"0 7 * * *"', timezone='"UTC"', tags=f'["{WAR}"]')
    settings = configure(config_file, mail.port, digest)
    store.article_hooks.append(make_alert_hook(settings))
    store.set_state(DIGEST_STATE.format("morning"), "2022-03-01T06:00:00+00:00")
    day = datetime(2022, 3, 1, 7, 0, 1, tzinfo=UTC)
    for d in range(3):  # a digest a day, of two stories each
        save(store, f"War story {d}a", plain_text(10 + 2 * d), (WAR,))
        save(store, f"War story {d}b", plain_text(11 + 2 * d), (WAR,))
        assert len(build_due_digests(store, settings, day + timedelta(days=d))) == 1
        assert len(deliver_pending(store, settings).sent) == 1

    assert store.trim_sent_alerts(utcnow() + timedelta(seconds=1)) == 2
    assert len(alerts(store)) == 1 and None not in story_alerts(store)
    save(store, "War story 3a", plain_text(20), (WAR,))
    assert len(build_due_digests(store, settings, day + timedelta(days=3))) == 1
    assert len(deliver_pending(store, settings).sent) == 1
    assert "1 story" in str(mail.messages[-1]["Subject"])  # the new story alone, not the six before

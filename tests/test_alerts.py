"""Alert emails against a real SMTP server on loopback: content, headers, TLS + AUTH, outages, refusals,
hostile titles, one alert per story, digests, and the `monitor alerts` commands."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from monitor.alerts.outbox import make_alert_hook
from monitor.alerts.render import MAX_SUBJECT
from monitor.alerts.sender import DIGEST_STATE, build_due_digests, deliver_pending, run_alerts
from monitor.core.config import Settings, load_settings
from monitor.core.errors import ConfigError
from monitor.core.metrics import REGISTRY
from monitor.dedup.exact import content_hash
from monitor.dedup.neardup import NearDupConfig, signature
from monitor.store import Sighting, Store
from monitor.store.engine import create_db_engine, migrate
from monitor.store.models import Alert, Article, ArticleTag, Statement
from tests.smtp import PASSWORD, USER, SmtpServer, make_certificate

WAR, UK = "ukraine-war", "uk-defence-statement"
BACKOFF = 0.3  # seconds before the first retry (then 0.6, 1.0, ...)
MARK = "\n# --- alert settings ---\n"
QUOTE = "We will continue to stand with Ukraine for as long as it takes."


def subscription(name: str = "war", mode: str = "immediate", **extra: str) -> str:
    keys = {"name": f'"{name}"', "recipients": '["analyst@example.org", "desk@example.org"]',
            "tags": f'["{WAR}", "{UK}"]', "mode": f'"{mode}"'} | extra
    return "\n[[subscriptions]]\n" + "".join(f"{k} = {v}\n" for k, v in keys.items())


def configure(
    config_file: Path, port: int, extra: str = "", smtp: str = "", alerts: str = "", security: str = "none",
    backoff: float = BACKOFF, backoff_max: float = 1.0,
) -> Settings:
    """The test config plus SMTP on loopback, quick back-off and the given subscriptions (replacing earlier ones)."""
    text = config_file.read_text().split(MARK)[0] + MARK + (
        f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "{security}"\nfrom_addr = "monitor@alerts.test"\n'
        f"timeout = 5.0\n{smtp}\n[alerts]\nbackoff_base = {backoff}\nbackoff_max = {backoff_max}\n{alerts}\n{extra}"
    )
    config_file.write_text(text)
    return load_settings(config_file)


@pytest.fixture
def alerting(config_file: Path, mail: SmtpServer, store: Store) -> tuple[Settings, Store]:
    settings = configure(config_file, mail.port, subscription())
    store.article_hooks.append(make_alert_hook(settings))
    return settings, store


def add_feed(store: Store, url: str) -> int:
    feed, _ = store.add_feed(url, "Kyiv Independent wire")
    assert feed.id is not None
    return feed.id


def save(
    store: Store, title: str, text: str, tags: tuple[str, ...] = (WAR, UK), feed_id: int | None = None,
    source: str = "page", published: datetime | None = None, url: str | None = None,
    speaker: tuple[str | None, str] = ("Ben Wallace", "Defence Secretary"),
) -> Article:
    """Store an article as the pipeline does (tags with evidence, a statement, a MinHash signature)."""
    sig = signature(text, NearDupConfig())
    article = Article(
        id=content_hash(text), content_hash=content_hash(text), title=title, text=text, source=source,
        url=url or f"https://news.example/{content_hash(text)}", feed_id=feed_id, tags=list(tags),
        published=published or datetime(2022, 3, 1, 8, 30, tzinfo=UTC), minhash=sig.to_bytes() if sig else None,
    )
    evidence = [  # as the tagger records it: the words matched, by offsets into the title or the text
        {"kind": "term", "text": "'Kyiv' (kyiv [ukraine])", "field": field, "start": at, "end": at + 4, "weight": 1.5}
        for field, at in (("title", title.find("Kyiv")), ("text", text.find("Kyiv"))) if at >= 0
    ] + [{"kind": "feature", "text": "article.topic = 2 x weight +0.722", "field": "text", "start": None,
          "end": None, "weight": 1.44}]
    rows = [ArticleTag(article_id=article.id, tag=t, score=3.5 - i, evidence=evidence) for i, t in enumerate(tags)]
    statements = [Statement(article_id=article.id, speaker=speaker[0], role=speaker[1], text=QUOTE, start=0,
                            end=10)] if UK in tags else []
    sighting = Sighting(feed_id, article.url or "", article.url, None)
    store.save_article(article, sighting, rows, statements)
    return article


WORDS = "drone strike missile power grid city region army front border talks aid minister troops shelling convoy"
WORDS += " bridge port grain energy winter officials report village artillery defence air night"


def plain_text(n: int) -> str:
    """A distinct text for story ``n`` (no near-copy of another story's)."""
    rng = random.Random(n)
    return f"Story {n}. " + " ".join(
        " ".join(rng.choice(WORDS.split()) for _ in range(12)).capitalize() + "." for _ in range(15)
    )


def story_text(n: int) -> str:
    return plain_text(n) + f' Defence Secretary Ben Wallace said: "{QUOTE}"'


def alerts(store: Store) -> list[Alert]:
    with store.session() as s:
        return list(s.exec(select(Alert).order_by(col(Alert.id))))


def wait_until_due(store: Store) -> None:
    """Sleep until every alert's next attempt is due (the stored time, so no margin is guessed)."""
    due = max(a.next_attempt_at for a in alerts(store))
    while (left := (due - datetime.now(UTC)).total_seconds()) > 0:
        time.sleep(left)


def subject(msg: EmailMessage) -> str:
    """The subject as a mail client shows it (Python may fold a long one right after "Subject:")."""
    return str(msg["Subject"]).strip()


def parts(msg: EmailMessage) -> tuple[str, str]:
    text, html = (msg.get_body(("plain",)), msg.get_body(("html",)))
    assert text is not None and html is not None
    return text.get_content().replace("\r\n", "\n"), html.get_content().replace("\r\n", "\n")


# --- immediate alerts ---------------------------------------------------------------------------------


def test_immediate_alert_is_a_multipart_mail_with_evidence_and_statements(
    alerting: tuple[Settings, Store], mail: SmtpServer
) -> None:
    settings, store = alerting
    feed_id = add_feed(store, "https://wire.example/feed.xml")
    hostile = " Shelling near Kyiv <script>x</script> went on."
    article = save(store, "Russian strikes hit Kyiv overnight", story_text(1) + hostile, feed_id=feed_id)
    [alert] = alerts(store)
    assert (alert.status, alert.kind, alert.article_ids) == ("pending", "immediate", [article.id])

    report = deliver_pending(store, settings)

    assert [a for a, _ in report.sent] == [alert.id] and "queued as Q1" in report.sent[0][1]
    [msg] = mail.messages
    assert subject(msg) == f"[{WAR}, {UK}] Russian strikes hit Kyiv overnight"
    assert msg["Message-ID"] == alert.message_id and alert.message_id.endswith("@alerts.test>")
    assert msg["From"] == "monitor@alerts.test"
    assert msg["To"] == "analyst@example.org, desk@example.org"
    assert mail.mailbox.envelopes == [("monitor@alerts.test", ["analyst@example.org", "desk@example.org"])]
    assert msg.get_content_type() == "multipart/alternative"
    text, html = parts(msg)
    for body in (text, html):
        assert "Kyiv Independent wire" in body  # the source
        assert "2022-03-01 08:30 UTC" in body
        assert article.url in body
        assert "Story 1. " in body  # the extract
        assert "Ben Wallace" in body and "Defence Secretary" in body
    assert QUOTE in text and f"Tagged {WAR} for: Kyiv" in text  # evidence as a reader writes it
    assert '"Shelling near Kyiv <script>x</script> went on."' in text  # the sentence that holds the words
    assert "&lt;script&gt;" in html and "<script>" not in html  # escaped
    assert "weight" not in text and "article.topic" not in text  # no model internals
    assert plain_text(1)[-100:] not in text  # an extract, not the whole text
    [sent] = alerts(store)
    assert (sent.status, sent.attempts, sent.last_error) == ("sent", 1, None) and sent.sent_at
    assert not deliver_pending(store, settings)
    assert len(mail.messages) == 1


def test_a_body_is_named_as_the_speaker_not_unattributed(alerting: tuple[Settings, Store], mail: SmtpServer) -> None:
    settings, store = alerting
    save(store, "MoD on Kyiv", story_text(2), speaker=(None, "Ministry of Defence"))

    deliver_pending(store, settings)

    [msg] = mail.messages
    for body in parts(msg):
        assert "Ministry of Defence" in body and "unattributed" not in body
    assert f'- Ministry of Defence, 2022-03-01: \u201c{QUOTE}\u201d' in parts(msg)[0]  # dated


def test_filters_tags_keywords_feeds_and_never_seeds(config_file: Path, mail: SmtpServer, store: Store) -> None:
    subs = (
        subscription("all")
        + subscription("any", match='"any"')
        + subscription("keyword", keywords='["ben wallace"]', tags="[]")
        + subscription("feed", feeds='["https://b.example/feed.xml"]', match='"any"')
    )
    settings = configure(config_file, mail.port, subs)
    store.article_hooks.append(make_alert_hook(settings))
    feed_a, feed_b = add_feed(store, "https://a.example/feed.xml"), add_feed(store, "https://b.example/feed.xml")

    def alerted(article: Article) -> set[str]:
        return {a.subscription for a in alerts(store) if a.article_ids == [article.id]}

    assert alerted(save(store, "Both tags", story_text(1), feed_id=feed_a)) == {"all", "any", "keyword"}
    assert alerted(save(store, "War only", plain_text(2), (WAR,), feed_id=feed_b)) == {"any", "feed"}
    assert alerted(save(store, "Untagged", plain_text(3), ())) == set()
    assert alerted(save(store, "Seed", story_text(4), source="seed")) == set()
    with pytest.raises(ConfigError, match="duplicate subscription"):
        make_alert_hook(configure(config_file, mail.port, subscription("all") + subscription("all")))


def test_one_story_one_alert_across_feeds_and_near_copies(alerting: tuple[Settings, Store], mail: SmtpServer) -> None:
    settings, store = alerting
    feed_a, feed_b = add_feed(store, "https://a.example/feed.xml"), add_feed(store, "https://b.example/feed.xml")
    first = save(store, "Strikes on Kyiv", story_text(7), feed_id=feed_a)
    copy = save(store, "Strikes on Kyiv (update)", story_text(7) + " Updated at 09:00 with new figures.",
                feed_id=feed_b)
    stored = store.article(copy.id)
    assert stored is not None and stored.story_id == first.id  # a near-copy, another article of the same story
    # the identical text seen in a third place is no new article at all
    result = store.save_article(first.model_copy(), Sighting(feed_b, "https://b.example/again", None, None))
    assert not result.created

    assert len(alerts(store)) == 1
    deliver_pending(store, settings)
    assert len(mail.messages) == 1


# --- delivery guarantees ------------------------------------------------------------------------------


def test_server_down_then_back_loses_nothing_and_doubles_nothing(
    alerting: tuple[Settings, Store], mail: SmtpServer, config_file: Path
) -> None:
    store = alerting[1]
    # A back-off long enough that "nothing is due yet" is checked well inside it on a loaded machine; the waits
    # below end when the stored next attempt is due, not after a guessed sleep.
    settings = configure(config_file, mail.port, subscription(), backoff=3.0, backoff_max=3.0)
    mail.stop()
    for n in range(3):
        save(store, f"Story {n}", story_text(10 + n))
    report = deliver_pending(store, settings)
    assert not report.sent and len(report.retrying) == 3
    assert all("cannot reach 127.0.0.1" in error for _id, error in report.retrying)
    pending = alerts(store)
    assert all(a.status == "pending" and a.attempts == 1 and a.last_error for a in pending)
    assert all(a.next_attempt_at > datetime.now(UTC) for a in pending)
    assert not deliver_pending(store, settings)  # backing off: nothing is due yet
    wait_until_due(store)
    assert len(deliver_pending(store, settings).retrying) == 3  # still down: second attempt

    mail.start()
    wait_until_due(store)
    sent_before = REGISTRY.get_sample_value("monitor_alerts_total", {"target": "email", "result": "sent"}) or 0
    assert len(run_alerts(store, settings).sent) == 3
    assert REGISTRY.get_sample_value("monitor_alerts_total", {"target": "email", "result": "sent"}) == sent_before + 3
    assert REGISTRY.get_sample_value("monitor_alerts_pending") == 0
    assert not deliver_pending(store, settings, force=True)
    counts = Counter(mail.mailbox.message_ids())
    assert sorted(counts) == sorted(a.message_id for a in alerts(store)) and set(counts.values()) == {1}
    assert all(a.status == "sent" and a.attempts == 3 for a in alerts(store))


def test_crash_between_send_and_mark_resends_once_with_the_same_message_id(
    alerting: tuple[Settings, Store], mail: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, store = alerting
    save(store, "Strikes on Kyiv", story_text(20))

    def crash(*_args: object, **_kw: object) -> None:
        raise KeyboardInterrupt  # the process dies after the server accepted the message

    with monkeypatch.context() as m:
        m.setattr(store, "finish_alert", crash)  # marking the alert sent
        with pytest.raises(KeyboardInterrupt):
            deliver_pending(store, settings)
    [alert] = alerts(store)
    assert alert.status == "sending" and len(mail.messages) == 1
    assert not deliver_pending(store, settings, force=True)  # the claim is still fresh: nobody takes it over
    with store.session() as s:  # ... until it is stale
        s.exec(sa.update(Alert).values(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1)))  # type: ignore[call-overload]
        s.commit()
    assert len(deliver_pending(store, settings).sent) == 1
    assert mail.mailbox.message_ids() == [alert.message_id] * 2
    assert alerts(store)[0].status == "sent"


@pytest.mark.parametrize(
    ("where", "answer", "status"),
    [
        ("refuse_rcpt", "550 5.1.1 <analyst@example.org>: Recipient address rejected", "failed"),
        ("refuse_data", "554 5.7.1 Message rejected as spam", "failed"),
        ("refuse_data", "451 4.3.0 Try again later", "pending"),
    ],
)
def test_refusals_5xx_fail_with_the_reason_4xx_retry(
    alerting: tuple[Settings, Store], mail: SmtpServer, where: str, answer: str, status: str
) -> None:
    settings, store = alerting
    setattr(mail.mailbox, where, answer)
    save(store, "Strikes on Kyiv", story_text(30))
    report = deliver_pending(store, settings)
    [alert] = alerts(store)
    assert alert.status == status
    assert alert.last_error is not None and answer.split(" ", 1)[1] in alert.last_error
    assert answer[:3] in alert.last_error
    assert (report.failed if status == "failed" else report.retrying) == [(alert.id, alert.last_error)]
    assert not mail.messages


def test_max_attempts_then_failed_and_retry(
    config_file: Path, mail: SmtpServer, store: Store
) -> None:
    settings = configure(config_file, mail.port, subscription(), alerts="max_attempts = 2")
    store.article_hooks.append(make_alert_hook(settings))
    mail.stop()
    save(store, "Strikes on Kyiv", story_text(40))
    deliver_pending(store, settings)
    time.sleep(BACKOFF)
    assert len(deliver_pending(store, settings).failed) == 1
    [alert] = alerts(store)
    assert alert.status == "failed" and alert.attempts == 2 and "cannot reach" in (alert.last_error or "")


# --- security -----------------------------------------------------------------------------------------


def test_hostile_title_cannot_inject_headers_and_is_escaped(
    alerting: tuple[Settings, Store], mail: SmtpServer
) -> None:
    settings, store = alerting
    title = "Kyiv <script>alert('x')</script> & more\r\nBcc: victim@evil.example\nX-Evil: 1\r\n\r\nbody " + "A" * 3000
    save(store, title, story_text(50))
    assert len(deliver_pending(store, settings).sent) == 1
    [msg] = mail.messages
    assert msg["Bcc"] is None and msg["X-Evil"] is None
    assert mail.mailbox.envelopes[0][1] == ["analyst@example.org", "desk@example.org"]
    title = subject(msg)
    assert "\n" not in title and "\r" not in title and len(title) <= MAX_SUBJECT
    assert title.startswith(f"[{WAR}, {UK}] Kyiv <script>") and title.endswith("…")
    text, html = parts(msg)
    assert "<script>" not in html and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more" in html
    assert "<script>alert('x')</script> & more" in text


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # implicit TLS: it is TLS
def test_starttls_with_auth_and_implicit_tls_with_password_file(
    config_file: Path, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = make_certificate(tmp_path)
    starttls = SmtpServer(tls=(cert, key))
    implicit = SmtpServer(tls=(cert, key), implicit=True)
    try:
        monkeypatch.setenv("MONITOR_SMTP_PASSWORD", "wrong")
        settings = configure(config_file, starttls.port, subscription(),
                             security="starttls", smtp=f'username = "{USER}"\nca_file = "{cert}"')
        store.article_hooks.append(make_alert_hook(settings))
        save(store, "Strikes on Kyiv", story_text(60))
        [(_id, error)] = deliver_pending(store, settings).retrying
        assert error.startswith("authentication failed: 535")
        assert "wrong" not in error

        monkeypatch.setenv("MONITOR_SMTP_PASSWORD", PASSWORD)
        time.sleep(BACKOFF)
        assert len(deliver_pending(store, load_settings(config_file)).sent) == 1
        assert len(starttls.messages) == 1

        monkeypatch.delenv("MONITOR_SMTP_PASSWORD")
        (tmp_path / "smtp-password").write_text(PASSWORD + "\n")
        settings = configure(config_file, implicit.port, security="tls", smtp=(
            f'username = "{USER}"\npassword_file = "smtp-password"\nca_file = "{cert}"'
        ))
        save(store, "More strikes on Kyiv", story_text(61))
        assert len(deliver_pending(store, settings).sent) == 1
        assert len(implicit.messages) == 1
    finally:
        starttls.stop()
        implicit.stop()


def test_untrusted_certificate_is_refused(config_file: Path, store: Store, tmp_path: Path) -> None:
    server = SmtpServer(tls=make_certificate(tmp_path))
    try:
        settings = configure(config_file, server.port, subscription(), security="starttls")
        store.article_hooks.append(make_alert_hook(settings))
        save(store, "Strikes on Kyiv", story_text(70))
        [(_id, error)] = deliver_pending(store, settings).retrying
        assert error.startswith("TLS with 127.0.0.1") and "certificate verify failed" in error
        assert not server.messages
    finally:
        server.stop()


# --- digests ------------------------------------------------------------------------------------------


def test_digest_groups_by_tag_newest_first_and_is_not_sent_empty(
    config_file: Path, mail: SmtpServer, store: Store
) -> None:
    digest = subscription("morning", "digest", schedule='"0 7 * * *"', timezone='"Europe/London"', match='"any"')
    settings = configure(config_file, mail.port, digest)
    store.article_hooks.append(make_alert_hook(settings))
    key = DIGEST_STATE.format("morning")
    assert build_due_digests(store, settings) == [] and store.get_state(key)  # first sight: the baseline
    store.set_state(key, "2022-03-01T06:00:00+00:00")

    day = datetime(2022, 3, 1, tzinfo=UTC)
    save(store, "Older war story", plain_text(80), (WAR,), published=day.replace(hour=5))
    save(store, "Newer war story", plain_text(81), (WAR,), published=day.replace(hour=6))
    save(store, "Wallace statement", story_text(82), (UK, WAR), published=day.replace(hour=4))
    assert alerts(store) == []  # digest subscriptions wait for their schedule

    before = datetime(2022, 3, 1, 6, 59, tzinfo=UTC)  # 06:59 GMT: not yet 07:00 in London
    assert build_due_digests(store, settings, before) == []
    seven = datetime(2022, 3, 1, 7, 0, 1, tzinfo=UTC)
    [alert_id] = build_due_digests(store, settings, seven)
    assert build_due_digests(store, settings, seven + timedelta(hours=1)) == []  # next one: tomorrow 07:00
    assert len(deliver_pending(store, settings).sent) == 1

    [msg] = mail.messages
    assert subject(msg) == f"[{UK}, {WAR}] morning digest: 3 stories"
    assert msg["Message-ID"] == alerts(store)[0].message_id and alerts(store)[0].id == alert_id
    text, html = parts(msg)
    order = [text.index(s) for s in (f"=== {UK} ===", "Wallace statement", f"=== {WAR} ===", "Newer war story",
                                      "Older war story")]
    assert order == sorted(order)
    assert html.index("Newer war story") < html.index("Older war story")

    # a day with nothing new: no mail
    assert build_due_digests(store, settings, seven + timedelta(days=1)) == []
    assert len(alerts(store)) == 1


def test_a_digest_is_built_once_whatever_the_number_of_instances(
    config_file: Path, mail: SmtpServer, store: Store
) -> None:
    if store.engine.dialect.name == "sqlite":
        pytest.skip("one instance per SQLite file (a second one is refused)")
    digest = subscription("morning", "digest", schedule='"0 7 * * *"', timezone='"Europe/London"', match='"any"')
    settings = configure(config_file, mail.port, digest)
    store.article_hooks.append(make_alert_hook(settings))
    store.set_state(DIGEST_STATE.format("morning"), "2022-03-01T06:00:00+00:00")
    for n in range(3):
        save(store, f"War story {n}", plain_text(90 + n), (WAR,))
    seven = datetime(2022, 3, 1, 7, 0, 1, tzinfo=UTC)
    with ThreadPoolExecutor(6) as instances:
        built = list(instances.map(lambda _: build_due_digests(store, settings, seven), range(6)))
    assert sorted(len(b) for b in built) == [0, 0, 0, 0, 0, 1]
    [alert] = alerts(store)
    assert alert.kind == "digest" and len(alert.article_ids) == 3


# --- configuration, templates and the command line ----------------------------------------------------


def test_shipped_subscription_examples_are_valid(tmp_path: Path) -> None:
    shipped = (Path(__file__).parent.parent / "config" / "monitor.toml").read_text()
    head, marker, example = shipped.partition("\n#\n# [[subscriptions]]")  # the commented-out examples end it
    example = (marker + example).splitlines()
    uncommented = head + "\n" + "\n".join(line.removeprefix("#").strip() for line in example)
    path = tmp_path / "monitor.toml"
    path.write_text(uncommented)
    settings = load_settings(path, {"MONITOR_SMTP_HOST": "mail.example", "MONITOR_ALERTS_SEND_INTERVAL": "2"})
    assert [(s.name, s.tags, s.mode) for s in settings.subscriptions] == [
        ("ukraine-defence", [WAR, UK], "immediate"), ("morning-digest", [WAR, UK], "digest"),
    ]
    assert settings.smtp.host == "mail.example" and settings.alerts.send_interval == 2
    assert [(t.name, t.kind) for t in settings.targets] == [("siem", "webhook"), ("desk-chat", "apprise")]
    assert settings.subscriptions[0].targets == ["siem", "desk-chat"]
    bad = uncommented.replace('schedule = "0 7 * * *"', 'schedule = "at seven"')
    path.write_text(bad)
    with pytest.raises(ConfigError, match="invalid schedule"):
        load_settings(path, {})


def test_templates_can_be_overridden(config_file: Path, mail: SmtpServer, store: Store, tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "immediate.txt.j2").write_text("Custom: {{ article.title }} <{{ article.url }}>\n")
    settings = configure(config_file, mail.port, subscription(), alerts='templates = "templates"')
    store.article_hooks.append(make_alert_hook(settings))
    article = save(store, "Strikes on Kyiv", story_text(90))
    deliver_pending(store, settings)
    text, html = parts(mail.messages[0])
    assert text == f"Custom: Strikes on Kyiv <{article.url}>\n"
    assert "Strikes on Kyiv" in html  # the packaged HTML template


def monitor(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "monitor", *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "MONITOR_IMPORT_SEEDS": "false"})


def test_cli_alerts_test_list_retry_send(config_file: Path, mail: SmtpServer) -> None:
    settings = configure(config_file, mail.port, subscription())
    ok = monitor("alerts", "test", "--to", "ops@example.org")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == (
        f"sent to ops@example.org via 127.0.0.1:{mail.port} (none): server answered 250 2.0.0 Ok: queued as Q1"
    )
    assert subject(mail.messages[0]) == "monitor: test mail"

    mail.mailbox.refuse_rcpt = "550 5.1.1 No such user"
    refused = monitor("alerts", "test", "--to", "nobody@example.org")
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        f"monitor: error: test mail to nobody@example.org via 127.0.0.1:{mail.port} not sent: "
        "recipients refused: nobody@example.org: 550 5.1.1 No such user"
    ]

    engine = create_db_engine(settings.database_url)
    migrate(engine)
    store = Store(engine)
    store.article_hooks.append(make_alert_hook(settings))
    save(store, "Strikes on Kyiv", story_text(95))
    sent = monitor("alerts", "send")
    assert sent.returncode == 1 and "failed: alert 1: recipients refused" in sent.stdout
    assert "0 sent, 0 to retry, 1 failed" in sent.stdout
    listed = monitor("alerts", "list", "--failed")
    assert listed.stdout.startswith("1\tfailed\timmediate\twar\temail\t1 article: Strikes on Kyiv\tattempts 1")
    assert monitor("alerts", "list", "--pending").stdout == ""

    mail.mailbox.refuse_rcpt = None
    assert monitor("alerts", "retry", "1").returncode == 0
    assert monitor("alerts", "list", "--pending").stdout.startswith("1\tpending")
    sent = monitor("alerts", "send")
    assert sent.returncode == 0 and "sent: alert 1: 250 2.0.0 Ok: queued as Q2" in sent.stdout
    again = monitor("alerts", "retry", "1")
    assert again.returncode == 2 and "alert 1 is sent" in again.stderr
    assert monitor("alerts", "retry", "99").stderr.strip() == "monitor: error: no alert with id 99"

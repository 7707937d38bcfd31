"""Alert targets beside email against real receivers on loopback: a signed webhook (JSON, Idempotency-Key,
crash in the send window, receiver down then up, refusals), Apprise's json:// (the chat text, digests), the SSRF
guard, secrets kept out of errors and listings, the target settings and `monitor alerts test --target`."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from monitor.alerts.outbox import make_alert_hook
from monitor.alerts.sender import DIGEST_STATE, build_due_digests, deliver_pending, run_alerts
from monitor.alerts.targets import Redactor
from monitor.core.config import Settings, load_settings
from monitor.core.errors import ConfigError
from monitor.core.metrics import REGISTRY
from monitor.store import Store
from monitor.store.engine import create_db_engine, migrate
from monitor.store.models import Alert, Statement
from tests.smtp import SmtpServer
from tests.test_alerts import QUOTE, UK, WAR, alerts, configure, monitor, save, story_text, subscription
from tests.test_alerts import wait_until_due as wait_until_all_due
from tests.webhook import SECRET, WebhookServer

BASE = "https://monitor.example.org"


@pytest.fixture
def hook() -> Iterator[WebhookServer]:
    server = WebhookServer()
    yield server
    server.stop()


def targets(hook: WebhookServer, apprise_url: str = "") -> str:
    """A webhook target "siem" (URL from a file, key from the environment) and an Apprise target "desk"."""
    text = '\n[[targets]]\nname = "siem"\nkind = "webhook"\nurl_file = "siem.url"\nsecret_env = "SIEM_SECRET"\n'
    if apprise_url:
        text += '\n[[targets]]\nname = "desk"\nkind = "apprise"\nurl_env = "DESK_URL"\n'
    return text


@pytest.fixture
def secrets(config_file: Path, hook: WebhookServer, monkeypatch: pytest.MonkeyPatch) -> None:
    (config_file.parent / "siem.url").write_text(hook.url("/hook/tok3n-in-path") + "\n")
    monkeypatch.setenv("SIEM_SECRET", SECRET)
    monkeypatch.setenv("DESK_URL", f"json://chat-user:pa55word-desk@127.0.0.1:{hook.port}/chat")


def setup(
    config_file: Path, mail: SmtpServer, hook: WebhookServer, store: Store, names: str = '["siem"]',
    recipients: str = "[]", mode: str = "immediate", **kw: object,
) -> Settings:
    extra = targets(hook, apprise_url="desk" in names) + subscription(mode=mode, recipients=recipients, targets=names)
    settings = configure(config_file, mail.port, extra, **kw)  # type: ignore[arg-type]
    store.article_hooks.append(make_alert_hook(settings))
    return settings


def direct_quotes(store: Store) -> None:
    """The statements stored as direct quotes (the test articles' rows have no kind)."""
    with store.session() as s:
        s.exec(sa.update(Statement).values(kind="direct"))  # type: ignore[call-overload]
        s.commit()


def with_base_url(config_file: Path) -> Settings:
    web = f'[web]\nbase_url = "{BASE}/"\n\n[extraction]'
    config_file.write_text(config_file.read_text().replace("[extraction]", web))
    return load_settings(config_file)


# --- webhooks -----------------------------------------------------------------------------------------


@pytest.mark.usefixtures("secrets")
def test_a_subscription_mails_and_posts_signed_json_with_statements_and_links(
    config_file: Path, mail: SmtpServer, hook: WebhookServer, store: Store
) -> None:
    setup(config_file, mail, hook, store, recipients='["analyst@example.org"]')
    settings = with_base_url(config_file)
    article = save(store, "Russian strikes hit Kyiv overnight", story_text(1))
    direct_quotes(store)
    rows = alerts(store)
    assert [(a.target, a.target_kind) for a in rows] == [("email", "email"), ("siem", "webhook")]
    assert rows[0].message_id != rows[1].message_id and rows[1].recipients == []

    report = deliver_pending(store, settings)

    assert len(report.sent) == 2 and len(mail.messages) == 1
    assert f"In monitor: {BASE}/articles/{article.id}" in mail.messages[0].get_body(("plain",)).get_content()
    [got] = hook.received
    assert got.path == "/hook/tok3n-in-path" and got.signed() and not got.signed("another key")
    assert got.headers["idempotency-key"] == rows[1].message_id.strip("<>")
    assert got.headers["content-type"] == "application/json"
    payload = got.json
    assert (payload["event"], payload["kind"], payload["subscription"], payload["target"]) == (
        "alert", "immediate", "war", "siem")
    assert payload["id"] == got.headers["idempotency-key"]
    [item] = payload["articles"]
    assert (item["id"], item["title"], item["url"]) == (article.id, "Russian strikes hit Kyiv overnight", article.url)
    assert item["page"] == f"{BASE}/articles/{article.id}" and item["story_page"] == f"{BASE}/stories/{article.id}"
    assert item["published"] == "2022-03-01T08:30:00Z" and [t["tag"] for t in item["tags"]] == [WAR, UK]
    [st] = item["statements"]
    assert (st["speaker"], st["role"], st["text"], st["date"]) == (
        "Ben Wallace", "Defence Secretary", QUOTE, "2022-03-01T08:30:00Z")
    assert st["kind"] == "direct"
    assert REGISTRY.get_sample_value("monitor_alerts_total", {"target": "siem", "result": "sent"})
    assert not deliver_pending(store, settings, force=True)


@pytest.mark.usefixtures("secrets")
def test_crash_between_post_and_mark_resends_once_with_the_same_key(
    config_file: Path, mail: SmtpServer, hook: WebhookServer, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = setup(config_file, mail, hook, store)
    save(store, "Strikes on Kyiv", story_text(20))

    def crash(*_args: object, **_kw: object) -> None:
        raise KeyboardInterrupt  # the process dies after the receiver accepted the POST

    with monkeypatch.context() as m:
        m.setattr(store, "finish_alert", crash)
        with pytest.raises(KeyboardInterrupt):
            deliver_pending(store, settings)
    [alert] = alerts(store)
    assert alert.status == "sending" and len(hook.received) == 1
    assert not deliver_pending(store, settings, force=True)  # a fresh claim: nobody takes it over
    with store.session() as s:  # ... until it is stale
        s.exec(sa.update(Alert).values(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1)))  # type: ignore[call-overload]
        s.commit()
    assert len(deliver_pending(store, settings).sent) == 1
    keys = [r.headers["idempotency-key"] for r in hook.received]
    assert keys == [alert.message_id.strip("<>")] * 2  # one resend, which the receiver drops by its key
    assert len(hook.delivered) == 1 and all(r.signed() for r in hook.received)
    assert alerts(store)[0].status == "sent"


@pytest.mark.usefixtures("secrets")
def test_receiver_down_then_failing_then_up_loses_nothing(
    config_file: Path, mail: SmtpServer, hook: WebhookServer, store: Store
) -> None:
    # a back-off long enough that "nothing is due yet" holds on a loaded machine; waits end at the stored times
    settings = setup(config_file, mail, hook, store, backoff=2.0, backoff_max=2.0)
    hook.stop()
    for n in range(3):
        save(store, f"Story {n}", story_text(30 + n))
    report = deliver_pending(store, settings)
    assert not report.sent and len(report.retrying) == 3
    assert all(error.startswith(f"cannot reach http://127.0.0.1:{hook.port}") for _id, error in report.retrying)
    assert not deliver_pending(store, settings)  # backing off

    hook.start()
    hook.status, hook.answer = 503, "maintenance"
    wait_until_all_due(store)
    report = deliver_pending(store, settings)
    assert [e for _id, e in report.retrying] == [f"http://127.0.0.1:{hook.port} answered 503 Service Unavailable "
                                                 "maintenance"] * 3
    hook.status = 200
    wait_until_all_due(store)
    assert len(run_alerts(store, settings).sent) == 3
    assert Counter(r.headers["idempotency-key"] for r in hook.received if r in hook.delivered.values()) == Counter(
        {a.message_id.strip("<>"): 1 for a in alerts(store)})
    assert all(a.status == "sent" and a.attempts == 3 for a in alerts(store))
    assert not deliver_pending(store, settings, force=True)


@pytest.mark.usefixtures("secrets")
@pytest.mark.parametrize(("status", "outcome"), [(400, "failed"), (410, "failed"), (429, "pending"), (408, "pending")])
def test_a_4xx_refusal_fails_at_once_with_the_answer_but_408_and_429_retry(
    config_file: Path, mail: SmtpServer, hook: WebhookServer, store: Store, status: int, outcome: str
) -> None:
    settings = setup(config_file, mail, hook, store)
    hook.status, hook.answer = status, "payload refused: unknown field"
    save(store, "Strikes on Kyiv", story_text(40))
    deliver_pending(store, settings)
    [alert] = alerts(store)
    assert alert.status == outcome and alert.last_error is not None
    assert f"answered {status} " in alert.last_error and "payload refused: unknown field" in alert.last_error
    assert "tok3n" not in alert.last_error


@pytest.mark.usefixtures("secrets")
def test_the_ssrf_guard_refuses_a_loopback_target_unless_allowed(
    config_file: Path, mail: SmtpServer, hook: WebhookServer, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MONITOR_HTTP_ALLOWED_NETWORKS", "")
    settings = setup(config_file, mail, hook, store, names='["siem", "desk"]')
    save(store, "Strikes on Kyiv", story_text(50))
    report = deliver_pending(store, settings)
    assert len(report.failed) == 2 and not hook.received
    for alert in alerts(store):
        assert alert.status == "failed" and "blocked: 127.0.0.1 is a loopback address" in (alert.last_error or "")
        assert "http.allowed_networks" in (alert.last_error or "")


def test_a_missing_secret_retries_and_names_the_variable_not_the_value(
    config_file: Path, mail: SmtpServer, hook: WebhookServer, store: Store
) -> None:
    (config_file.parent / "siem.url").write_text(hook.url())
    settings = setup(config_file, mail, hook, store)
    save(store, "Strikes on Kyiv", story_text(55))
    [(_id, error)] = deliver_pending(store, settings).retrying
    assert error == "target siem: secret: environment variable SIEM_SECRET is not set"


# --- Apprise ------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("secrets")
def test_apprise_json_gets_a_short_text_with_quoted_statements_and_the_link(
    config_file: Path, mail: SmtpServer, hook: WebhookServer, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    setup(config_file, mail, hook, store, names='["desk"]')
    settings = with_base_url(config_file)
    article = save(store, "Russian strikes hit Kyiv overnight", story_text(60))
    direct_quotes(store)
    caplog.set_level(logging.DEBUG)
    assert len(deliver_pending(store, settings).sent) == 1
    [got] = hook.received
    assert got.path == "/chat" and got.headers["idempotency-key"] == alerts(store)[0].message_id.strip("<>")
    message = got.json
    assert message["title"] == f"[{WAR}, {UK}] Russian strikes hit Kyiv overnight"
    lines = message["message"].splitlines()
    assert lines[0] == "Russian strikes hit Kyiv overnight"
    assert lines[1].startswith("news.example · 2022-03-01 08:30 UTC · ukraine-war")
    assert f"> Ben Wallace (Defence Secretary) [direct]: \u201c{QUOTE}\u201d" in lines
    assert lines[-1] == f"{BASE}/articles/{article.id}"
    assert "pa55word-desk" not in caplog.text


@pytest.mark.usefixtures("secrets")
def test_apprise_refusal_is_permanent_on_4xx_and_never_shows_the_url_secret(
    config_file: Path, mail: SmtpServer, hook: WebhookServer, store: Store
) -> None:
    settings = setup(config_file, mail, hook, store, names='["desk"]')
    hook.status = 400
    save(store, "Strikes on Kyiv", story_text(61))
    [(_id, error)] = deliver_pending(store, settings).failed
    assert error.startswith("json://… not delivered:") and "error=400" in error
    assert "pa55word" not in error and "chat-user" not in error
    hook.stop()
    [alert] = alerts(store)
    store.retry_alert(alert.id or 0)
    [(_id, error)] = deliver_pending(store, settings).retrying  # unreachable: try again later
    assert "pa55word" not in error


@pytest.mark.usefixtures("secrets")
def test_a_digest_is_one_chat_message_and_one_webhook_post(
    config_file: Path, mail: SmtpServer, hook: WebhookServer, store: Store
) -> None:
    settings = setup(config_file, mail, hook, store, names='["siem", "desk"]', recipients='["a@example.org"]',
                     mode="digest")
    store.set_state(DIGEST_STATE.format("war"), "2022-03-01T06:00:00+00:00")
    for n in range(3):
        save(store, f"War story {n}", story_text(70 + n))
    built = build_due_digests(store, settings, datetime(2022, 3, 1, 7, 0, 1, tzinfo=UTC))
    assert len(built) == 3 and {a.target for a in alerts(store)} == {"email", "siem", "desk"}
    assert len(deliver_pending(store, settings).sent) == 3
    assert len(mail.messages) == 1
    chat = next(r for r in hook.received if r.path == "/chat").json
    post = next(r for r in hook.received if r.path != "/chat").json
    assert chat["title"] == f"[{WAR}] war digest: 3 stories" and chat["message"].count("War story") == 3
    assert post["kind"] == "digest" and len(post["articles"]) == 3


# --- settings and the command line --------------------------------------------------------------------


@pytest.mark.parametrize(("target", "error"), [
    ('name = "x"\nkind = "slack"\nurl = "https://x.example"', "'targets.0.kind'"),
    ('name = "x"\nkind = "webhook"\nsecret_env = "S"', "needs one of url, url_env or url_file"),
    ('name = "x"\nkind = "webhook"\nurl_env = "U"', "a webhook is signed: set secret_env or secret_file"),
    ('name = "x"\nkind = "apprise"\nurl_env = "MONITOR_X"', "MONITOR_* variables are settings"),
    ('name = "email"\nkind = "apprise"\nurl_env = "U"', "the name 'email' is kept"),
])
def test_target_settings_are_checked_in_one_line(config_file: Path, target: str, error: str) -> None:
    config_file.write_text(config_file.read_text() + f"\n[[targets]]\n{target}\n")
    with pytest.raises(ConfigError, match="invalid config") as exc:
        load_settings(config_file)
    assert error in str(exc.value) and "\n" not in str(exc.value)


def test_a_subscription_naming_an_unknown_target_is_refused(config_file: Path) -> None:
    config_file.write_text(config_file.read_text() + subscription(targets='["nowhere"]'))
    with pytest.raises(ConfigError, match=r"subscription 'war': unknown target\(s\) nowhere"):
        load_settings(config_file)


@pytest.mark.usefixtures("secrets")
def test_cli_alerts_test_target_and_list(config_file: Path, mail: SmtpServer, hook: WebhookServer) -> None:
    engine = create_db_engine(load_settings(config_file).database_url)  # the database the commands use
    migrate(engine)
    store = Store(engine)
    setup(config_file, mail, hook, store, names='["siem", "desk"]')
    sent = monitor("alerts", "test", "--target", "siem")
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout.strip() == f"sent to target siem (webhook) via http://127.0.0.1:{hook.port}: 200 OK ok"
    [got] = hook.received
    assert got.signed() and got.json["event"] == "test" and got.json["articles"] == []
    chat = monitor("alerts", "test", "--target", "desk")
    assert chat.returncode == 0 and chat.stdout.strip() == "sent to target desk (apprise) via json://…: delivered"
    assert hook.received[1].json["message"].startswith("This is a test message from monitor")
    hook.status = 400
    refused = monitor("alerts", "test", "--target", "desk")
    assert refused.returncode == 2 and "pa55word" not in refused.stderr and "/chat" not in refused.stderr
    assert refused.stderr.splitlines()[-1] == (
        "monitor: error: test message to target desk (apprise) not sent: json://… not delivered: "
        "Failed to send JSON POST notification: Bad Request - Unsupported Parameters., error=400."
    )
    assert "no target named 'nope'" in monitor("alerts", "test", "--target", "nope").stderr
    assert monitor("alerts", "test").returncode == 2

    save(store, "Strikes on Kyiv", story_text(80))
    listed = monitor("alerts", "list").stdout.splitlines()
    assert [line.split("\t")[4] for line in listed] == ["desk (apprise)", "siem (webhook)"]
    assert "tok3n" not in "".join(listed) and "pa55word" not in "".join(listed)



def test_the_secret_parts_of_target_urls_are_redacted() -> None:
    chat = Redactor("tgram://123456789:AAbbCCddEEff/-100200300", host_is_secret=True)
    assert chat("to 123456789:AAbbCCddEEff, chat -100200300") == "to ***, chat ***"
    hook = Redactor("https://user:pw-123@hooks.example/services/T0KEN12345?sig=abc", host_is_secret=False)
    said = hook("POST https://user:pw-123@hooks.example/services/T0KEN12345?sig=abc: pw-123 T0KEN12345 sig=abc")
    assert said == "POST ***: *** *** ***" and "hooks.example" in hook("hooks.example")

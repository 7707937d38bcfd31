"""Delivery: due digests are built into the outbox, pending alerts are claimed, sent to their target and marked;
failures back off exponentially, refusals for good (SMTP 5xx, HTTP 4xx but 408/429) fail at once, and a claim
left by a crash is taken over once it is stale."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import jinja2
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from monitor.alerts.mailer import SendError
from monitor.alerts.outbox import check_subscriptions, new_alerts
from monitor.alerts.render import ArticleView, load_articles
from monitor.alerts.targets import Dispatchers
from monitor.core import metrics
from monitor.core.alert_settings import Subscription
from monitor.core.config import Settings
from monitor.core.logs import Outage
from monitor.store import Store, storage_fault
from monitor.store.models import Alert, utcnow

log = logging.getLogger(__name__)
DIGEST_STATE = "alerts.digest.{}"  # when the subscription's last digest was built (or it was first seen)
MIN_CLAIM_SECONDS = 60.0


@dataclass
class DeliveryReport:
    sent: list[tuple[int, str]] = field(default_factory=list)  # alert id, server answer
    retrying: list[tuple[int, str]] = field(default_factory=list)  # alert id, error
    failed: list[tuple[int, str]] = field(default_factory=list)
    digests: list[int] = field(default_factory=list)  # digest alerts built
    trimmed: int = 0  # sent alerts deleted, older than alerts.keep_sent_days

    def __bool__(self) -> bool:
        return bool(self.sent or self.retrying or self.failed or self.digests)


def backoff(attempts: int, settings: Settings) -> timedelta:
    """Wait before the next attempt after ``attempts`` failed ones: base × 2^(attempts-1), capped."""
    a = settings.alerts
    return timedelta(seconds=min(a.backoff_base * 2 ** max(attempts - 1, 0), a.backoff_max))


def claim_time(settings: Settings) -> timedelta:
    """How long a claimed ("sending") alert is reserved; after that it counts as left by a crash."""
    return timedelta(seconds=max(MIN_CLAIM_SECONDS, 4 * settings.smtp.timeout, 4 * settings.http.total_timeout))


# --- digests ------------------------------------------------------------------------------------------


def build_due_digests(store: Store, settings: Settings, now: datetime | None = None) -> list[int]:
    """Put a digest into the outbox for every digest subscription whose schedule fired since its last digest
    (also one missed while the daemon was down); no alert when nothing matched. Returns the new alert ids."""
    now = now or utcnow()
    built = []
    for sub in check_subscriptions(settings):
        if sub.mode != "digest":
            continue
        key = DIGEST_STATE.format(sub.name)
        last = store.get_state(key)
        if last is None:  # first sight: the first digest covers what matches from now on
            store.set_state(key, now.isoformat())
            continue
        fire = sub.trigger().get_next_fire_time(None, datetime.fromisoformat(last) + timedelta(seconds=1))
        if fire is not None and fire <= now:
            built += _build_digest(store, settings, sub, key, last, now)
    return built


def _build_digest(
    store: Store, settings: Settings, sub: Subscription, key: str, last: str, now: datetime
) -> list[int]:
    """Build one digest (a row per target) unless another instance has built it since ``last`` was read."""
    return store.build_digest(sub.name, key, last, now, lambda ids: new_alerts(settings, sub, "digest", ids))


# --- delivery -----------------------------------------------------------------------------------------


def deliver_pending(store: Store, settings: Settings, force: bool = False) -> DeliveryReport:
    """Send every due alert to its target (``force``: every pending one, ignoring back-off); each is claimed
    before it is sent and marked after, so a crash in between causes at most one resend, with the same
    Message-ID (webhooks: Idempotency-Key)."""
    report = DeliveryReport()
    with Dispatchers(settings) as dispatchers:
        for alert_id in store.due_alert_ids(force):
            alert = store.claim_alert(alert_id, force, claim_time(settings))
            if alert is None:
                continue
            try:
                loaded = store.alert_articles(alert.article_ids)
                articles = load_articles(loaded, alert.article_ids, settings.web.base_url)
                if not articles:
                    raise SendError("its articles are no longer stored", permanent=True)
                answer = send(dispatchers, alert, articles)
            except SendError as exc:
                _failed(store, settings, alert, exc, report)
                continue
            store.finish_alert(alert_id, status="sent", sent_at=utcnow(), last_error=None)
            report.sent.append((alert_id, answer))
            metrics.ALERTS.labels(alert.target, "sent").inc()
            log.info("alert sent", extra={"alert": alert_id, "subscription": alert.subscription,
                                          "target": alert.target, "answer": answer})
    return report


def send(dispatchers: Dispatchers, alert: Alert, articles: Sequence[ArticleView]) -> str:
    """Render and send one alert through its target's dispatcher: the receiver's answer, or SendError."""
    dispatcher = dispatchers[alert.target]
    try:
        return dispatcher.send(alert, articles)
    except (jinja2.TemplateError, OSError) as exc:
        raise SendError(f"cannot render the message: {exc}") from exc


def _failed(store: Store, settings: Settings, alert: Alert, exc: SendError, report: DeliveryReport) -> None:
    assert alert.id is not None
    reason = str(exc)
    if exc.permanent or alert.attempts >= settings.alerts.max_attempts:
        store.finish_alert(alert.id, status="failed", last_error=reason)
        report.failed.append((alert.id, reason))
        metrics.ALERTS.labels(alert.target, "failed").inc()
        log.error("alert failed", extra={"alert": alert.id, "target": alert.target, "attempts": alert.attempts,
                                         "error": reason})
    else:
        store.finish_alert(alert.id, status="pending", last_error=reason,
                next_attempt_at=utcnow() + backoff(alert.attempts, settings))
        report.retrying.append((alert.id, reason))
        metrics.ALERTS.labels(alert.target, "retry").inc()
        log.warning("alert not sent, will retry", extra={"alert": alert.id, "target": alert.target,
                                                        "attempts": alert.attempts, "error": reason})


def run_alerts(store: Store, settings: Settings, force: bool = False) -> DeliveryReport:
    """Build due digests, deliver what is pending, delete the sent alerts older than ``alerts.keep_sent_days``."""
    digests = build_due_digests(store, settings)
    report = deliver_pending(store, settings, force)
    report.digests = digests
    if settings.alerts.keep_sent_days:
        report.trimmed = store.trim_sent_alerts(utcnow() - timedelta(days=settings.alerts.keep_sent_days))
    pending = store.alert_count(("pending", "sending"))
    metrics.ALERTS_PENDING.set(pending)
    return report


def schedule_alert_jobs(scheduler: AsyncIOScheduler, store: Store, settings: Settings, storage: Outage) -> None:
    """The sender job (every ``alerts.send_interval`` s, first at once) and a job at each digest's schedule. A
    storage fault (an unreachable database, a full disk) is a part of the daemon's ``storage`` outage: one line
    for all, not a traceback per run."""
    lock = asyncio.Lock()

    async def job() -> None:
        async with lock:
            try:
                await asyncio.to_thread(run_alerts, store, settings)
            except asyncio.CancelledError:  # the daemon is stopping; a send in progress ends in its thread
                return
            except Exception as exc:
                if (reason := storage_fault(exc)) is None:
                    log.exception("alert delivery failed")
                else:
                    storage.failed(reason, "alerts")
            else:
                storage.worked("alerts")

    scheduler.add_job(job, "interval", seconds=settings.alerts.send_interval, next_run_time=utcnow(),
                      coalesce=True, max_instances=1, id="alerts-send")
    for sub in check_subscriptions(settings):
        if sub.mode == "digest":
            scheduler.add_job(job, sub.trigger(), coalesce=True, max_instances=1, id=f"alerts-digest-{sub.name}")

"""Delivery: due digests are built into the outbox, pending alerts are claimed, sent and marked; failures back
off exponentially, 5xx refusals fail for good, and a claim left by a crash is taken over once it is stale."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import jinja2
import sqlalchemy as sa
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from monitor.alerts.mailer import Mailer, SendError
from monitor.alerts.outbox import check_subscriptions, new_alert
from monitor.alerts.render import Renderer, load_articles
from monitor.core import metrics
from monitor.core.alert_settings import Subscription
from monitor.core.config import Settings
from monitor.store import Store
from monitor.store.models import Alert, AlertStory, Article, ServiceState, utcnow

log = logging.getLogger(__name__)
DIGEST_STATE = "alerts.digest.{}"  # when the subscription's last digest was built (or it was first seen)
MIN_CLAIM_SECONDS = 60.0


@dataclass
class DeliveryReport:
    sent: list[tuple[int, str]] = field(default_factory=list)  # alert id, server answer
    retrying: list[tuple[int, str]] = field(default_factory=list)  # alert id, error
    failed: list[tuple[int, str]] = field(default_factory=list)
    digests: list[int] = field(default_factory=list)  # digest alerts built

    def __bool__(self) -> bool:
        return bool(self.sent or self.retrying or self.failed or self.digests)


def backoff(attempts: int, settings: Settings) -> timedelta:
    """Wait before the next attempt after ``attempts`` failed ones: base × 2^(attempts-1), capped."""
    a = settings.alerts
    return timedelta(seconds=min(a.backoff_base * 2 ** max(attempts - 1, 0), a.backoff_max))


def claim_time(settings: Settings) -> timedelta:
    """How long a claimed ("sending") alert is reserved; after that it counts as left by a crash."""
    return timedelta(seconds=max(MIN_CLAIM_SECONDS, 4 * settings.smtp.timeout))


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
            alert_id = _build_digest(store, settings, sub, key, last, now)
            if alert_id is not None:
                built.append(alert_id)
    return built


def _build_digest(
    store: Store, settings: Settings, sub: Subscription, key: str, last: str, now: datetime
) -> int | None:
    """Build one digest unless another instance has built it since ``last`` was read: the state row is locked
    (PostgreSQL), so of several instances sharing the database one builds it, the others see it built."""
    with store.session() as s:
        state = s.exec(select(ServiceState).where(ServiceState.key == key).with_for_update()).first()
        if state is None or state.value != last:
            return None
        rows = s.exec(
            select(AlertStory.story_id, Article.id)
            .join(Article, col(Article.id) == col(AlertStory.article_id))
            .where(AlertStory.subscription == sub.name, col(AlertStory.alert_id).is_(None))
            .order_by(sa.func.coalesce(col(Article.published), col(Article.fetched_at)).desc(), col(Article.id))
        ).all()
        alert = new_alert(settings, sub, "digest", [r[1] for r in rows]) if rows else None
        if alert is not None:
            s.add(alert)
            s.flush()
            s.exec(  # type: ignore[call-overload]
                sa.update(AlertStory)
                .where(col(AlertStory.subscription) == sub.name, col(AlertStory.story_id).in_([r[0] for r in rows]))
                .values(alert_id=alert.id)
            )
        state.value, state.updated_at = now.isoformat(), now
        s.add(state)
        try:
            s.commit()
        except IntegrityError:  # another process built the same digest
            s.rollback()
            return None
        return alert.id if alert else None


# --- delivery -----------------------------------------------------------------------------------------


def _claim(store: Store, settings: Settings, alert_id: int, force: bool) -> Alert | None:
    """Mark one alert "sending" (counting the attempt) unless another sender holds it; None when not claimed."""
    now = utcnow()
    due = col(Alert.next_attempt_at) <= now
    claimable = sa.or_(
        sa.and_(col(Alert.status) == "pending", sa.true() if force else due),
        sa.and_(col(Alert.status) == "sending", due),  # a stale claim: its sender died
    )
    with store.session() as s:
        result = s.exec(  # type: ignore[call-overload]
            sa.update(Alert).where(col(Alert.id) == alert_id, claimable)
            .values(status="sending", attempts=col(Alert.attempts) + 1, next_attempt_at=now + claim_time(settings))
        )
        s.commit()
        return s.get(Alert, alert_id) if result.rowcount == 1 else None


def _finish(store: Store, alert_id: int, **values: object) -> None:
    with store.session() as s:
        s.exec(sa.update(Alert).where(col(Alert.id) == alert_id).values(**values))  # type: ignore[call-overload]
        s.commit()


def _due_ids(store: Store, force: bool) -> list[int]:
    now = utcnow()
    with store.session() as s:
        query = select(Alert.id).where(
            sa.or_(
                col(Alert.status) == "pending" if force else sa.and_(
                    col(Alert.status) == "pending", col(Alert.next_attempt_at) <= now
                ),
                sa.and_(col(Alert.status) == "sending", col(Alert.next_attempt_at) <= now),
            )
        )
        return [i for i in s.exec(query.order_by(col(Alert.id))) if i is not None]


def deliver_pending(store: Store, settings: Settings, force: bool = False) -> DeliveryReport:
    """Send every due alert (``force``: every pending one, ignoring back-off); each is claimed before it is
    sent and marked after, so a crash in between causes at most one resend, with the same Message-ID."""
    report = DeliveryReport()
    renderer = Renderer(settings)
    with Mailer(settings) as mailer:
        for alert_id in _due_ids(store, force):
            alert = _claim(store, settings, alert_id, force)
            if alert is None:
                continue
            try:
                with Session(store.engine) as s:
                    articles = load_articles(s, alert.article_ids)
                if not articles:
                    raise SendError("its articles are no longer stored", permanent=True)
                try:
                    msg = renderer.alert(alert, articles)
                except (jinja2.TemplateError, OSError) as exc:
                    raise SendError(f"cannot render the message: {exc}") from exc
                answer = mailer.send(msg)
            except SendError as exc:
                _failed(store, settings, alert, exc, report)
                continue
            _finish(store, alert_id, status="sent", sent_at=utcnow(), last_error=None)
            report.sent.append((alert_id, answer))
            metrics.ALERTS.labels("sent").inc()
            log.info("alert sent", extra={"alert": alert_id, "subscription": alert.subscription, "answer": answer})
    return report


def _failed(store: Store, settings: Settings, alert: Alert, exc: SendError, report: DeliveryReport) -> None:
    assert alert.id is not None
    reason = str(exc)
    if exc.permanent or alert.attempts >= settings.alerts.max_attempts:
        _finish(store, alert.id, status="failed", last_error=reason)
        report.failed.append((alert.id, reason))
        metrics.ALERTS.labels("failed").inc()
        log.error("alert failed", extra={"alert": alert.id, "attempts": alert.attempts, "error": reason})
    else:
        _finish(store, alert.id, status="pending", last_error=reason,
                next_attempt_at=utcnow() + backoff(alert.attempts, settings))
        report.retrying.append((alert.id, reason))
        metrics.ALERTS.labels("retry").inc()
        log.warning("alert not sent, will retry", extra={"alert": alert.id, "attempts": alert.attempts,
                                                        "error": reason})


def run_alerts(store: Store, settings: Settings, force: bool = False) -> DeliveryReport:
    """Build due digests, then deliver what is pending."""
    digests = build_due_digests(store, settings)
    report = deliver_pending(store, settings, force)
    report.digests = digests
    with store.session() as s:
        pending = s.exec(select(sa.func.count()).select_from(Alert).where(col(Alert.status) != "sent",
                                                                          col(Alert.status) != "failed")).one()
    metrics.ALERTS_PENDING.set(pending)
    return report


def schedule_alert_jobs(scheduler: AsyncIOScheduler, store: Store, settings: Settings) -> None:
    """The sender job (every ``alerts.send_interval`` s, first at once) and a job at each digest's schedule."""
    lock = asyncio.Lock()

    async def job() -> None:
        async with lock:
            try:
                await asyncio.to_thread(run_alerts, store, settings)
            except asyncio.CancelledError:  # the daemon is stopping; a send in progress ends in its thread
                return
            except Exception:
                log.exception("alert delivery failed")

    scheduler.add_job(job, "interval", seconds=settings.alerts.send_interval, next_run_time=utcnow(),
                      coalesce=True, max_instances=1, id="alerts-send")
    for sub in check_subscriptions(settings):
        if sub.mode == "digest":
            scheduler.add_job(job, sub.trigger(), coalesce=True, max_instances=1, id=f"alerts-digest-{sub.name}")

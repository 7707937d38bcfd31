"""``monitor alerts``: list the outbox, retry an alert, send what is pending, send a test mail."""

from __future__ import annotations

import sys

import click
from sqlmodel import col, select

from monitor.alerts.mailer import Mailer, SendError
from monitor.alerts.outbox import message_id
from monitor.alerts.render import headers
from monitor.alerts.sender import run_alerts
from monitor.cli.base import Context, pass_ctx
from monitor.errors import MonitorError
from monitor.models import Alert, utcnow


@click.group()
def alerts() -> None:
    """Alert emails: the outbox and the SMTP server."""


@alerts.command("list")
@click.option("--pending", "only", flag_value="pending", help="Only alerts not sent yet (pending or sending).")
@click.option("--failed", "only", flag_value="failed", help="Only alerts that failed for good.")
@pass_ctx
def alerts_list(ctx: Context, only: str | None) -> None:
    """List alerts, newest first."""
    statuses = {"pending": ["pending", "sending"], "failed": ["failed"]}.get(only or "")
    with ctx.app.store.session() as s:
        query = select(Alert).order_by(col(Alert.id).desc())
        if statuses:
            query = query.where(col(Alert.status).in_(statuses))
        rows = list(s.exec(query))
    for a in rows:
        when = a.sent_at if a.status == "sent" else a.next_attempt_at
        label = "sent" if a.status == "sent" else "next attempt"
        line = (
            f"{a.id}\t{a.status}\t{a.kind}\t{a.subscription}\t{len(a.article_ids)} article(s)\t"
            f"attempts {a.attempts}\t{label} {when:%Y-%m-%d %H:%M:%S}\t{a.message_id}"
        )
        click.echo(line + (f"\terror: {a.last_error}" if a.last_error else ""))


@alerts.command("retry")
@click.argument("alert_id", type=int)
@pass_ctx
def alerts_retry(ctx: Context, alert_id: int) -> None:
    """Make a failed (or waiting) alert due again, with a fresh count of attempts."""
    with ctx.app.store.session() as s:
        alert = s.get(Alert, alert_id)
        if alert is None:
            raise MonitorError(f"no alert with id {alert_id}")
        if alert.status in ("sent", "sending"):
            raise MonitorError(f"alert {alert_id} is {alert.status}; only pending or failed alerts can be retried")
        alert.status, alert.attempts, alert.next_attempt_at = "pending", 0, utcnow()
        s.add(alert)
        s.commit()
    click.echo(f"alert {alert_id} is pending; `monitor alerts send` or the daemon will send it")


@alerts.command("send")
@pass_ctx
def alerts_send(ctx: Context) -> None:
    """Build due digests and send every pending alert now (ignoring back-off), then exit.

    Exits 1 when some alert could not be sent."""
    report = run_alerts(ctx.app.store, ctx.settings, force=True)
    for alert_id in report.digests:
        click.echo(f"digest built: alert {alert_id}")
    for alert_id, answer in report.sent:
        click.echo(f"sent: alert {alert_id}: {answer}")
    for alert_id, error in report.retrying:
        click.echo(f"not sent, will retry: alert {alert_id}: {error}")
    for alert_id, error in report.failed:
        click.echo(f"failed: alert {alert_id}: {error}")
    click.echo(f"{len(report.sent)} sent, {len(report.retrying)} to retry, {len(report.failed)} failed")
    if report.retrying or report.failed:
        sys.exit(1)


@alerts.command("test")
@click.option("--to", "to", required=True, help="Recipient address.")
@pass_ctx
def alerts_test(ctx: Context, to: str) -> None:
    """Send a test mail with the configured SMTP settings and print the server's answer."""
    settings = ctx.settings
    now = utcnow()
    msg = headers(settings, "monitor: test mail", [to], message_id(settings, "test", [now.isoformat()]))
    msg.set_content(f"This is a test mail from monitor, sent {now:%Y-%m-%d %H:%M:%S} UTC.\n")
    with Mailer(settings) as mailer:
        try:
            answer = mailer.send(msg)
        except SendError as exc:
            raise MonitorError(f"test mail to {to} via {mailer.where} not sent: {exc}") from None
    click.echo(f"sent to {to} via {mailer.where} ({settings.smtp.security}): server answered {answer}")

"""``monitor alerts``: list the outbox, retry an alert, send what is pending, send a test mail or a test message to
a target (the sender, its templates and the clients load only in the commands that send)."""

from __future__ import annotations

import sys

import click

from monitor.cli.base import (
    Context,
    echo_json,
    json_option,
    limit_option,
    limited,
    nothing,
    pass_ctx,
    plural,
    query_limit,
    shown,
)
from monitor.core.errors import MonitorError
from monitor.store.models import utcnow
from monitor.store.readmodels import iso


@click.group()
def alerts() -> None:
    """Alerts: the outbox, the SMTP server and the other targets (webhooks, Apprise)."""


@alerts.command("list")
@click.option("--pending", is_flag=True, help="Only alerts not sent yet (pending or sending).")
@click.option("--failed", is_flag=True, help="Only alerts that failed for good.")
@limit_option()
@json_option("JSON Lines, one alert a line")
@pass_ctx
def alerts_list(ctx: Context, pending: bool, failed: bool, limit: int, as_json: bool) -> None:
    """List alerts, newest first."""
    if pending and failed:
        raise click.UsageError("--pending and --failed exclude each other")
    statuses = ["pending", "sending"] if pending else ["failed"] if failed else None
    rows = limited(ctx.app.store.alerts(statuses, query_limit(limit)), limit)
    if not rows:
        if not ctx.settings.subscriptions:
            nothing(f"no alerts: no subscriptions are configured ([[subscriptions]] in {ctx.settings.config_file})")
        else:
            nothing("no alerts" + (" match" if statuses else " yet"))
    firsts = {aid: ctx.app.store.article(aid) for aid in {a.article_ids[0] for a in rows if a.article_ids}}
    for a in rows:
        first = firsts.get(a.article_ids[0]) if a.article_ids else None
        title = " ".join((first.title or "(untitled)").split())[:80] if first else "(no longer stored)"
        if as_json:
            echo_json({
                "id": a.id, "status": a.status, "kind": a.kind, "subscription": a.subscription,
                "target": a.target, "target_kind": a.target_kind, "article_ids": a.article_ids,
                "recipients": a.recipients, "attempts": a.attempts,
                "next_attempt_at": iso(a.next_attempt_at), "sent_at": iso(a.sent_at), "message_id": a.message_id,
                "last_error": a.last_error,
            })
            continue
        when = a.sent_at if a.status == "sent" else a.next_attempt_at
        label = "sent" if a.status == "sent" else "next attempt"
        line = (
            f"{a.id}\t{a.status}\t{a.kind}\t{a.subscription}\t{target_label(a.target, a.target_kind)}\t"
            f"{plural(len(a.article_ids), 'article')}: {title}{' …' if len(a.article_ids) > 1 else ''}\t"
            f"attempts {a.attempts}\t{label} {shown(when)}\t{a.message_id}"
        )
        click.echo(line + (f"\terror: {a.last_error}" if a.last_error else ""))


@alerts.command("retry")
@click.argument("alert_id", type=int)
@pass_ctx
def alerts_retry(ctx: Context, alert_id: int) -> None:
    """Make a failed (or waiting) alert due again, with a fresh count of attempts."""
    alert = ctx.app.store.retry_alert(alert_id)
    if alert is None:
        raise MonitorError(f"no alert with id {alert_id}")
    if alert.status != "pending":
        raise MonitorError(f"alert {alert_id} is {alert.status}; only pending or failed alerts can be retried")
    click.echo(f"alert {alert_id} is pending; `monitor alerts send` or the daemon will send it")


@alerts.command("send")
@pass_ctx
def alerts_send(ctx: Context) -> None:
    """Build due digests and send every pending alert now (ignoring back-off), then exit.

    Exits 1 when some alert could not be sent."""
    from monitor.alerts.sender import run_alerts

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
@click.option("--to", "to", help="Recipient address: a test mail with the SMTP settings.")
@click.option("--target", "target", help="A [[targets]] name: a test message to it.")
@pass_ctx
def alerts_test(ctx: Context, to: str | None, target: str | None) -> None:
    """Send a test mail (--to) or a test message to a target (--target) and print the receiver's answer."""
    if (to is None) == (target is None):
        raise click.UsageError("give one of --to ADDRESS or --target NAME")
    if target is not None:
        send_test_message(ctx, target)
        return
    from monitor.alerts.mailer import Mailer, SendError
    from monitor.alerts.outbox import message_id
    from monitor.alerts.render import headers

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


def send_test_message(ctx: Context, name: str) -> None:
    from monitor.alerts.mailer import SendError
    from monitor.alerts.outbox import message_id
    from monitor.alerts.render import TEST
    from monitor.alerts.targets import Dispatchers
    from monitor.store.models import Alert

    settings = ctx.settings
    target = settings.target(name)
    if target is None:
        known = ", ".join(t.name for t in settings.targets) or "none configured"
        raise MonitorError(f"no target named {name!r} ([[targets]]: {known})")
    key = message_id(settings, TEST, [utcnow().isoformat()], name)
    alert = Alert(subscription=TEST, kind=TEST, recipients=target.recipients, target=name, target_kind=target.kind,
                  message_id=key)
    with Dispatchers(settings) as dispatchers:
        try:
            dispatcher = dispatchers[name]
            answer = dispatcher.send(alert, [])
        except SendError as exc:
            raise MonitorError(f"test message to target {name} ({target.kind}) not sent: {exc}") from None
    click.echo(f"sent to target {name} ({target.kind}) via {dispatcher.where}: {answer}")


def target_label(name: str, kind: str) -> str:
    """A delivery's target as listed: "email", or a [[targets]] name with its kind ("desk (apprise)")."""
    return name if name == kind else f"{name} ({kind})"

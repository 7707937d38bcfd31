"""Delivery targets behind one interface: email (SMTP), webhook (a signed JSON POST) and Apprise (chat and push
services). Each dispatcher renders an alert for its medium, sends it, and returns the receiver's answer or raises
SendError (``permanent`` when the receiver refused it for good). Secrets — a target's URL, a webhook's key — are
read when a dispatcher opens and kept out of every message, log line and stored error."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx

from monitor.alerts.mailer import Mailer, SendError
from monitor.alerts.render import ArticleView, Renderer, one_line
from monitor.core.alert_settings import EMAIL_TARGET, Target
from monitor.core.config import Settings
from monitor.ingest.netguard import AddressPolicy, BlockedAddress, GuardedTransport, resolve_now
from monitor.store.models import Alert

SIGNATURE_HEADER = "X-Monitor-Signature"  # hex HMAC-SHA256 of the body, keyed with the target's secret
IDEMPOTENCY_HEADER = "Idempotency-Key"
ANSWER_CHARS = 200
TOKEN_CHARS = 8  # path segments this long or longer may be tokens: redacted
_HTTP_CODE = re.compile(r"\berror=(\d{3})\b")  # how Apprise's HTTP services log a refusal


class Dispatcher(Protocol):
    where: str  # the receiver as shown to people (no secret)

    def send(self, alert: Alert, articles: Sequence[ArticleView]) -> str: ...

    def close(self) -> None: ...


def refused_for_good(status: int) -> bool:
    """A 4xx answer other than 408 (timeout) and 429 (too many requests): sending it again will not help."""
    return 400 <= status < 500 and status not in (408, 429)


def read_secret(settings: Settings, target: str, env: str, file: str, what: str) -> str:
    """A secret from the environment variable ``env`` or else the file ``file`` (SendError when absent)."""
    if env:
        value = os.environ.get(env, "")
        if not value:
            raise SendError(f"target {target}: {what}: environment variable {env} is not set")
        return value.strip()
    path = settings.resolve(file)
    assert path is not None
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SendError(f"target {target}: {what}: cannot read {path}: {exc.strerror}") from None


def target_url(settings: Settings, target: Target) -> str:
    return target.url.get_secret_value() or read_secret(settings, target.name, target.url_env, target.url_file, "url")


class Redactor:
    """Replaces the secret parts of a URL — the URL, its password, query, path segments that may be tokens and
    (when the host is a token, as in tgram://TOKEN/CHAT) host — by "***" in a text."""

    def __init__(self, url: str, host_is_secret: bool):
        parts = urlsplit(url)
        tokens = [*parts.path.split("/"), parts.netloc.rpartition("@")[2] if host_is_secret else None]
        pieces = [url, parts.password, parts.query, parts.fragment, *(t for t in tokens if t and len(t) >= TOKEN_CHARS)]
        self._pieces = sorted({p for p in pieces if p}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for piece in self._pieces:
            text = text.replace(piece, "***")
        return text


class EmailDispatcher:
    """Alert mails to the recipients stored with each alert."""

    def __init__(self, settings: Settings, renderer: Renderer):
        self.renderer = renderer
        self.mailer = Mailer(settings)
        self.where = self.mailer.where

    def send(self, alert: Alert, articles: Sequence[ArticleView]) -> str:
        return self.mailer.send(self.renderer.alert(alert, articles))

    def close(self) -> None:
        self.mailer.close()


class WebhookDispatcher:
    """The alert's JSON POSTed to the target's URL, signed (``X-Monitor-Signature``: the hex HMAC-SHA256 of the
    body) and carrying ``Idempotency-Key`` (the same on a resend). Through the SSRF guard, no redirects, no proxy."""

    def __init__(self, settings: Settings, renderer: Renderer, target: Target):
        self.renderer = renderer
        self.url = target_url(settings, target)
        self.secret = read_secret(settings, target.name, target.secret_env, target.secret_file, "secret").encode()
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SendError(f"target {target.name}: not an http(s) URL", permanent=True)
        self.where = f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        self.redact = Redactor(self.url, host_is_secret=False)
        http = settings.http
        self.client = httpx.Client(
            transport=GuardedTransport(AddressPolicy(http.allowed_networks)), follow_redirects=False, trust_env=False,
            timeout=httpx.Timeout(connect=http.connect_timeout, read=http.read_timeout, write=http.read_timeout,
                                  pool=http.total_timeout),
            headers={"User-Agent": http.user_agent},
        )

    def send(self, alert: Alert, articles: Sequence[ArticleView]) -> str:
        body = json.dumps(self.renderer.payload(alert, articles), ensure_ascii=False).encode()
        headers = {
            "Content-Type": "application/json",
            IDEMPOTENCY_HEADER: alert.message_id.strip("<>"),
            SIGNATURE_HEADER: hmac.new(self.secret, body, hashlib.sha256).hexdigest(),
        }
        try:
            response = self.client.post(self.url, content=body, headers=headers)
        except BlockedAddress as exc:
            raise SendError(f"{self.where}: {exc}", permanent=True) from None
        except httpx.HTTPError as exc:
            raise SendError(self.redact(f"cannot reach {self.where}: {exc or type(exc).__name__}")) from None
        answer = self.redact(one_line(f"{response.status_code} {response.reason_phrase} {response.text}", ANSWER_CHARS))
        if response.is_success:
            return answer
        raise SendError(f"{self.where} answered {answer}", permanent=refused_for_good(response.status_code))

    def close(self) -> None:
        self.client.close()


class AppriseDispatcher:
    """A short text (``<kind>.chat.j2``) through Apprise to any service it knows. A server the URL names (json://,
    mmost://, matrix:// … host) must pass the SSRF guard; services at a fixed public address (tgram://, msteams://,
    slack:// …) name none. Services taking headers (json://, form://, xml://) get the Idempotency-Key too."""

    def __init__(self, settings: Settings, renderer: Renderer, target: Target):
        logging.getLogger("apprise").propagate = False  # its log names URLs: only its warnings are kept, redacted
        import apprise  # only where a target uses it

        self.renderer = renderer
        self.name = target.name
        self.url = target_url(settings, target)
        self.where = f"{urlsplit(self.url).scheme}://…"
        self.policy = AddressPolicy(settings.http.allowed_networks)
        self.service: Any = apprise.Apprise.instantiate(self.url)  # one per target: it keeps the service's pace
        if self.service is None:
            raise SendError(f"target {target.name}: not a valid Apprise URL", permanent=True)
        self.host_is_server = "host" in getattr(self.service, "template_tokens", {})
        self.redact = Redactor(self.url, host_is_secret=not self.host_is_server)

    def send(self, alert: Alert, articles: Sequence[ArticleView]) -> str:
        import apprise

        title, body = self.renderer.chat(alert, articles)
        if self.host_is_server:
            self._guard(getattr(self.service, "host", "") or "", getattr(self.service, "port", None))
        if isinstance(getattr(self.service, "headers", None), dict):
            self.service.headers[IDEMPOTENCY_HEADER] = alert.message_id.strip("<>")
        with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as log:
            ok = self.service.notify(body=body, title=title, body_format=apprise.NotifyFormat.TEXT)
        if ok:
            return "delivered"
        said = self.redact(" ".join(log.getvalue().split())) or "no reason given"
        code = _HTTP_CODE.search(said)
        raise SendError(f"{self.where} not delivered: {said}", permanent=bool(code and refused_for_good(int(code[1]))))

    def _guard(self, host: str, port: object) -> None:
        try:
            addresses = resolve_now(host, port if isinstance(port, int) else 443)
        except (OSError, UnicodeError) as exc:
            raise SendError(f"target {self.name}: cannot resolve its host: {exc}") from None
        refusal = self.policy.first_refusal(addresses)
        if refusal is not None:
            raise SendError(f"target {self.name}: blocked: {refusal} (see http.allowed_networks)", permanent=True)

    def close(self) -> None:
        pass


def open_dispatcher(settings: Settings, renderer: Renderer, name: str) -> Dispatcher:
    """The dispatcher of the target ``name`` (``email``: the subscriptions' recipients). Raises SendError."""
    if name == EMAIL_TARGET:
        return EmailDispatcher(settings, renderer)
    target = settings.target(name)
    if target is None:
        raise SendError(f"target {name} is not configured (any more)", permanent=True)
    if target.kind == "webhook":
        return WebhookDispatcher(settings, renderer, target)
    if target.kind == "apprise":
        return AppriseDispatcher(settings, renderer, target)
    return EmailDispatcher(settings, renderer)


class Dispatchers:
    """One dispatcher per target, opened at its first alert and closed at the end."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.renderer = Renderer(settings)
        self._open: dict[str, Dispatcher] = {}

    def __enter__(self) -> Dispatchers:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for dispatcher in self._open.values():
            dispatcher.close()
        self._open.clear()

    def __getitem__(self, target: str) -> Dispatcher:
        if target not in self._open:
            self._open[target] = open_dispatcher(self.settings, self.renderer, target)
        return self._open[target]

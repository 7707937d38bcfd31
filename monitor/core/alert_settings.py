"""Alert settings: the SMTP server, delivery tuning, the delivery targets and the subscriptions (``[smtp]``,
``[alerts]``, ``[[targets]]``, ``[[subscriptions]]`` in the config file)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator

from monitor.core.section import Section

if TYPE_CHECKING:
    from apscheduler.triggers.cron import CronTrigger


class SmtpSettings(Section):
    host: str = "localhost"
    port: int = Field(587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str = ""
    # Prefer MONITOR_SMTP_PASSWORD or password_file; SecretStr keeps it out of reprs and logs.
    password: SecretStr = SecretStr("")
    password_file: str = ""
    # Extra CA certificates (PEM) trusted for the server, e.g. a private relay's self-signed certificate.
    ca_file: str = ""
    from_addr: str = "monitor@localhost"
    timeout: float = Field(30.0, gt=0)


NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
EMAIL_TARGET = "email"  # the target of a subscription's ``recipients``


class Target(Section):
    """Where alerts go besides a subscription's email recipients: a signed JSON POST (``webhook``) or any
    Apprise URL (``apprise``: Mattermost, Teams, Telegram, Matrix, Slack, json://, form:// …). The URL, which
    often holds a token, comes from ``url_env`` (an environment variable) or ``url_file`` (a file); ``url``
    written in the config is for URLs holding no secret. A webhook's HMAC key: ``secret_env`` or ``secret_file``."""

    name: str = Field(pattern=NAME, max_length=100)
    kind: Literal["email", "webhook", "apprise"]
    url: SecretStr = SecretStr("")
    url_env: str = ""
    url_file: str = ""
    secret_env: str = ""
    secret_file: str = ""
    recipients: list[str] = Field(default_factory=list)  # kind "email"

    @model_validator(mode="after")
    def _check(self) -> Target:
        where = f"target {self.name!r}"
        if self.name == EMAIL_TARGET:
            raise ValueError(f"{where}: the name {EMAIL_TARGET!r} is kept for the subscriptions' recipients")
        for var in (self.url_env, self.secret_env):
            if var.upper().startswith("MONITOR_"):
                raise ValueError(f"{where}: {var!r}: MONITOR_* variables are settings; choose another name")
        urls = sum(map(bool, (self.url.get_secret_value(), self.url_env, self.url_file)))
        if self.kind == "email":
            if urls or not self.recipients or any("@" not in r for r in self.recipients):
                raise ValueError(f"{where}: an email target needs recipients (email addresses) and no url")
            return self
        if urls != 1:
            raise ValueError(f"{where}: needs one of url, url_env or url_file")
        if self.recipients:
            raise ValueError(f"{where}: recipients are for email targets")
        if self.kind == "webhook" and not (self.secret_env or self.secret_file):
            raise ValueError(f"{where}: a webhook is signed: set secret_env or secret_file")
        return self


class Subscription(Section):
    name: str = Field(pattern=NAME, max_length=100)
    recipients: list[str] = Field(default_factory=list)
    targets: list[str] = Field(default_factory=list)  # names of [[targets]]
    tags: list[str] = Field(default_factory=list)
    match: Literal["all", "any"] = "all"
    keywords: list[str] = Field(default_factory=list)
    feeds: list[str] = Field(default_factory=list)
    mode: Literal["immediate", "digest"] = "immediate"
    schedule: str = "0 7 * * *"
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @model_validator(mode="after")
    def _check(self) -> Subscription:
        if not self.tags and not self.keywords:
            raise ValueError(f"subscription {self.name!r} needs tags or keywords")
        if not self.recipients and not self.targets:
            raise ValueError(f"subscription {self.name!r} needs recipients or targets")
        if any("@" not in r for r in self.recipients):
            raise ValueError(f"subscription {self.name!r}: every recipient must be an email address")
        if self.mode == "digest":
            self.trigger()
        return self

    def trigger(self) -> CronTrigger:
        """The digest schedule (a crontab line) in the subscription's time zone."""
        from apscheduler.triggers.cron import CronTrigger  # only where a digest is scheduled

        try:
            return CronTrigger.from_crontab(self.schedule, timezone=ZoneInfo(self.timezone))
        except ValueError as exc:
            raise ValueError(f"subscription {self.name!r}: invalid schedule {self.schedule!r}: {exc}") from None


class AlertSettings(Section):
    # Seconds between two runs of the sender (pending alerts, due digests).
    send_interval: float = Field(10.0, gt=0)
    max_attempts: int = Field(12, ge=1)
    # Days a sent alert stays in the outbox (`monitor alerts list`); 0 = for ever. Unsent ones always stay.
    keep_sent_days: float = Field(90.0, ge=0)
    backoff_base: float = Field(60.0, gt=0)
    backoff_max: float = Field(3600.0, gt=0)
    templates: str = ""
    message_id_domain: str = ""

"""Alert settings: the SMTP server, delivery tuning and the subscriptions (``[smtp]``, ``[alerts]``,
``[[subscriptions]]`` in the config file)."""

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


class Subscription(Section):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=100)
    recipients: list[str] = Field(min_length=1)
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
    backoff_base: float = Field(60.0, gt=0)
    backoff_max: float = Field(3600.0, gt=0)
    templates: str = ""
    message_id_domain: str = ""

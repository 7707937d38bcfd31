"""SMTP delivery with smtplib: STARTTLS, implicit TLS or plain; AUTH; errors classified as permanent or not."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from types import TracebackType
from typing import Any

from monitor.core.config import Settings


class SendError(Exception):
    """A message was not sent; ``permanent`` when the server refused it for good (a 5xx answer to it)."""

    def __init__(self, message: str, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


class _LastReply:
    """Keeps the server's answer to DATA (smtplib's ``sendmail`` drops it)."""

    last_reply: tuple[int, bytes] = (0, b"")

    def data(self, msg: Any) -> tuple[int, bytes]:
        self.last_reply = super().data(msg)  # type: ignore[misc]
        return self.last_reply


class _SMTP(_LastReply, smtplib.SMTP):
    pass


class _SMTPS(_LastReply, smtplib.SMTP_SSL):
    pass


def _text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return " ".join(text.split())


def _is_5xx(code: int) -> bool:
    return 500 <= code < 600


def classify(exc: OSError, where: str) -> SendError:
    """A one-line reason with the SMTP code; 5xx answers to the sender, recipients or message are permanent."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refused = "; ".join(f"{rcpt}: {code} {_text(msg)}" for rcpt, (code, msg) in exc.recipients.items())
        return SendError(f"recipients refused: {refused}", all(_is_5xx(c) for c, _m in exc.recipients.values()))
    if isinstance(exc, smtplib.SMTPResponseException):
        phase = {
            smtplib.SMTPSenderRefused: "sender refused",
            smtplib.SMTPDataError: "message refused",
            smtplib.SMTPAuthenticationError: "authentication failed",
            smtplib.SMTPConnectError: "connection refused",
            smtplib.SMTPHeloError: "HELO refused",
        }.get(type(exc), "server error")
        permanent = isinstance(exc, smtplib.SMTPSenderRefused | smtplib.SMTPDataError) and _is_5xx(exc.smtp_code)
        return SendError(f"{phase}: {exc.smtp_code} {_text(exc.smtp_error)}", permanent)
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return SendError(f"TLS with {where} failed: {exc}")
    if isinstance(exc, smtplib.SMTPException):  # e.g. no STARTTLS or AUTH offered, the server hung up
        return SendError(f"{where}: {exc or type(exc).__name__}")
    return SendError(f"cannot reach {where}: {exc.strerror or exc}")


def smtp_password(settings: Settings) -> str:
    """The password from MONITOR_SMTP_PASSWORD/``password`` or else ``password_file`` ("" when neither)."""
    smtp = settings.smtp
    if smtp.password.get_secret_value():
        return smtp.password.get_secret_value()
    path = settings.resolve(smtp.password_file)
    if path is None:
        return ""
    try:
        return path.read_text(encoding="utf-8").strip("\r\n")
    except OSError as exc:
        raise SendError(f"cannot read smtp.password_file {path}: {exc.strerror}") from None


class Mailer:
    """One SMTP session, opened on the first message and reused; any error closes it (the next send reconnects).

    ``send`` returns the server's answer to the message, or raises SendError."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.where = f"{settings.smtp.host}:{settings.smtp.port}"
        self._conn: smtplib.SMTP | None = None

    def __enter__(self) -> Mailer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _connect(self) -> smtplib.SMTP:
        smtp = self.settings.smtp
        context = ssl.create_default_context(cafile=str(self.settings.resolve(smtp.ca_file) or "") or None)
        conn: smtplib.SMTP
        if smtp.security == "tls":
            conn = _SMTPS(smtp.host, smtp.port, timeout=smtp.timeout, context=context)
        else:
            conn = _SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
        try:
            if smtp.security == "starttls":
                conn.starttls(context=context)
            if smtp.username:
                conn.login(smtp.username, smtp_password(self.settings))
        except BaseException:
            conn.close()
            raise
        return conn

    def send(self, msg: EmailMessage) -> str:
        try:
            if self._conn is None:
                self._conn = self._connect()
            refused = self._conn.send_message(msg)
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            raise classify(exc, self.where) from exc
        code, reply = self._conn.last_reply  # type: ignore[attr-defined]
        answer = f"{code} {_text(reply)}"
        if refused:
            answer += "; refused: " + "; ".join(f"{r}: {c} {_text(m)}" for r, (c, m) in refused.items())
        return answer

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.quit()
        except (smtplib.SMTPException, OSError):
            conn.close()

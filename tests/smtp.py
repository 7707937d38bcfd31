"""A real SMTP server on loopback for tests (aiosmtpd): records messages, can refuse, require STARTTLS + AUTH,
go down and come back on the same port."""

from __future__ import annotations

import socket
import ssl
import subprocess
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

USER, PASSWORD = "monitor", "s3cret-pass"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (openssl CLI): (certificate, key)."""
    cert, key = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return cert, key


class Mailbox:
    """The server's handler: keeps every accepted message; ``refuse_rcpt``/``refuse_data`` answer instead."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.refuse_rcpt: str | None = None
        self.refuse_data: str | None = None

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        if self.refuse_rcpt:
            return self.refuse_rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse_data:
            return self.refuse_data
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))  # type: ignore[arg-type]
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return f"250 2.0.0 Ok: queued as Q{len(self.messages)}"

    def message_ids(self) -> list[str]:
        return [m["Message-ID"] for m in self.messages]


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USER.encode(), PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)


class SmtpServer:
    """aiosmtpd on 127.0.0.1; ``tls`` = (cert, key) requires STARTTLS and AUTH (``implicit``: TLS from the start)."""

    def __init__(self, tls: tuple[Path, Path] | None = None, implicit: bool = False):
        self.mailbox = Mailbox()
        self.port = free_port()
        self.tls = tls
        self.implicit = implicit
        self._controller: Controller | None = None
        self.start()

    def start(self) -> None:
        kwargs: dict[str, Any] = {}
        if self.tls:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*map(str, self.tls))
            if self.implicit:
                # aiosmtpd does not count implicit TLS as TLS for auth_require_tls
                kwargs = {"ssl_context": context, "authenticator": _authenticator, "auth_required": True,
                          "auth_require_tls": False}
            else:
                kwargs = {
                    "tls_context": context, "require_starttls": True, "auth_require_tls": True,
                    "authenticator": _authenticator, "auth_required": True,
                }
        self._controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port, **kwargs)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def messages(self) -> list[EmailMessage]:
        return self.mailbox.messages

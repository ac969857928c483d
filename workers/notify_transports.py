"""How outbox notifications leave the system: a log line (default) or e-mail over SMTP.

`LICENSEFLOW_SMTP_URL` schemes:
- `smtp://[user:pass@]host[:587]`: STARTTLS when the server offers it; credentials are only
  ever sent over TLS (a server without STARTTLS and a URL with credentials fails the attempt);
- `smtps://[user:pass@]host[:465]`: implicit TLS;
- `smtp+plain://host[:25]`: no TLS at all (a local relay, tests).
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Protocol
from urllib.parse import unquote, urlsplit

import asyncpg
import structlog

from licenseflow.config import Settings
from store import partners
from store.notifications import Claimed

log = structlog.get_logger(__name__)


def delivered(note: Claimed, transport: str, **extra: object) -> None:
    """One log line per delivered notification."""
    log.info(
        "notification.delivered",
        transport=transport,
        notification_id=note.id,
        recipient=note.recipient,
        kind=note.kind,
        deal_id=note.deal_id,
        **extra,
    )


SMTP_TIMEOUT = 30.0
DEFAULT_PORTS = {"smtp": 587, "smtps": 465, "smtp+plain": 25}


class PermanentDeliveryError(Exception):
    """Retrying cannot help (no address, recipient refused): the notification is given up."""


class Transport(Protocol):
    """Delivers one notification or raises (PermanentDeliveryError: do not retry)."""

    async def deliver(self, note: Claimed) -> None: ...


class LogTransport:
    """One structured log line per notification; counts as delivered (dev, no mail server)."""

    async def deliver(self, note: Claimed) -> None:
        delivered(note, "log", subject=note.subject)


class AddressBook:
    """Recipient login → e-mail: the partner profile of a contact user, else user@domain."""

    def __init__(self, pool: asyncpg.Pool, email_domain: str | None) -> None:
        self._pool = pool
        self._domain = (email_domain or "").strip().lstrip("@") or None

    async def email_for(self, recipient: str) -> str:
        found = await partners.email_for_contact_user(self._pool, recipient)
        if found:
            return found
        if self._domain:
            return f"{recipient}@{self._domain}"
        raise PermanentDeliveryError(
            f"no e-mail address for {recipient!r}: not a partner contact user and"
            " LICENSEFLOW_EMAIL_DOMAIN is unset"
        )


@dataclass(frozen=True)
class SmtpConfig:
    """A parsed LICENSEFLOW_SMTP_URL."""

    scheme: str
    host: str
    port: int
    username: str | None = None
    password: str | None = None

    @classmethod
    def from_url(cls, url: str) -> SmtpConfig:
        parts = urlsplit(url)
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            raise ValueError(
                "LICENSEFLOW_SMTP_URL must look like smtp://[user:pass@]host[:port]"
                " (or smtps://, smtp+plain://)"
            )
        return cls(
            scheme=parts.scheme,
            host=parts.hostname,
            port=parts.port or DEFAULT_PORTS[parts.scheme],
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )


class SmtpTransport:
    """E-mail through an SMTP server (stdlib smtplib in a thread, one connection per message)."""

    def __init__(
        self,
        config: SmtpConfig,
        addresses: AddressBook,
        mail_from: str,
        *,
        timeout: float = SMTP_TIMEOUT,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self._config = config
        self._addresses = addresses
        self._from = mail_from
        self._timeout = timeout
        self._tls = tls_context or ssl.create_default_context()

    async def deliver(self, note: Claimed) -> None:
        to = await self._addresses.email_for(note.recipient)
        message = self._message(note, to)
        await asyncio.to_thread(self._send, message)
        delivered(note, "smtp")

    def _message(self, note: Claimed, to: str) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self._from
        message["To"] = to
        message["Subject"] = " ".join(note.subject.split())  # no header injection
        message["Date"] = formatdate(localtime=False)
        domain = self._from.rpartition("@")[2] or "licenseflow"
        # stable across retries, so a message delivered twice (at-least-once) can be deduped
        message["Message-ID"] = f"<notification-{note.id}@{domain}>"
        lines = [note.body] if note.body else []
        if note.deal_id:
            lines.append(f"Deal: {note.deal_id}")
        message.set_content("\n\n".join(lines) or note.subject)
        return message

    def _send(self, message: EmailMessage) -> None:
        cfg = self._config
        if cfg.scheme == "smtps":
            server: smtplib.SMTP = smtplib.SMTP_SSL(
                cfg.host, cfg.port, timeout=self._timeout, context=self._tls
            )
        else:
            server = smtplib.SMTP(cfg.host, cfg.port, timeout=self._timeout)
        with server:
            server.ehlo()
            encrypted = cfg.scheme == "smtps"
            if cfg.scheme == "smtp" and server.has_extn("starttls"):
                server.starttls(context=self._tls)
                server.ehlo()
                encrypted = True
            if cfg.username:
                if not encrypted and cfg.scheme != "smtp+plain":
                    raise smtplib.SMTPException(
                        f"{cfg.host} does not offer STARTTLS; refusing to send credentials"
                        " in clear text (use smtps:// or a server with STARTTLS)"
                    )
                server.login(cfg.username, cfg.password or "")
            try:
                server.send_message(message)
            except smtplib.SMTPRecipientsRefused as exc:
                codes = [code for code, _ in exc.recipients.values()]
                if all(code >= 500 for code in codes):
                    raise PermanentDeliveryError(f"recipient refused: {exc.recipients}") from exc
                raise


def transport_from_settings(settings: Settings, pool: asyncpg.Pool) -> Transport:
    """SMTP when LICENSEFLOW_SMTP_URL is set (needs LICENSEFLOW_MAIL_FROM), else the log."""
    if not settings.smtp_url:
        return LogTransport()
    if not settings.mail_from:
        raise ValueError("LICENSEFLOW_MAIL_FROM must be set when LICENSEFLOW_SMTP_URL is")
    return SmtpTransport(
        SmtpConfig.from_url(settings.smtp_url),
        AddressBook(pool, settings.email_domain),
        settings.mail_from,
    )

"""A tiny SMTP server for the outbox tests: enough of SMTP for smtplib, recording each mail.

`gate`: while closed, every mail waits after its DATA (listed in `waiting`, no reply), so a
test can hold several senders mid-delivery; senders in `cut` then get no reply at all (their
process was killed) and their mail is recorded only if the test put it in `mails` itself
(a server that kept the message, whose reply was lost).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
from dataclasses import dataclass, field
from email.message import EmailMessage


@dataclass
class Mail:
    mail_from: str
    rcpt_to: list[str]
    message: EmailMessage


@dataclass
class SmtpStub:
    """Greeting, EHLO, (AUTH), MAIL, RCPT, DATA, RSET, QUIT."""

    refuse: set[str] = field(default_factory=set)
    advertise_auth: bool = False
    mails: list[Mail] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    port: int = 0
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    waiting: dict[str, Mail] = field(default_factory=dict)
    cut: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.gate.set()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        def reply(line: str) -> None:
            writer.write(line.encode() + b"\r\n")

        sender, rcpts = "", list[str]()
        reply("220 stub ESMTP")
        try:
            while raw := await reader.readline():
                line = raw.decode().rstrip("\r\n")
                verb = line.split(" ", 1)[0].upper()
                self.commands.append(verb)
                if verb == "EHLO":
                    reply("250-stub")
                    if self.advertise_auth:
                        reply("250-AUTH PLAIN")
                    reply("250 8BITMIME")
                elif verb == "MAIL":
                    sender, rcpts = line.split(":", 1)[1].strip().strip("<>"), []
                    reply("250 ok")
                elif verb == "RCPT":
                    address = line.split(":", 1)[1].strip().strip("<>")
                    if address in self.refuse:
                        reply("550 no such user")
                    else:
                        rcpts.append(address)
                        reply("250 ok")
                elif verb == "DATA":
                    reply("354 go ahead")
                    await writer.drain()
                    data = await reader.readuntil(b"\r\n.\r\n")
                    parsed = email.message_from_bytes(data[:-5], policy=email.policy.default)
                    assert isinstance(parsed, EmailMessage)
                    mail = Mail(sender, rcpts, parsed)
                    if not self.gate.is_set():
                        self.waiting[sender] = mail
                        await self.gate.wait()
                    if sender in self.cut:
                        return
                    self.mails.append(mail)
                    reply("250 queued")
                elif verb == "QUIT":
                    reply("221 bye")
                    await writer.drain()
                    break
                elif verb == "AUTH":
                    reply("235 ok")
                else:  # RSET, NOOP
                    reply("250 ok")
                await writer.drain()
        except ConnectionError:
            pass  # the client went away
        finally:
            writer.close()

"""Outbox delivery against real Postgres: claiming, retries, address resolution, SMTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest
import pytest_asyncio
from factories import partner_profile
from polling import eventually
from smtp_stub import SmtpStub

from licenseflow.config import Settings
from store import notifications, partners
from store.notifications import Claimed
from workers.notify_transports import (
    AddressBook,
    LogTransport,
    PermanentDeliveryError,
    SmtpConfig,
    SmtpTransport,
    transport_from_settings,
)
from workers.outbox import OutboxDispatcher, backoff

# ------------------------------------------------------------------ helpers


class Recording:
    """A transport that records what it delivers (and can fail or yield while delivering)."""

    def __init__(self, *, fail: Exception | None = None) -> None:
        self.delivered: list[int] = []
        self.fail = fail

    async def deliver(self, note: Claimed) -> None:
        await asyncio.sleep(0)  # yield, so concurrent dispatchers interleave
        if self.fail is not None:
            raise self.fail
        self.delivered.append(note.id)


async def enqueue(pool: asyncpg.Pool, n: int, *, recipient: str = "carol") -> list[int]:
    for i in range(n):
        await notifications.enqueue(
            pool,
            idempotency_key=f"k-{recipient}-{i}",
            recipient=recipient,
            kind="reminder",
            subject=f"Reminder {i}",
            body=f"Task {i} is due.",
            deal_id="moonbear-eu",
        )
    rows = await pool.fetch(
        "SELECT id FROM notifications WHERE recipient = $1 ORDER BY id", recipient
    )
    return [r["id"] for r in rows]


async def row(pool: asyncpg.Pool, notification_id: int) -> dict[str, object]:
    found = await pool.fetchrow(
        "SELECT status, attempts, last_error, sent_at,"
        " extract(epoch FROM next_attempt_at - now())::float AS due_in"
        " FROM notifications WHERE id = $1",
        notification_id,
    )
    assert found is not None
    return dict(found)


async def make_due(pool: asyncpg.Pool) -> None:
    """Let the backoff pass (the database clock is the outbox's clock)."""
    await pool.execute("UPDATE notifications SET next_attempt_at = now() WHERE status = 'pending'")


# ------------------------------------------------------------------ a tiny SMTP server


@pytest_asyncio.fixture
async def smtp() -> AsyncIterator[SmtpStub]:
    stub = SmtpStub()
    server = await asyncio.start_server(stub.handle, "127.0.0.1", 0)
    stub.port = server.sockets[0].getsockname()[1]
    async with server:
        yield stub


def smtp_transport(
    pool: asyncpg.Pool, stub: SmtpStub, *, scheme: str = "smtp+plain", domain: str | None = None
) -> SmtpTransport:
    config = SmtpConfig.from_url(f"{scheme}://127.0.0.1:{stub.port}")
    return SmtpTransport(config, AddressBook(pool, domain), "licenseflow@corp.example", timeout=5)


# ------------------------------------------------------------------ claiming and delivery


async def test_claimed_rows_are_delivered_once_and_marked_sent(pool: asyncpg.Pool) -> None:
    ids = await enqueue(pool, 3)
    transport = Recording()
    dispatcher = OutboxDispatcher(pool, transport, batch=10)

    assert await dispatcher.run_once() == 3
    assert await dispatcher.run_once() == 0

    assert transport.delivered == ids
    for notification_id in ids:
        sent = await row(pool, notification_id)
        assert sent["status"] == "sent"
        assert sent["attempts"] == 1
        assert sent["sent_at"] is not None


async def test_claim_skips_rows_locked_by_another_transaction(pool: asyncpg.Pool) -> None:
    ids = await enqueue(pool, 4)
    async with pool.acquire() as other, other.transaction():
        await other.execute(
            "SELECT id FROM notifications WHERE id = ANY($1::bigint[]) FOR UPDATE", ids[:2]
        )
        claimed = await notifications.claim_due(pool, 10, lease=timedelta(minutes=5))
    assert [c.id for c in claimed] == ids[2:]
    # claimed rows are leased: not due again for anyone else
    assert [c.id for c in await notifications.claim_due(pool, 10, lease=timedelta(minutes=5))] == (
        ids[:2]
    )


async def test_concurrent_dispatchers_never_deliver_the_same_row(pool: asyncpg.Pool) -> None:
    ids = await enqueue(pool, 40)
    transport = Recording()
    first = OutboxDispatcher(pool, transport, batch=3)
    second = OutboxDispatcher(pool, transport, batch=3)

    async def drain(dispatcher: OutboxDispatcher) -> int:
        total = 0
        while claimed := await dispatcher.run_once():
            total += claimed
        return total

    totals = await asyncio.gather(drain(first), drain(second))

    assert sorted(transport.delivered) == ids  # every row exactly once
    assert sum(totals) == len(ids) and all(totals)  # both took part
    statuses = await pool.fetch("SELECT DISTINCT status, attempts FROM notifications")
    assert [tuple(r) for r in statuses] == [("sent", 1)]


async def test_failing_transport_backs_off_then_gives_up(pool: asyncpg.Pool) -> None:
    [notification_id] = await enqueue(pool, 1)
    transport = Recording(fail=ConnectionError("relay down"))
    dispatcher = OutboxDispatcher(pool, transport, max_attempts=3, retry_base=timedelta(seconds=60))

    assert await dispatcher.run_once() == 1
    first = await row(pool, notification_id)
    assert first["status"] == "pending" and first["attempts"] == 1
    assert first["last_error"] == "ConnectionError: relay down"
    assert 55 < first["due_in"] <= 60  # type: ignore[operator]
    assert await dispatcher.run_once() == 0  # not due before the backoff passes

    await make_due(pool)
    assert await dispatcher.run_once() == 1
    second = await row(pool, notification_id)
    assert second["status"] == "pending" and second["attempts"] == 2
    assert 115 < second["due_in"] <= 120  # type: ignore[operator]  # doubled

    await make_due(pool)
    assert await dispatcher.run_once() == 1
    last = await row(pool, notification_id)
    assert last["status"] == "failed" and last["attempts"] == 3
    assert last["sent_at"] is None
    await make_due(pool)
    assert await dispatcher.run_once() == 0  # given up: never claimed again


def test_backoff_doubles_up_to_the_cap() -> None:
    base, cap = timedelta(seconds=30), timedelta(minutes=5)
    delays = [backoff(n, base=base, cap=cap) for n in range(1, 7)]
    assert [d.total_seconds() for d in delays] == [30, 60, 120, 240, 300, 300]


async def test_stopping_mid_batch_releases_the_rest(pool: asyncpg.Pool) -> None:
    ids = await enqueue(pool, 3)
    stop = asyncio.Event()

    class StopsAfterOne(Recording):
        async def deliver(self, note: Claimed) -> None:
            await super().deliver(note)
            stop.set()

    transport = StopsAfterOne()
    assert await OutboxDispatcher(pool, transport).run_once(stop) == 3
    assert transport.delivered == ids[:1]
    rest = [await row(pool, i) for i in ids[1:]]
    assert all(r["status"] == "pending" and r["attempts"] == 0 for r in rest)
    assert all(r["due_in"] <= 0 for r in rest)  # type: ignore[operator]


async def test_run_until_delivers_new_rows_and_stops(pool: asyncpg.Pool) -> None:
    transport = LogTransport()
    stop = asyncio.Event()
    dispatcher = OutboxDispatcher(pool, transport, interval=0.05)
    task = asyncio.create_task(dispatcher.run_until(stop))
    ids = await enqueue(pool, 2)

    await eventually(
        lambda: pool.fetchval(
            "SELECT count(*) FROM notifications WHERE status = 'sent' AND id = ANY($1)", ids
        ),
        lambda sent: sent == 2,
        within=5,
    )
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    assert task.done() and task.exception() is None


# ------------------------------------------------------------------ addresses and SMTP


async def test_unknown_address_fails_permanently(pool: asyncpg.Pool, smtp: SmtpStub) -> None:
    [notification_id] = await enqueue(pool, 1, recipient="nobody")
    dispatcher = OutboxDispatcher(pool, smtp_transport(pool, smtp, domain=None))

    assert await dispatcher.run_once() == 1

    failed = await row(pool, notification_id)
    assert failed["status"] == "failed" and failed["attempts"] == 1
    assert "LICENSEFLOW_EMAIL_DOMAIN" in str(failed["last_error"])
    assert smtp.mails == []


async def test_partner_contact_gets_the_partner_email(pool: asyncpg.Pool, smtp: SmtpStub) -> None:
    profile = partner_profile("globex", contact_user="globex-ops", email="ops@globex.example")
    await partners.insert(pool, profile.model_dump(mode="json"), "admin")
    await enqueue(pool, 1, recipient="globex-ops")
    await enqueue(pool, 1, recipient="carol")
    dispatcher = OutboxDispatcher(pool, smtp_transport(pool, smtp, domain="corp.example"))

    assert await dispatcher.run_once() == 2

    assert [m.rcpt_to for m in smtp.mails] == [["ops@globex.example"], ["carol@corp.example"]]
    assert await pool.fetchval("SELECT count(*) FROM notifications WHERE status = 'sent'") == 2


async def test_smtp_transport_sends_a_complete_mail(pool: asyncpg.Pool, smtp: SmtpStub) -> None:
    [notification_id] = await enqueue(pool, 1)
    dispatcher = OutboxDispatcher(pool, smtp_transport(pool, smtp, domain="corp.example"))

    assert await dispatcher.run_once() == 1

    [mail] = smtp.mails
    assert mail.mail_from == "licenseflow@corp.example"
    assert mail.rcpt_to == ["carol@corp.example"]
    assert mail.message["Subject"] == "Reminder 0"
    assert mail.message["To"] == "carol@corp.example"
    assert mail.message["Message-ID"] == f"<notification-{notification_id}@corp.example>"
    text = mail.message.get_content()
    assert "Task 0 is due." in text and "Deal: moonbear-eu" in text
    assert smtp.commands[-1] == "QUIT"
    assert (await row(pool, notification_id))["status"] == "sent"


async def test_smtp_url_uses_starttls_only_when_offered(pool: asyncpg.Pool, smtp: SmtpStub) -> None:
    await enqueue(pool, 1)
    transport = smtp_transport(pool, smtp, scheme="smtp", domain="corp.example")

    assert await OutboxDispatcher(pool, transport).run_once() == 1

    assert len(smtp.mails) == 1
    assert "STARTTLS" not in smtp.commands  # not advertised by the stub


async def test_credentials_are_never_sent_without_tls(pool: asyncpg.Pool, smtp: SmtpStub) -> None:
    smtp.advertise_auth = True
    [notification_id] = await enqueue(pool, 1)
    config = SmtpConfig.from_url(f"smtp://bot:s3cret@127.0.0.1:{smtp.port}")
    transport = SmtpTransport(config, AddressBook(pool, "corp.example"), "lf@corp.example")

    assert await OutboxDispatcher(pool, transport).run_once() == 1

    retried = await row(pool, notification_id)
    assert retried["status"] == "pending"  # a configuration problem: retried, not dropped
    assert "refusing to send credentials" in str(retried["last_error"])
    assert "AUTH" not in smtp.commands and smtp.mails == []


async def test_refused_recipient_fails_permanently(pool: asyncpg.Pool, smtp: SmtpStub) -> None:
    smtp.refuse.add("carol@corp.example")
    [notification_id] = await enqueue(pool, 1)
    dispatcher = OutboxDispatcher(pool, smtp_transport(pool, smtp, domain="corp.example"))

    assert await dispatcher.run_once() == 1

    failed = await row(pool, notification_id)
    assert failed["status"] == "failed"
    assert "recipient refused" in str(failed["last_error"])


async def test_unreachable_server_is_retried(pool: asyncpg.Pool, smtp: SmtpStub) -> None:
    [notification_id] = await enqueue(pool, 1)
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    free_port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    config = SmtpConfig.from_url(f"smtp+plain://127.0.0.1:{free_port}")
    transport = SmtpTransport(config, AddressBook(pool, "corp.example"), "lf@corp.example")

    assert await OutboxDispatcher(pool, transport).run_once() == 1

    retried = await row(pool, notification_id)
    assert retried["status"] == "pending" and retried["attempts"] == 1
    assert "Connection" in str(retried["last_error"])


# ------------------------------------------------------------------ configuration


def test_smtp_urls_parse_with_default_ports() -> None:
    assert SmtpConfig.from_url("smtp://u%40x:p%3Aw@mail.example") == SmtpConfig(
        "smtp", "mail.example", 587, "u@x", "p:w"
    )
    assert SmtpConfig.from_url("smtps://mail.example").port == 465
    assert SmtpConfig.from_url("smtp+plain://relay:2525").port == 2525
    with pytest.raises(ValueError, match="LICENSEFLOW_SMTP_URL"):
        SmtpConfig.from_url("http://mail.example")


async def test_transport_follows_settings(pool: asyncpg.Pool, settings: Settings) -> None:
    assert isinstance(transport_from_settings(settings, pool), LogTransport)
    smtp_only = settings.model_copy(update={"smtp_url": "smtp://relay.example"})
    with pytest.raises(ValueError, match="LICENSEFLOW_MAIL_FROM"):
        transport_from_settings(smtp_only, pool)
    full = smtp_only.model_copy(update={"mail_from": "lf@corp.example"})
    assert isinstance(transport_from_settings(full, pool), SmtpTransport)


async def test_address_book_prefers_the_partner_profile(pool: asyncpg.Pool) -> None:
    await partners.insert(pool, partner_profile("acme").model_dump(mode="json"), "admin")
    book = AddressBook(pool, "@corp.example")
    assert await book.email_for("erin") == "erin@acme.example"
    assert await book.email_for("bob") == "bob@corp.example"
    with pytest.raises(PermanentDeliveryError):
        await AddressBook(pool, None).email_for("bob")


# ------------------------------------------------------------------ leases and several claimers


class Gated(Recording):
    """Blocks delivering `held` until `gate` opens; `started` is set when it got there."""

    def __init__(self, held: int, *, fail: Exception | None = None) -> None:
        super().__init__()
        self.held, self.late_failure = held, fail
        self.started, self.gate = asyncio.Event(), asyncio.Event()

    async def deliver(self, note: Claimed) -> None:
        if note.id == self.held:
            self.started.set()
            await self.gate.wait()
            if self.late_failure is not None:
                raise self.late_failure
        await super().deliver(note)


async def expire_leases(pool: asyncpg.Pool, *, except_id: int | None = None) -> None:
    """Let the lease of pending rows run out (the database clock is the outbox's clock)."""
    await pool.execute(
        "UPDATE notifications SET next_attempt_at = now()"
        " WHERE status = 'pending' AND id IS DISTINCT FROM $1",
        except_id,
    )


async def test_rows_whose_batch_lease_ran_out_are_not_delivered_twice(
    pool: asyncpg.Pool,
) -> None:
    ids = await enqueue(pool, 3)
    slow = Gated(ids[0])
    task = asyncio.create_task(OutboxDispatcher(pool, slow, batch=3).run_once())
    await asyncio.wait_for(slow.started.wait(), 5)
    # the first delivery is slow: the lease of the two rows still waiting in its batch runs out
    await expire_leases(pool, except_id=ids[0])
    other = Recording()
    assert await OutboxDispatcher(pool, other, batch=3).run_once() == 2

    slow.gate.set()
    assert await asyncio.wait_for(task, 5) == 3

    assert other.delivered == ids[1:]
    assert slow.delivered == ids[:1]  # the rows taken over were skipped, not sent again
    rows = [await row(pool, i) for i in ids]
    assert [(r["status"], r["attempts"]) for r in rows] == [("sent", 1), ("sent", 2), ("sent", 2)]


async def test_stopping_does_not_release_rows_another_dispatcher_claimed(
    pool: asyncpg.Pool,
) -> None:
    ids = await enqueue(pool, 3)
    stop = asyncio.Event()
    slow = Gated(ids[0])
    task = asyncio.create_task(OutboxDispatcher(pool, slow, batch=3).run_once(stop))
    await asyncio.wait_for(slow.started.wait(), 5)
    await expire_leases(pool, except_id=ids[0])
    taken = await notifications.claim_due(pool, 10, lease=timedelta(minutes=5))
    assert [c.id for c in taken] == ids[1:]  # another dispatcher is delivering these now

    stop.set()
    slow.gate.set()
    await asyncio.wait_for(task, 5)

    rest = [await row(pool, i) for i in ids[1:]]
    assert all(r["status"] == "pending" and r["attempts"] == 2 for r in rest)
    assert all(r["due_in"] > 200 for r in rest)  # type: ignore[operator]  # still leased
    assert await notifications.claim_due(pool, 10, lease=timedelta(minutes=5)) == []


async def test_a_late_failure_does_not_overwrite_another_claim(pool: asyncpg.Pool) -> None:
    [notification_id] = await enqueue(pool, 1)
    stuck = Gated(notification_id, fail=PermanentDeliveryError("late"))
    task = asyncio.create_task(OutboxDispatcher(pool, stuck).run_once())
    await asyncio.wait_for(stuck.started.wait(), 5)
    await expire_leases(pool)  # the attempt outlived its lease (a paused process)
    [retry] = await notifications.claim_due(pool, 10, lease=timedelta(minutes=5))

    stuck.gate.set()
    await asyncio.wait_for(task, 5)
    assert (await row(pool, notification_id))["status"] == "pending"  # not given up

    assert await notifications.mark_sent(pool, notification_id, claim=retry.claim)
    done = await row(pool, notification_id)
    assert done["status"] == "sent" and done["last_error"] is None


async def test_a_timed_out_attempt_is_not_retried_before_its_lease_ends(
    pool: asyncpg.Pool,
) -> None:
    [notification_id] = await enqueue(pool, 1)
    hung = Gated(notification_id)  # never opens: the transport is still "sending"
    dispatcher = OutboxDispatcher(
        pool,
        hung,
        delivery_timeout=0.2,
        lease=timedelta(seconds=90),
        retry_base=timedelta(seconds=1),
    )

    assert await dispatcher.run_once() == 1

    retried = await row(pool, notification_id)
    assert retried["status"] == "pending" and retried["last_error"] == "TimeoutError: "
    assert 85 < retried["due_in"] <= 90  # type: ignore[operator]  # the lease, not 1 s backoff

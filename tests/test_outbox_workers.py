"""Several workers share the notification outbox and the overdue sweep: every notification is
delivered once, including the claims of workers killed mid-delivery, except the one window the
design cannot close (a worker killed after the mail server took the message, before the row was
marked sent), where the repeat carries the same Message-ID for the receiver to drop."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio
from factories import partner_profile
from polling import eventually
from smtp_stub import SmtpStub

from store import deals, notifications, partners, statements
from store.notifications import Claimed
from store.pool import create_pool
from workers.outbox import OutboxDispatcher
from workers.overdue import OverdueReminders

WORKER = Path(__file__).with_name("outbox_worker.py")
DOMAIN = "corp.example"


async def seed_overdue(pool: asyncpg.Pool, count: int, *, due_at: datetime) -> list[str]:
    """A deal of partner acme (contact user acme-ops) with `count` open invoices due `due_at`."""
    profile = partner_profile("acme", contact_user="acme-ops", email="ops@acme.example")
    await partners.insert(pool, profile.model_dump(mode="json"), "admin")
    await deals.upsert(
        pool,
        deal_id="moon",
        workflow_id="deal-moon",
        title="Moon Bear",
        owner="olivia",
        stage="monitoring",
        request={},
        request_hash="x",
        partner_id="acme",
    )
    ids = [f"moon:p{i}" for i in range(1, count + 1)]
    for period, statement_id in enumerate(ids, start=1):
        await statements.insert(
            pool,
            statement_id=statement_id,
            deal_id="moon",
            kind="period",
            contract_year=1,
            period=period,
            net_sales=Decimal("1000.00"),
            royalty_earned=Decimal("80.00"),
            guaranteed_due=Decimal(0),
            amount_due=Decimal("80.00"),
            currency="EUR",
            issued_at=due_at - timedelta(days=30),
            due_at=due_at,
        )
    return ids


async def enqueue(pool: asyncpg.Pool, count: int) -> None:
    for i in range(count):
        await notifications.enqueue(
            pool,
            idempotency_key=f"task-{i}",
            recipient="carol",
            kind="reminder",
            subject=f"Reminder {i}",
            body=f"Task {i} is due.",
        )


async def reminded_statements(pool: asyncpg.Pool) -> list[str]:
    """The statement of each overdue reminder queued (its key is invoice-overdue:<id>:<day>)."""
    keys = await pool.fetch(
        "SELECT idempotency_key FROM notifications WHERE kind = 'invoice_overdue' ORDER BY id"
    )
    return sorted(k["idempotency_key"].split(":", 1)[1].rsplit(":", 1)[0] for k in keys)


def message_id(notification_id: int) -> str:
    return f"<notification-{notification_id}@{DOMAIN}>"


# ------------------------------------------------------------------ worker processes


@pytest_asyncio.fixture
async def smtp() -> AsyncIterator[SmtpStub]:
    stub = SmtpStub()
    server = await asyncio.start_server(stub.handle, "127.0.0.1", 0)
    stub.port = server.sockets[0].getsockname()[1]
    async with server:
        yield stub
        stub.gate.set()  # let held handlers finish


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Started worker processes; whatever still runs at the end is terminated."""
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def test_worker_processes_deliver_each_notification_once_when_some_die(
    pool: asyncpg.Pool,
    db_url: str,
    smtp: SmtpStub,
    spawn: list[subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    senders = [f"worker-{i}@{DOMAIN}" for i in range(3)]
    logs = [tmp_path / f"worker-{i}.log" for i in range(3)]
    for sender, log_file in zip(senders, logs, strict=True):
        env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "LICENSEFLOW_SMTP_URL": f"smtp+plain://127.0.0.1:{smtp.port}",
            "LICENSEFLOW_MAIL_FROM": sender,
            "LICENSEFLOW_EMAIL_DOMAIN": DOMAIN,
            "OUTBOX_BATCH": "4",  # 30 rows: every worker claims a batch
            # generous, as the first mails are held until all three workers send one
            "OUTBOX_DELIVERY_TIMEOUT": "8",
            "OUTBOX_LEASE": "9",
        }
        with log_file.open("wb") as out:
            spawn.append(
                subprocess.Popen(  # noqa: ASYNC220  # started once, never waited on here
                    [sys.executable, str(WORKER)],
                    env=env,
                    cwd=tmp_path,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )

    async def ready() -> int:
        return sum(b"ready" in f.read_bytes() for f in logs if f.exists())

    await eventually(ready, lambda n: n == 3, within=30, what="workers ready")
    smtp.gate.clear()  # hold every worker's first mail after its DATA
    invoices = await seed_overdue(pool, 6, due_at=datetime.now(UTC) - timedelta(days=1))
    await enqueue(pool, 24)

    async def holding() -> set[str]:
        return set(smtp.waiting)

    await eventually(holding, lambda s: s == set(senders), within=20, what="all three sending")
    dies_mid_send, dies_after_send, survivor = senders
    lost = smtp.waiting[dies_mid_send].message["Message-ID"]
    kept = smtp.waiting[dies_after_send].message["Message-ID"]
    smtp.mails.append(smtp.waiting[dies_after_send])  # the server kept it; the reply is lost
    smtp.cut |= {dies_mid_send, dies_after_send}
    for proc in spawn[:2]:
        proc.kill()
        await asyncio.to_thread(proc.wait, 10)
    smtp.gate.set()

    async def pending() -> int:
        count: int = await pool.fetchval(
            "SELECT count(*) FROM notifications WHERE status <> 'sent'"
        )
        return count

    # the dead workers' claims come back after their lease (9 s) and the survivor sends them
    await eventually(pending, lambda n: n == 0, within=60, what="every row sent")
    assert spawn[2].poll() is None

    ids = [r["id"] for r in await pool.fetch("SELECT id FROM notifications ORDER BY id")]
    assert len(ids) == 24 + 6
    assert await reminded_statements(pool) == sorted(invoices)  # one reminder per invoice
    delivered = Counter(m.message["Message-ID"] for m in smtp.mails)
    assert set(delivered) == {message_id(i) for i in ids}  # deduplicated: each once
    assert {mid: n for mid, n in delivered.items() if n > 1} == {kept: 2}  # the only repeat
    assert delivered[lost] == 1
    by = {
        mid: [m.mail_from for m in smtp.mails if m.message["Message-ID"] == mid]
        for mid in (lost, kept)
    }
    assert by == {lost: [survivor], kept: [dies_after_send, survivor]}
    reminders = [m for m in smtp.mails if m.message["Subject"].endswith("is overdue")]
    assert {m.rcpt_to[0] for m in reminders} == {"ops@acme.example"}


# ------------------------------------------------------------------ in-process sweeps


class Sink:
    """Counts deliveries per notification (shared by several dispatchers)."""

    def __init__(self) -> None:
        self.delivered: Counter[int] = Counter()

    async def deliver(self, note: Claimed) -> None:
        await asyncio.sleep(0)  # yield, so concurrent dispatchers interleave
        self.delivered[note.id] += 1


async def test_two_workers_sweeping_at_once_send_each_reminder_once(db_url: str) -> None:
    pool = await create_pool(db_url, min_size=6, max_size=6)
    try:
        now = datetime(2027, 5, 1, 12, tzinfo=UTC)
        invoices = await seed_overdue(pool, 30, due_at=now - timedelta(days=2))
        sweepers = [OverdueReminders(pool, batch=4) for _ in range(2)]
        # two hosts whose clocks differ by a minute sweep at the same moment
        swept = await asyncio.gather(
            sweepers[0].run_once(now), sweepers[1].run_once(now + timedelta(minutes=1))
        )
        assert sum(swept) == 30 and all(swept)
        assert [await s.run_once(now + timedelta(hours=1)) for s in sweepers] == [0, 0]

        sink = Sink()
        dispatchers = [OutboxDispatcher(pool, sink, batch=3) for _ in range(2)]

        async def drain(dispatcher: OutboxDispatcher) -> int:
            total = 0
            while claimed := await dispatcher.run_once():
                total += claimed
            return total

        drained = await asyncio.gather(*(drain(d) for d in dispatchers))
        assert sum(drained) == 30 and all(drained)
        assert await reminded_statements(pool) == sorted(invoices)
        ids = [r["id"] for r in await pool.fetch("SELECT id FROM notifications")]
        assert sorted(sink.delivered) == sorted(ids)
        assert set(sink.delivered.values()) == {1}
    finally:
        await pool.close()

"""A `licenseflow worker`'s outbox and overdue loops in a process of their own, without Temporal
(tests/test_outbox_workers.py starts several and kills some).

Settings come from the environment as for the worker (DATABASE_URL, LICENSEFLOW_SMTP_URL,
LICENSEFLOW_MAIL_FROM, LICENSEFLOW_EMAIL_DOMAIN); OUTBOX_BATCH, OUTBOX_LEASE and
OUTBOX_DELIVERY_TIMEOUT (seconds) shorten what production keeps long. Prints `ready` once both
loops run; SIGTERM stops it as it stops the worker.
"""

from __future__ import annotations

import asyncio
import os
import signal
from datetime import timedelta

from licenseflow.config import Settings
from store.pool import create_pool
from workers.notify_transports import transport_from_settings
from workers.outbox import OutboxDispatcher
from workers.overdue import OverdueReminders


async def main() -> None:
    settings = Settings()
    assert settings.database_url, "DATABASE_URL must be set"
    pool = await create_pool(settings.database_url, min_size=1, max_size=3)
    dispatcher = OutboxDispatcher(
        pool,
        transport_from_settings(settings, pool),
        interval=0.1,
        batch=int(os.environ["OUTBOX_BATCH"]),
        delivery_timeout=float(os.environ["OUTBOX_DELIVERY_TIMEOUT"]),
        lease=timedelta(seconds=float(os.environ["OUTBOX_LEASE"])),
    )
    reminders = OverdueReminders(pool, interval=0.2)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    try:
        await asyncio.gather(dispatcher.run_until(stop), reminders.run_until(stop))
    finally:
        await pool.close()


if __name__ == "__main__":
    asyncio.run(main())

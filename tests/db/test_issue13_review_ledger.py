"""Review of issue 13 against the grants table: a hold whose window became empty (a deal
terminated before its scheduled start) releases the cell for the next licensee; a release
racing a reservation lets the reservation through once committed; codes recorded in any
case are one cell."""

from __future__ import annotations

import asyncio

import asyncpg
from polling import eventually
from test_grants_ledger import Y2027, Y2028, held, hold, ledger, scope

from domain.bounds import RECORDED
from domain.common import LicensedScope
from store import grants

__all__ = ["ledger"]  # the fixture, used by name


async def test_an_empty_window_releases_the_cell_for_the_next_licensee(
    ledger: asyncpg.Pool,
) -> None:
    assert await hold(ledger, "acme-de", scope("DE")) is None
    # cut before it started: [2028, 2027) holds nothing (was: "not available to license")
    assert await hold(ledger, "acme-de", scope("DE"), start=Y2028, end=Y2027) is None
    assert await held(ledger, "acme-de") == {}
    assert await hold(ledger, "globex-de", scope("DE")) is None


async def test_a_reservation_racing_a_release_goes_through_once_it_commits(
    ledger: asyncpg.Pool, db_url: str
) -> None:
    assert await hold(ledger, "acme-de", scope("DE")) is None
    releasing = await asyncpg.connect(db_url)
    try:
        tx = releasing.transaction()
        await tx.start()
        await releasing.execute(
            "UPDATE grants SET status = 'released', released_at = now() WHERE deal_id = 'acme-de'"
        )
        racing = asyncio.ensure_future(hold(ledger, "globex-de", scope("DE")))
        # the exclusion check waits for the open release (a lock wait), it does not refuse
        await eventually(
            lambda: releasing.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND datname = current_database()"
            ),
            lambda waiting: waiting >= 1,
            what="the reservation waiting on the release",
        )
        assert not racing.done()
        await tx.commit()
        assert await asyncio.wait_for(racing, 10) is None
    finally:
        await releasing.close()
    assert set(await held(ledger, "globex-de")) == {("apparel", "DE", "online")}


async def test_codes_recorded_in_any_case_are_the_same_cell(ledger: asyncpg.Pool) -> None:
    assert await hold(ledger, "acme-de", scope("DE")) is None
    shouting = LicensedScope.model_validate(
        {
            "categories": [" APPAREL "],
            "territories": ["de"],
            "channels": ["Online"],
            "exclusive": True,
        },
        context=RECORDED,
    )
    conflict = await hold(ledger, "globex-de", shouting)
    assert conflict is not None and conflict.deal_id == "acme-de"
    assert (conflict.category, conflict.territory, conflict.channel) == ("apparel", "DE", "online")
    assert await grants.for_deal(ledger, "globex-de") == []

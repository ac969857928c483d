"""Review of issue 13: a licensee must never learn another licensee, nor where a competitor
holds exclusive rights. A deal parked on a rights incident (its cells taken before the
envelope, or an applied amendment's) names the blocking deal and licensee in
`state.incident`, and the licensee reads its deal through `api/partner_view.py`, which
drops it (keeping `health`)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from api.partner_view import partner_view
from domain.common import LicensedScope
from domain.deal import Kpi, Plan
from domain.deal_state import DealState, Stage
from domain.rights import RightsConflict
from store.tokens import Principal


def test_a_licensee_reading_a_deal_parked_on_a_rights_conflict_learns_no_competitor() -> None:
    conflict = RightsConflict(
        kind="held",
        property_id="moon-bear",
        category="apparel",
        territory="FR",
        channel="online",
        deal_id="globex-fr",
        licensee="globex",
        exclusive=True,
        status="active",
        starts_at=datetime(2027, 1, 1, tzinfo=UTC),
        ends_at=datetime(2030, 1, 1, tzinfo=UTC),
    )
    state = DealState(
        deal_id="acme-eu",
        title="Moon Bear apparel",
        owner="olivia",
        stage=Stage.IMPLEMENTATION,
        partner_id="acme",
        plan=Plan(
            scope=LicensedScope(
                categories=["apparel"], territories=["FR"], channels=["online"], exclusive=True
            ),
            kpis=[Kpi(target_per_period=Decimal(100_000))],
        ),
        term_periods=12,
        health="blocked",
        incident=f"rights: {conflict.message()}"[:500],  # as `Incidents.hold` keeps it
    )
    acme = Principal(user="acme-ops", roles=frozenset({"partner"}), partner_id="acme")
    seen = partner_view(state, acme).model_dump_json()
    assert "globex" not in seen
    assert '"health":"blocked"' in seen  # the licensee still sees that the deal is held up

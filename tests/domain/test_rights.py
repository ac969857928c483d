"""The rights ledger's pure rules (`domain/rights.py`): cells, merged holdings, windows,
conflicts and what a property offers a new deal; the README's property fits its deal."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from domain import examples
from domain.bounds import RECORDED
from domain.common import LicensedScope, PartnerScope
from domain.deal import DealRequest, Schedule
from domain.properties import PropertyIn
from domain.rights import (
    MAX_CELLS,
    Cell,
    GrantRow,
    Holding,
    PropertyRights,
    RightsConflict,
    cell_count,
    deal_property_problem,
    desired_rows,
    first_unavailable,
    reservation_window,
    scope_cells,
)

T0 = datetime(2027, 1, 31, tzinfo=UTC)
T1 = datetime(2028, 1, 31, tzinfo=UTC)


def scope(*territories: str, exclusive: bool = False, **codes: list[str]) -> LicensedScope:
    return LicensedScope(
        categories=codes.get("categories", ["apparel"]),
        territories=list(territories),
        channels=codes.get("channels", ["online"]),
        exclusive=exclusive,
    )


def test_cells_are_folded_expanded_and_ordered() -> None:
    recorded = LicensedScope.model_validate(
        {"categories": ["Apparel", "apparel"], "territories": ["benelux", "NL"],
         "channels": ["Online"]},
        context=RECORDED,
    )  # fmt: skip
    assert scope_cells(recorded) == [
        Cell("apparel", "BE", "online"),
        Cell("apparel", "LU", "online"),
        Cell("apparel", "NL", "online"),
    ]
    assert cell_count(recorded) == 3
    assert str(Cell("apparel", "DE", "online")) == "apparel/DE/online"
    worldwide = scope("EU", "EEA", categories=["a", "b"], channels=["x", "y", "z"])
    assert cell_count(worldwide) == 2 * 30 * 3 == len(scope_cells(worldwide))


def test_a_cell_held_twice_merges_active_exclusive_and_the_union_window() -> None:
    in_force = Holding(scope=scope("DE", "FR"), starts_at=T0, ends_at=T1, status="active")
    later = T0 + timedelta(days=30)
    amended = Holding(
        scope=scope("FR", "IT", exclusive=True),
        starts_at=later,
        ends_at=T1 + timedelta(days=1),
        status="reserved",
    )
    rows = {r.cell.territory: r for r in desired_rows([in_force, amended])}
    assert rows["DE"] == GrantRow(Cell("apparel", "DE", "online"), False, T0, T1, "active")
    assert rows["FR"] == GrantRow(
        Cell("apparel", "FR", "online"), True, T0, T1 + timedelta(days=1), "active"
    )
    assert rows["IT"] == GrantRow(
        Cell("apparel", "IT", "online"), True, later, T1 + timedelta(days=1), "reserved"
    )


def test_the_reservation_covers_a_launch_as_late_as_the_signature_may_come() -> None:
    monthly = Schedule(period="P1M", periods_per_year=12, term_periods=12, decision_sla="P5D")
    start, end = reservation_window(T0, monthly, 12, "P90D")
    # the envelope expires after 3 SLAs (15 days): launch by 15 Feb, a year, then 90 days
    assert start == T0
    assert end == datetime(2028, 2, 15, tzinfo=UTC) + timedelta(days=90)
    fixed = monthly.model_copy(update={"start": datetime(2027, 3, 1, tzinfo=UTC)})
    assert reservation_window(T0, fixed, 12, None) == (
        datetime(2027, 3, 1, tzinfo=UTC),
        datetime(2028, 3, 1, tzinfo=UTC),
    )


PROPERTY = PropertyRights.model_validate(
    {
        "property_id": "moon-bear",
        "rights": {"categories": ["apparel"], "territories": ["DACH"], "channels": ["online"]},
        "available_from": "2027-01-01T00:00:00Z",
        "available_to": "2030-01-01T00:00:00Z",
    }
)


def test_rows_are_fitted_to_what_the_property_offers() -> None:
    row = GrantRow(Cell("apparel", "DE", "online"), True, T0, datetime(2031, 1, 1, tzinfo=UTC),
                   "reserved")  # fmt: skip
    fitted, conflict = first_unavailable([row], PROPERTY, "clip")
    assert conflict is None and fitted[0].ends_at == datetime(2030, 1, 1, tzinfo=UTC)
    _, refused = first_unavailable([row], PROPERTY, "contain")
    assert refused is not None and refused.kind == "unavailable"
    assert "available until 2030-01-01" in refused.message()
    other = GrantRow(Cell("apparel", "FR", "online"), True, T0, T1, "active")
    _, missing = first_unavailable([other], PROPERTY, "clip")
    assert missing is not None and missing.territory == "FR"
    assert missing.message() == (
        "rights conflict: apparel/FR/online of property moon-bear is not available to"
        " license: the property does not offer it"
    )
    outside = GrantRow(Cell("apparel", "DE", "online"), True, datetime(2031, 1, 1, tzinfo=UTC),
                       datetime(2032, 1, 1, tzinfo=UTC), "reserved")  # fmt: skip
    assert first_unavailable([outside], PROPERTY, "clip")[1] is not None


def test_a_conflict_names_the_deal_licensee_cell_and_window() -> None:
    conflict = RightsConflict(
        kind="held",
        property_id="moon-bear",
        category="apparel",
        territory="DE",
        channel="online",
        deal_id="acme-eu",
        licensee="acme",
        exclusive=True,
        status="active",
        starts_at=T0,
        ends_at=T1,
    )
    assert conflict.message() == (
        "rights conflict: apparel/DE/online of property moon-bear is held exclusively by deal"
        " acme-eu (licensee acme) from 2027-01-31T00:00:00+00:00 to 2028-01-31T00:00:00+00:00"
        " (active)"
    )


def test_a_new_deal_must_fit_its_property() -> None:
    now = datetime(2027, 6, 1, tzinfo=UTC)
    yearly = Schedule(period="P1M", periods_per_year=12, term_periods=12)
    assert deal_property_problem(scope("DE", "AT"), yearly, None, PROPERTY, now) is None
    assert deal_property_problem(scope("DE", "IT"), yearly, None, PROPERTY, now) == (
        "plan.scope.territories.1",
        "territory 'IT' is not offered by property moon-bear",
    )
    assert (
        deal_property_problem(scope("DE", channels=["retail"]), yearly, None, PROPERTY, now)[0]
        == "plan.scope.channels.0"
    )  # type: ignore[index]
    early = deal_property_problem(
        scope("DE"), yearly, None, PROPERTY, datetime(2026, 1, 1, tzinfo=UTC)
    )
    assert (
        early is not None and early[0] == "schedule.start" and "give a schedule.start" in early[1]
    )
    long = yearly.model_copy(update={"term_periods": 36})
    late = deal_property_problem(scope("DE"), long, None, PROPERTY, now)
    assert late is not None and late[0] == "schedule.term_periods"
    sell_off = deal_property_problem(
        scope("DE"), yearly.model_copy(update={"term_periods": 24}), "P300D", PROPERTY, now
    )
    assert sell_off is not None and sell_off[0] == "schedule.term_periods"
    huge = PartnerScope.model_validate(
        {"categories": [f"c{i}" for i in range(30)], "territories": ["EEA"],
         "channels": [f"h{i}" for i in range(30)]}
    )  # fmt: skip
    assert cell_count(huge) > MAX_CELLS
    problem = deal_property_problem(huge, yearly, None, PROPERTY, now)
    assert problem is not None and problem[0] == "plan.scope"


def _readme_body(path: str) -> str:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    match = re.search(r"-X POST \$API" + re.escape(path) + r" -d '(.*?)'", readme, re.S)
    assert match, f"README walkthrough lost its POST {path}"
    return match.group(1)


def test_the_readme_and_example_properties_fit_their_deals() -> None:
    walkthrough = PropertyIn.model_validate_json(_readme_body("/v1/properties"))
    deal = DealRequest.model_validate_json(_readme_body("/v1/deals"))
    assert deal.property_id == walkthrough.property_id
    assert json.loads(_readme_body("/v1/properties"))["rights"] == {
        k: examples.PROPERTY["rights"][k] for k in ("categories", "territories", "channels")
    }
    during_2027 = datetime(2027, 6, 1, tzinfo=UTC)
    for prop, request in (
        (walkthrough, deal),
        (PropertyIn.model_validate(examples.PROPERTY), DealRequest.model_validate(examples.DEAL)),
    ):
        rights = PropertyRights(
            property_id=prop.property_id,
            rights=prop.rights,
            available_from=prop.available_from,
            available_to=prop.available_to,
        )
        assert request.property_id == prop.property_id
        problem = deal_property_problem(
            request.plan.scope, request.schedule, request.terms.sell_off, rights, during_2027
        )
        assert problem is None, problem

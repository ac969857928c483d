"""The signature envelope carries the terms the licensee signs (`activities/signing.py`,
`domain/signed_terms.py`): local and DocuSign-style providers, hash kept on the envelope."""

from __future__ import annotations

import base64
import json
from decimal import Decimal

import asyncpg
from test_deal_signing import signature_request

from activities.signing import DocuSignStyleProvider, LocalSigningProvider
from domain.common import LicensedScope
from domain.deal import RateCardRow, RoyaltyTier, Terms
from domain.signed_terms import terms_hash
from store import envelopes

SCOPE = LicensedScope(categories=["apparel", "toys"], territories=["EU"], channels=["online"])
TERMS = Terms(
    currency="EUR",
    royalty_tiers=[RoyaltyTier(rate=Decimal("0.07"))],
    rate_card=[RateCardRow(category="toys", per_unit=Decimal("0.5"))],
    advance=Decimal(50_000),
    advance_recoupable_across_term=True,
    minimum_guarantee_schedule=[Decimal(20_000), Decimal(30_000)],
    sell_off="P90D",
)


async def test_the_local_envelope_keeps_the_signed_terms_and_their_hash(
    pool: asyncpg.Pool,
) -> None:
    request = signature_request(
        idempotency_key="deal-terms-1:signature-1", terms=TERMS, scope=SCOPE, contract_years=3
    )
    ref = await LocalSigningProvider(pool).create_envelope(request)
    row = await envelopes.get(pool, ref.envelope_id)
    assert row is not None
    signed = row["document"]["signed_terms"]
    assert row["terms_hash"] == row["document"]["terms_hash"] == terms_hash(signed)
    assert signed["rate_card"] == [
        {
            "label": "toys/*/*",
            "category": "toys",
            "territory": None,
            "channel": None,
            "royalty_tiers": None,
            "per_unit": "0.5",
        }
    ]
    # the schedule's last entry holds for year 3
    assert signed["minimum_guarantee_by_year"] == ["20000", "30000", "30000"]
    assert (signed["advance"], signed["advance_recoupable_across_term"]) == ("50000", True)
    assert (signed["sell_off"], signed["unlicensed_rate"]) == ("P90D", "0.07")
    assert len(signed["scope"]["territories"]) == 27  # EU, expanded at the edge
    # what the document says can be checked against the stored hash
    tampered = {**signed, "advance": "5000"}
    assert terms_hash(tampered) != row["terms_hash"]


async def test_an_envelope_requested_without_terms_has_no_hash(pool: asyncpg.Pool) -> None:
    ref = await LocalSigningProvider(pool).create_envelope(
        signature_request(idempotency_key="deal-terms-2:signature-1")
    )
    row = await envelopes.get(pool, ref.envelope_id)
    assert row is not None and row["terms_hash"] is None
    assert "signed_terms" not in row["document"]


def test_the_docusign_payload_carries_the_document_and_its_hash() -> None:
    request = signature_request(terms=TERMS, scope=SCOPE, contract_years=2)
    payload = DocuSignStyleProvider(pool=None, credentials=None).build_payload(  # type: ignore[arg-type]
        request
    )
    document = json.loads(base64.b64decode(payload["documents"][0]["documentBase64"]))
    digest = terms_hash(document["signed_terms"])
    assert document["terms_hash"] == digest
    fields = {f["name"]: f["value"] for f in payload["customFields"]["textCustomFields"]}
    assert fields["terms_hash"] == digest
    assert document["signed_terms"]["minimum_guarantee_by_year"] == ["20000", "30000"]

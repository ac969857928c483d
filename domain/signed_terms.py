"""What a signature envelope asks the licensee to sign: the full commercial terms and the
licensed scope, every term explicit (defaults included), and its sha256.

The envelope's document carries `signed_terms` and `terms_hash`; the stored envelope keeps
the hash in its own column (`store/envelopes.py`), so the terms a signature covers can be
proven: `terms_hash(document["signed_terms"])` must equal the stored hash.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from domain.common import LicensedScope
from domain.deal import Terms


def signed_terms(terms: Terms, scope: LicensedScope, contract_years: int) -> dict[str, Any]:
    """The terms and scope as signed (JSON values; amounts as strings, exact).
    `minimum_guarantee_by_year` spells out the MG of each contract year of the term."""
    return {
        "currency": terms.currency,
        "royalty_tiers": [t.model_dump(mode="json") for t in terms.royalty_tiers],
        "rate_card": [
            row.model_dump(mode="json") | {"label": row.name()} for row in terms.rate_card
        ],
        "advance": str(terms.advance),
        "advance_recoupable_across_term": terms.advance_recoupable_across_term,
        "minimum_guarantee_per_year": str(terms.minimum_guarantee_per_year),
        "minimum_guarantee_schedule": [str(a) for a in terms.minimum_guarantee_schedule],
        "minimum_guarantee_by_year": [
            str(terms.minimum_guarantee_for(year)) for year in range(1, contract_years + 1)
        ],
        "payment_terms": terms.payment_terms,
        "sell_off": terms.sell_off,
        "unlicensed": terms.unlicensed.model_dump(mode="json"),
        "unlicensed_rate": str(terms.unlicensed_rate()),
        "scope": scope.model_dump(mode="json"),
    }


def terms_hash(signed: Mapping[str, Any]) -> str:
    """sha256 (hex) of the canonical JSON (sorted keys, no whitespace) of `signed`."""
    body = json.dumps(signed, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()

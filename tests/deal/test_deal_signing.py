"""Signing providers: local envelopes are idempotent; the DocuSign-style one needs config."""

from __future__ import annotations

import asyncpg
import pytest
from temporalio.exceptions import ApplicationError

from activities.signing import (
    DocuSignCredentials,
    DocuSignStyleProvider,
    LocalSigningProvider,
    SigningActivities,
)
from domain import errors
from domain.deal_activity_io import RequestSignatureInput, Signatory
from licenseflow.config import Settings
from store import envelopes


def signature_request(**overrides: object) -> RequestSignatureInput:
    data: dict[str, object] = {
        "idempotency_key": "deal-moonbear-1:signature-1",
        "deal_id": "moonbear-1",
        "workflow_id": "deal-moonbear-1",
        "title": "Moonbear apparel",
        "partner_id": "acme",
        "plan_version": 2,
        "signatories": [
            Signatory(user="sam", role="licensor", email="sam@licensor.example"),
            Signatory(user="erin", role="licensee", email="erin@acme.example"),
        ],
    }
    data.update(overrides)
    return RequestSignatureInput(**data)


async def test_local_provider_creates_one_envelope_per_idempotency_key(
    pool: asyncpg.Pool,
) -> None:
    provider = LocalSigningProvider(pool)
    first = await provider.create_envelope(signature_request())
    again = await provider.create_envelope(signature_request())

    assert first == again and first.provider == "local"
    row = await envelopes.get(pool, first.envelope_id)
    assert row is not None
    assert (row["status"], row["signatories"]) == ("sent", ["sam", "erin"])
    assert row["document"]["plan_version"] == 2


def test_docusign_payload_lists_signers_in_routing_order() -> None:
    payload = DocuSignStyleProvider(pool=None, credentials=None).build_payload(  # type: ignore[arg-type]
        signature_request()
    )
    signers = payload["recipients"]["signers"]
    assert [(s["routingOrder"], s["email"]) for s in signers] == [
        ("1", "sam@licensor.example"),
        ("2", "erin@acme.example"),
    ]
    assert payload["status"] == "sent"


async def test_docusign_selected_without_credentials_fails_for_good(
    pool: asyncpg.Pool, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LICENSEFLOW_DOCUSIGN_ACCESS_TOKEN", raising=False)
    assert DocuSignCredentials.from_env() is None
    activities = SigningActivities(pool, settings)
    with pytest.raises(ApplicationError) as refused:
        await activities.request_signature(signature_request(provider="docusign"))
    assert refused.value.non_retryable and refused.value.type == errors.INVALID

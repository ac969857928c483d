"""E-sign webhook: HMAC with rotation, tampering, duplicates, order and settling."""

from __future__ import annotations

import json
from typing import Any

from api_helpers import Api, assert_problem, eventually

from api.esign import sign_body
from api.middleware import MAX_BODY_BYTES
from domain.deal_state import DealState
from store import envelopes


async def _envelope(api: Api) -> tuple[str, str]:
    """A stand-in deal with a local envelope for two signatories."""
    from api_samples import deal, partner

    partner_id = api.name("acme")
    admin = await api.auth("ada", "admin")
    body = partner(partner_id, "acme-ops")
    assert (await api.http.post("/v1/partners", json=body, headers=admin)).status_code == 201
    request = deal(api.name("moon"), partner_id=partner_id, approver="carol", signatory="sam")
    owner = await api.auth(api.name("olivia"), "owner")
    assert (await api.http.post("/v1/deals", json=request, headers=owner)).status_code == 201
    deal_id = request["deal_id"]
    envelope_id = f"env-{deal_id}"
    await envelopes.create(
        api.pool,
        envelope_id=envelope_id,
        idempotency_key=f"sig-{deal_id}",
        deal_id=deal_id,
        workflow_id=f"deal-{deal_id}",
        provider="docusign",
        signatories=["sam", "acme-ops"],
        document={},
    )
    return deal_id, envelope_id


def _payload(event: str, envelope_id: str, at: str, **data: Any) -> bytes:
    body = {"event": event, "generatedDateTime": at, "data": {"envelopeId": envelope_id, **data}}
    return json.dumps(body).encode()


async def _post(api: Api, raw: bytes, secret: str | None = "new-secret") -> Any:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-DocuSign-Signature-1"] = sign_body(secret, raw)
    return await api.http.post("/v1/webhooks/esign", content=raw, headers=headers)


async def _signals(api: Api, deal_id: str) -> list[str]:
    state = await api.client.get_workflow_handle(f"deal-{deal_id}").query(
        "state", result_type=DealState
    )
    return [h.event for h in state.history if h.event.startswith("signature_")]


async def test_signature_must_match_a_configured_secret(stub_api: Api) -> None:
    deal_id, envelope_id = await _envelope(stub_api)
    raw = _payload("envelope-completed", envelope_id, "2026-03-01T10:00:00Z")

    assert_problem(await _post(stub_api, raw, secret=None), 401)
    assert_problem(await _post(stub_api, raw, secret="guessed"), 401)
    tampered = raw.replace(b"envelope-completed", b"envelope-declined")
    headers = {
        "X-DocuSign-Signature-1": sign_body("new-secret", raw),
        "Content-Type": "application/json",
    }
    assert_problem(
        await stub_api.http.post("/v1/webhooks/esign", content=tampered, headers=headers), 401
    )
    envelope = await envelopes.get(stub_api.pool, envelope_id)
    assert envelope is not None and (envelope["status"], envelope["events"]) == ("sent", [])

    rotated = await _post(stub_api, raw, secret="old-secret")
    assert rotated.status_code == 200, rotated.text
    assert rotated.json() == {"status": "applied", "envelope_status": "completed"}
    assert await eventually(lambda: _signals(stub_api, deal_id), bool) == ["signature_completed"]
    # a provider retry of the settling event is not applied twice, but re-sends the signal
    # (in case the first delivery to Temporal failed); the deal ignores the repeat
    retried = await _post(stub_api, raw)
    assert retried.json() == {"status": "duplicate", "envelope_status": "completed"}
    twice = await eventually(lambda: _signals(stub_api, deal_id), lambda s: len(s) == 2)
    assert twice == ["signature_completed", "signature_completed"]
    envelope = await envelopes.get(stub_api.pool, envelope_id)
    assert envelope is not None and len(envelope["events"]) == 1


async def test_duplicates_stale_and_settled_events_are_ignored(stub_api: Api) -> None:
    deal_id, envelope_id = await _envelope(stub_api)

    signed = _payload("recipient-completed", envelope_id, "2026-03-01T10:00:00Z", recipientId="sam")
    assert (await _post(stub_api, signed)).json() == {
        "status": "applied",
        "envelope_status": "sent",
    }
    assert (await _post(stub_api, signed)).json()["status"] == "duplicate"
    older = _payload("recipient-delivered", envelope_id, "2026-03-01T09:00:00Z")
    assert (await _post(stub_api, older)).json()["status"] == "stale"

    declined = _payload(
        "envelope-declined", envelope_id, "2026-03-01T11:00:00Z", reason="wrong territory"
    )
    assert (await _post(stub_api, declined)).json() == {
        "status": "applied",
        "envelope_status": "declined",
    }
    completed = _payload("envelope-completed", envelope_id, "2026-03-01T12:00:00Z")
    assert (await _post(stub_api, completed)).json() == {
        "status": "settled",
        "envelope_status": "declined",
    }
    assert await eventually(lambda: _signals(stub_api, deal_id), bool) == ["signature_declined"]

    envelope = await envelopes.get(stub_api.pool, envelope_id)
    assert envelope is not None
    assert [e["event"] for e in envelope["events"]] == ["recipient-completed", "envelope-declined"]
    assert envelope["signed_by"] == ["sam"]
    log = await stub_api.pool.fetch(
        "SELECT actor, action FROM audit_log WHERE subject = $1 ORDER BY id", envelope_id
    )
    assert [(r["actor"], r["action"]) for r in log] == [
        ("esign-webhook", "esign.recipient-completed"),
        ("esign-webhook", "esign.envelope-declined"),
    ]


async def test_unknown_envelope_and_malformed_payload(stub_api: Api) -> None:
    raw = _payload("envelope-completed", "env-nowhere", "2026-03-01T10:00:00Z")
    assert_problem(await _post(stub_api, raw), 404)
    garbage = b'{"event": "envelope-completed"}'
    assert_problem(await _post(stub_api, garbage), 422, field="body.data")


async def test_oversized_bodies_are_refused_before_reading_them(api: Api) -> None:
    """The unauthenticated webhook (and every route) refuses bodies above the limit: 413."""
    raw = _payload("envelope-completed", "env-x", "2025-01-01T00:00:00Z", pad="x" * MAX_BODY_BYTES)
    body = assert_problem(await _post(api, raw), 413)
    assert str(MAX_BODY_BYTES) in body["detail"]

    async def chunks() -> Any:
        for _ in range(MAX_BODY_BYTES // 65536 + 2):
            yield b"x" * 65536

    streamed = await api.http.post(
        "/v1/deals",
        content=chunks(),
        headers={**await api.auth("olivia", "owner"), "Content-Type": "application/json"},
    )
    assert_problem(streamed, 413)

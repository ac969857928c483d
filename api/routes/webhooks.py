"""E-sign provider webhook (DocuSign Connect style), verified by HMAC before anything else."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from temporalio.service import RPCError

from api.deps import Svc, write_audit
from api.esign import SIGNATURE_HEADER_PREFIX, SigningEvent, apply_signing_event, verify_signature
from api.problems import ProblemError, not_found, unauthorized
from api.schemas import WebhookResult
from api.workflow_errors import problem_from_temporal

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])


class EnvelopeData(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    envelope_id: str = Field(alias="envelopeId", min_length=1, max_length=200)
    recipient_id: str | None = Field(default=None, alias="recipientId", max_length=200)
    reason: str | None = Field(default=None, max_length=4000)


class EsignNotification(BaseModel):
    """The fields we use of a Connect JSON notification; the rest is ignored."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    event: str = Field(min_length=1, max_length=100)
    generated_at: datetime | None = Field(default=None, alias="generatedDateTime")
    event_id: str | None = Field(default=None, alias="eventId", max_length=200)
    data: EnvelopeData


@router.post(
    "/esign",
    response_model=WebhookResult,
    responses={401: {"description": "Missing or wrong X-DocuSign-Signature-1"}},
)
async def esign_webhook(request: Request, svc: Svc) -> WebhookResult:
    """Apply a signing event once, in order; duplicates and stale events are acknowledged."""
    raw = await request.body()
    signatures = [v for k, v in request.headers.items() if k.startswith(SIGNATURE_HEADER_PREFIX)]
    if not signatures or not verify_signature(raw, signatures, svc.settings.webhook_secrets):
        raise unauthorized("webhook signature does not match")
    try:
        note = EsignNotification.model_validate_json(raw)
    except ValidationError as exc:
        errors = [
            {
                "field": "body." + ".".join(str(p) for p in e["loc"]),
                "message": e["msg"],
                "type": e["type"],
            }
            for e in exc.errors()
        ]
        raise ProblemError(422, "not a signing notification", errors=errors) from exc
    at = note.generated_at or datetime.now(UTC)
    event = SigningEvent(
        envelope_id=note.data.envelope_id,
        event_id=note.event_id or hashlib.sha256(raw).hexdigest(),
        event=note.event,
        at=at if at.tzinfo else at.replace(tzinfo=UTC),
        by=note.data.recipient_id,
        reason=note.data.reason,
        source="webhook",
    )
    try:
        applied = await apply_signing_event(
            svc.pool, svc.client, event, rpc_timeout=svc.rpc_timeout
        )
    except RPCError as exc:
        raise problem_from_temporal(exc, what=f"deal of envelope {event.envelope_id}") from exc
    if applied.outcome == "unknown":
        raise not_found(f"envelope {event.envelope_id} is unknown")
    if applied.outcome == "applied":
        await write_audit(
            svc,
            request,
            "esign-webhook",
            f"esign.{note.event}",
            deal_id=applied.deal_id,
            workflow_id=applied.workflow_id,
            subject=event.envelope_id,
            detail={"event_id": event.event_id, "envelope_status": applied.status},
        )
    return WebhookResult(status=applied.outcome, envelope_status=applied.status)

"""Signature requests through a pluggable signing provider (local by default).

`LocalSigningProvider` keeps the envelope in Postgres; signatories sign through the API,
which records each event on the envelope and signals the deal when it is completed or
declined. `DocuSignStyleProvider` builds a real REST payload and is only used when
configured (`LICENSEFLOW_SIGNING_PROVIDER=docusign` plus its credentials).
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

import asyncpg
import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain import errors
from domain.deal_activity_io import EnvelopeRef, RequestSignatureInput
from domain.signed_terms import signed_terms, terms_hash
from licenseflow.config import Settings
from store import envelopes


class SigningProvider(Protocol):
    """Creates (once per idempotency key) an envelope for the signatories."""

    name: str

    async def create_envelope(self, req: RequestSignatureInput) -> EnvelopeRef: ...


def envelope_id_for(idempotency_key: str) -> str:
    """A stable envelope id derived from the workflow's idempotency key."""
    return "env-" + uuid.uuid5(uuid.NAMESPACE_URL, idempotency_key).hex[:24]


def _document(req: RequestSignatureInput) -> dict[str, Any]:
    """The document the signatories sign: the deal, partner and plan version, the
    workflow's document (an amendment's changes) and the full commercial terms and licensed
    scope (`signed_terms`) with their sha256 (`terms_hash`)."""
    document = {
        "title": req.title,
        "deal_id": req.deal_id,
        "partner_id": req.partner_id,
        "plan_version": req.plan_version,
        **req.document,
    }
    if req.terms is not None and req.scope is not None:
        signed = signed_terms(req.terms, req.scope, req.contract_years or 0)
        document |= {"signed_terms": signed, "terms_hash": terms_hash(signed)}
    return document


async def _store_envelope(
    pool: asyncpg.Pool, envelope_id: str, provider: str, req: RequestSignatureInput
) -> EnvelopeRef:
    """Record the envelope once per idempotency key (the stored id wins on a retry)."""
    document = _document(req)
    stored_id = await envelopes.create(
        pool,
        envelope_id=envelope_id,
        idempotency_key=req.idempotency_key,
        deal_id=req.deal_id,
        workflow_id=req.workflow_id,
        provider=provider,
        signatories=[s.user for s in req.signatories],
        document=document,
        terms_hash=document.get("terms_hash"),
    )
    return EnvelopeRef(envelope_id=stored_id, provider=provider)


class LocalSigningProvider:
    """Envelope lives in Postgres; signatories sign via the API."""

    name = "local"

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def create_envelope(self, req: RequestSignatureInput) -> EnvelopeRef:
        return await _store_envelope(
            self._pool, envelope_id_for(req.idempotency_key), self.name, req
        )


@dataclass(frozen=True)
class DocuSignCredentials:
    base_url: str
    account_id: str
    access_token: str

    @classmethod
    def from_env(cls) -> DocuSignCredentials | None:
        values = [
            os.environ.get(f"LICENSEFLOW_DOCUSIGN_{name}", "")
            for name in ("BASE_URL", "ACCOUNT_ID", "ACCESS_TOKEN")
        ]
        return cls(*values) if all(values) else None


class DocuSignStyleProvider:
    """eSignature REST v2.1 style envelope creation; mirrors the envelope in Postgres."""

    name = "docusign"

    def __init__(self, pool: asyncpg.Pool, credentials: DocuSignCredentials | None) -> None:
        self._pool = pool
        self._credentials = credentials

    def build_payload(self, req: RequestSignatureInput) -> dict[str, Any]:
        """The `POST /v2.1/accounts/{id}/envelopes` body for this request."""
        signers = []
        for order, signatory in enumerate(req.signatories, start=1):
            if not signatory.email:
                raise ApplicationError(
                    f"signatory {signatory.user} has no email for {self.name}",
                    type=errors.INVALID,
                    non_retryable=True,
                )
            signers.append(
                {
                    "recipientId": str(order),
                    "routingOrder": str(order),
                    "name": signatory.user,
                    "email": signatory.email,
                    "roleName": signatory.role,
                }
            )
        document = _document(req)
        body = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
        fields = [
            {"name": "deal_id", "value": req.deal_id, "show": "false"},
            {"name": "idempotency_key", "value": req.idempotency_key, "show": "false"},
        ]
        if "terms_hash" in document:
            fields.append({"name": "terms_hash", "value": document["terms_hash"], "show": "false"})
        return {
            "emailSubject": f"Please sign: {req.title}",
            "status": "sent",
            "documents": [
                {
                    "documentId": "1",
                    "name": f"{req.title} (plan v{req.plan_version})",
                    "fileExtension": "json",
                    "documentBase64": base64.b64encode(body).decode(),
                }
            ],
            "recipients": {"signers": signers},
            "customFields": {"textCustomFields": fields},
        }

    async def create_envelope(self, req: RequestSignatureInput) -> EnvelopeRef:
        if self._credentials is None:
            raise ApplicationError(
                "docusign provider selected but LICENSEFLOW_DOCUSIGN_* credentials are missing",
                type=errors.INVALID,
                non_retryable=True,
            )
        existing = await self._pool.fetchrow(
            "SELECT envelope_id, status FROM signature_envelopes WHERE idempotency_key = $1",
            req.idempotency_key,
        )
        if existing:
            return EnvelopeRef(
                envelope_id=existing["envelope_id"], provider=self.name, status=existing["status"]
            )
        creds = self._credentials
        async with httpx.AsyncClient(base_url=creds.base_url, timeout=30) as http:
            response = await http.post(
                f"/v2.1/accounts/{creds.account_id}/envelopes",
                json=self.build_payload(req),
                headers={"Authorization": f"Bearer {creds.access_token}"},
            )
        if 400 <= response.status_code < 500:
            raise ApplicationError(
                f"signing provider refused the envelope: {response.status_code}",
                type=errors.INVALID,
                non_retryable=True,
            )
        response.raise_for_status()
        return await _store_envelope(self._pool, response.json()["envelopeId"], self.name, req)


class SigningActivities:
    """The `request_signature` activity over the configured providers."""

    def __init__(self, pool: asyncpg.Pool, settings: Settings) -> None:
        self._default = settings.signing_provider
        self._providers: dict[str, SigningProvider] = {
            "local": LocalSigningProvider(pool),
            "docusign": DocuSignStyleProvider(pool, DocuSignCredentials.from_env()),
        }

    def provider(self, name: str | None) -> SigningProvider:
        chosen = name or self._default
        if chosen not in self._providers:
            raise ApplicationError(
                f"unknown signing provider {chosen!r}", type=errors.INVALID, non_retryable=True
            )
        return self._providers[chosen]

    @activity.defn
    async def request_signature(self, req: RequestSignatureInput) -> EnvelopeRef:
        """Create the envelope once per idempotency key and return its id."""
        return await self.provider(req.provider).create_envelope(req)

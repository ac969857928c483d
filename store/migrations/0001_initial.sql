-- Licenseflow system of record. Temporal holds workflow state; Postgres holds the facts.

CREATE TABLE partners (
    partner_id   text PRIMARY KEY,
    profile      jsonb NOT NULL,
    version      integer NOT NULL DEFAULT 1,
    created_by   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- Read model of deals, written by workflow activities; Temporal is the source of truth.
CREATE TABLE deals (
    deal_id      text PRIMARY KEY,
    workflow_id  text NOT NULL UNIQUE,
    title        text NOT NULL,
    owner        text,
    stage        text NOT NULL,
    partner_id   text,
    kpi_status   text,
    request      jsonb NOT NULL,
    request_hash text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX deals_owner_idx ON deals (owner);
CREATE INDEX deals_partner_idx ON deals (partner_id);

-- Every version of a partner's sales report for a period; the highest version counts.
CREATE TABLE sales_reports (
    report_id     text PRIMARY KEY,
    deal_id       text NOT NULL,
    period        integer NOT NULL CHECK (period >= 1),
    version       integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    lines         jsonb NOT NULL,
    body_hash     text NOT NULL,
    correction    boolean NOT NULL DEFAULT false,
    reason        text,
    submitted_by  text NOT NULL,
    submitted_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (deal_id, period, version)
);

-- Royalty statements; statement_id is the workflow's idempotency key.
CREATE TABLE statements (
    statement_id   text PRIMARY KEY,
    deal_id        text NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('period', 'true_up', 'final')),
    contract_year  integer NOT NULL,
    period         integer,
    net_sales      numeric(18, 2) NOT NULL DEFAULT 0,
    royalty_earned numeric(18, 2) NOT NULL DEFAULT 0,
    guaranteed_due numeric(18, 2) NOT NULL DEFAULT 0,
    amount_due     numeric(18, 2) NOT NULL DEFAULT 0,
    currency       text NOT NULL,
    issued_at      timestamptz NOT NULL,
    detail         jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX statements_deal_idx ON statements (deal_id, issued_at);

-- Append-only audit log; idempotency_key dedupes activity retries.
CREATE TABLE audit_log (
    id               bigserial PRIMARY KEY,
    at               timestamptz NOT NULL DEFAULT now(),
    actor            text NOT NULL,
    action           text NOT NULL,
    deal_id          text,
    workflow_id      text,
    subject          text,
    detail           jsonb NOT NULL DEFAULT '{}'::jsonb,
    idempotency_key  text UNIQUE
);
CREATE INDEX audit_log_deal_idx ON audit_log (deal_id, id);

-- Bearer tokens: only a SHA-256 hash of the token is stored.
CREATE TABLE api_tokens (
    token_id     text PRIMARY KEY,
    token_hash   text NOT NULL UNIQUE,
    user_name    text NOT NULL,
    roles        text[] NOT NULL,
    partner_id   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);

-- Outbox of notifications (reminders, escalations, partner messages).
CREATE TABLE notifications (
    id               bigserial PRIMARY KEY,
    idempotency_key  text NOT NULL UNIQUE,
    recipient        text NOT NULL,
    channel          text NOT NULL DEFAULT 'email',
    kind             text NOT NULL,
    subject          text NOT NULL,
    body             text NOT NULL DEFAULT '',
    deal_id          text,
    workflow_id      text,
    status           text NOT NULL DEFAULT 'pending',
    created_at       timestamptz NOT NULL DEFAULT now(),
    sent_at          timestamptz
);
CREATE INDEX notifications_pending_idx ON notifications (status, id);

-- Signature envelopes (local provider keeps them here; remote providers mirror status).
CREATE TABLE signature_envelopes (
    envelope_id      text PRIMARY KEY,
    idempotency_key  text NOT NULL UNIQUE,
    deal_id          text NOT NULL,
    workflow_id      text NOT NULL,
    provider         text NOT NULL,
    status           text NOT NULL DEFAULT 'sent',
    signatories      jsonb NOT NULL,
    signed_by        jsonb NOT NULL DEFAULT '[]'::jsonb,
    document         jsonb NOT NULL DEFAULT '{}'::jsonb,
    events           jsonb NOT NULL DEFAULT '[]'::jsonb,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX signature_envelopes_deal_idx ON signature_envelopes (deal_id);

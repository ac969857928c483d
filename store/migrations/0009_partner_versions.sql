-- Every version of a partner's profile: a resubmission during partner approval stores the
-- revised profile (with the licensor's evaluation and risk flags kept) as the next version;
-- the version it replaces is kept too. Existing profiles start as their current version.
CREATE TABLE partner_versions (
    partner_id       text NOT NULL REFERENCES partners (partner_id),
    version          integer NOT NULL,
    profile          jsonb NOT NULL,
    submitted_by     text NOT NULL,
    deal_id          text,
    workflow_id      text,
    idempotency_key  text UNIQUE,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (partner_id, version)
);

INSERT INTO partner_versions (partner_id, version, profile, submitted_by, created_at)
SELECT partner_id, version, profile || jsonb_build_object('version', version), created_by,
       updated_at
FROM partners;

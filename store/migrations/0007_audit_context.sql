-- Who acted from where: the API token and the client address (after trusted proxies) of
-- every row written by the API; NULL for rows written by workflows and workers, and on
-- rows from before this migration. Denied attempts are `access.denied` rows.
ALTER TABLE audit_log
    ADD COLUMN token_id  text,
    ADD COLUMN client_ip inet;
CREATE INDEX audit_log_token_idx ON audit_log (token_id, id) WHERE token_id IS NOT NULL;

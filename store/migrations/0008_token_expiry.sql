-- Tokens expire: every token gets `expires_at` (90 days from issue unless its TTL says
-- otherwise); tokens issued before this migration get 90 days from now. `created_by` is who
-- issued it (an admin user, or "cli"/"dev"). An expired token is refused like an unknown one.
ALTER TABLE api_tokens ADD COLUMN expires_at timestamptz;
UPDATE api_tokens SET expires_at = now() + interval '90 days' WHERE expires_at IS NULL;
ALTER TABLE api_tokens
    ALTER COLUMN expires_at SET DEFAULT now() + interval '90 days',
    ALTER COLUMN expires_at SET NOT NULL;
ALTER TABLE api_tokens ADD COLUMN created_by text;
CREATE INDEX api_tokens_user_idx ON api_tokens (user_name, created_at);

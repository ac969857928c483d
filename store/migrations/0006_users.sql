-- The users directory: every person who acts (tokens belong to users). Partner users are
-- bound to their partner. Existing token holders become users (their roles merged).
CREATE TABLE users (
    user_name     text PRIMARY KEY,
    display_name  text NOT NULL,
    roles         text[] NOT NULL CHECK (cardinality(roles) > 0),
    partner_id    text,
    active        boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CHECK ((partner_id IS NOT NULL) = ('partner' = ANY (roles)))
);
CREATE INDEX users_partner_idx ON users (partner_id) WHERE partner_id IS NOT NULL;

INSERT INTO users (user_name, display_name, roles, partner_id)
SELECT user_name, user_name,
       ARRAY(SELECT DISTINCT r FROM api_tokens t2, unnest(t2.roles) r
             WHERE t2.user_name = t.user_name ORDER BY r),
       max(partner_id)
FROM api_tokens t
GROUP BY user_name
ON CONFLICT DO NOTHING;

ALTER TABLE api_tokens
    ADD CONSTRAINT api_tokens_user_fk FOREIGN KEY (user_name) REFERENCES users (user_name);

-- Fencing token of the notification outbox (workers/outbox.py): `claims` counts the claims of a
-- row and is never decreased, so a dispatcher whose lease ran out (and whose row another
-- dispatcher claimed since) can no longer renew, release, or record a result for it.
ALTER TABLE notifications ADD COLUMN claims bigint NOT NULL DEFAULT 0;

-- Delivery state of the notification outbox (workers/outbox.py drains it).
-- attempts: deliveries started (counted when claimed); next_attempt_at: when the row is due
-- again (backoff after a failure, or the lease of a worker delivering it right now).
ALTER TABLE notifications
    ADD COLUMN attempts        integer NOT NULL DEFAULT 0,
    ADD COLUMN last_error      text,
    ADD COLUMN next_attempt_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX notifications_due_idx ON notifications (next_attempt_at, id)
    WHERE status = 'pending';
-- GET /v1/notifications: a recipient's rows, newest first.
CREATE INDEX notifications_recipient_idx ON notifications (recipient, id DESC);
-- Address resolution: the partner whose contact user a notification is for.
CREATE INDEX partners_contact_user_idx ON partners ((profile->>'contact_user'));

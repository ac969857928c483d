-- Statements become invoices: five kinds, the unlicensed royalty, a due date, a gap-free
-- invoice number per licensor (store/statements.py `insert`), a payment status, payments.
ALTER TABLE statements DROP CONSTRAINT statements_kind_check;
ALTER TABLE statements
    ADD CONSTRAINT statements_kind_check
        CHECK (kind IN ('period', 'adjustment', 'credit_note', 'true_up', 'final')),
    ADD COLUMN unlicensed_royalty numeric NOT NULL DEFAULT 0,
    ADD COLUMN due_at timestamptz,
    -- <licensor>-<6+ digits>; NULL when amount_due is 0 (nothing to invoice) and for
    -- statements issued before this migration (never sent as numbered invoices).
    ADD COLUMN invoice_number text UNIQUE,
    ADD COLUMN status text NOT NULL DEFAULT 'open'
        CHECK (status IN ('open', 'paid', 'void')),
    ADD COLUMN paid_at timestamptz,
    -- when the partner was last reminded of this overdue invoice (workers/overdue.py)
    ADD COLUMN reminded_at timestamptz,
    ADD CONSTRAINT statements_unlicensed_minor_units CHECK (scale(unlicensed_royalty) <= 3),
    ADD CONSTRAINT statements_unlicensed_bounded CHECK (abs(unlicensed_royalty) < 1e16);

-- Older statements: due 30 days after issue (the default payment terms); nothing owed = paid.
UPDATE statements SET due_at = issued_at + interval '30 days';
UPDATE statements SET status = 'paid', paid_at = issued_at WHERE amount_due = 0;
ALTER TABLE statements
    ALTER COLUMN due_at SET NOT NULL,
    ADD CONSTRAINT statements_due_after_issue CHECK (due_at >= issued_at),
    ADD CONSTRAINT statements_zero_not_invoiced CHECK (amount_due <> 0 OR invoice_number IS NULL),
    ADD CONSTRAINT statements_paid_at CHECK ((status = 'paid') = (paid_at IS NOT NULL));
-- GET /v1/statements?status=overdue and the reminder sweep: open statements by due date.
CREATE INDEX statements_open_due_idx ON statements (due_at, statement_id) WHERE status = 'open';

-- Money received against a statement (negative for a credit note: money paid back).
-- One row per (statement, reference): the same payment posted twice is stored once.
CREATE TABLE payments (
    id            bigserial PRIMARY KEY,
    statement_id  text NOT NULL REFERENCES statements (statement_id),
    amount        numeric NOT NULL,
    received_at   timestamptz NOT NULL,
    reference     text NOT NULL,
    recorded_by   text NOT NULL,
    recorded_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (statement_id, reference),
    CONSTRAINT payments_amount_minor_units CHECK (scale(amount) <= 3),
    CONSTRAINT payments_amount_bounded CHECK (abs(amount) < 1e16 AND amount <> 0)
);

-- The last invoice number given per licensor. Bumped under its row lock in the transaction
-- that inserts the statement, so numbers are sequential and a rollback leaves no gap
-- (a SEQUENCE would skip the numbers of rolled-back transactions).
CREATE TABLE invoice_counters (
    licensor     text PRIMARY KEY,
    last_number  bigint NOT NULL CHECK (last_number >= 1)
);

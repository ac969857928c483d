-- The read model: what GET /v1/deals/{id}, GET /v1/deals and GET /v1/tasks answer from,
-- kept current by the workflows themselves (activities/read_model.py, one write per
-- workflow activation at most, compact deltas). Temporal stays the source of truth.
--
-- Ordering: every write of a workflow carries its sequence number (`rm_seq` of the deal,
-- `seq` of a partner approval), counting up across continue-as-new; a write older than the
-- stored one changes nothing, so a retried or late write never regresses a row.

-- The deal row: NULL `rm_seq` = the deal has never been written by the read-model writer
-- (a run started before patch `read-model`): the API asks the live workflow instead.
ALTER TABLE deals
    ADD COLUMN rm_seq             bigint,
    ADD COLUMN run_id             text,
    ADD COLUMN view               jsonb,   -- the `state` view without its lists (below)
    ADD COLUMN health             text,
    ADD COLUMN pending_approvers  text[] NOT NULL DEFAULT '{}',  -- every open task's assignees
    ADD COLUMN history_from       bigint,  -- number of the first history entry in the view
    ADD COLUMN statement_ids      text[] NOT NULL DEFAULT '{}',  -- the view's statements, in order
    ADD COLUMN pending_statements jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- statements the view lists that `statements` does not hold as the workflow made them
    -- (not stored yet, or made without a due date by runs before year books), by id
    ADD COLUMN closed_at          timestamptz;  -- when the deal reached a final stage

CREATE INDEX deals_newest_idx ON deals (created_at DESC, deal_id);
CREATE INDEX deals_pending_approvers_idx ON deals USING gin (pending_approvers);
-- open deals the read model does not cover (rollout: lists and the inbox ask Temporal then)
CREATE INDEX deals_unpublished_idx ON deals (deal_id)
    WHERE rm_seq IS NULL AND stage NOT IN ('completed', 'terminated', 'cancelled');

-- A partner approval's head: its sequence guard and status.
CREATE TABLE approval_read_models (
    workflow_id  text PRIMARY KEY,
    deal_id      text NOT NULL,
    partner_id   text NOT NULL,
    status       text NOT NULL,
    seq          bigint NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX approval_read_models_deal_idx ON approval_read_models (deal_id);

-- Open tasks of deals and partner approvals (closed ones are deleted): the inbox is
-- `WHERE $user = ANY(assignees)`. `task` is the task as the workflow's `state` shows it.
CREATE TABLE deal_tasks (
    task_id      text PRIMARY KEY,
    workflow_id  text NOT NULL,
    deal_id      text NOT NULL,
    kind         text NOT NULL,
    assignees    text[] NOT NULL,
    title        text NOT NULL,
    opened_at    timestamptz NOT NULL,
    due_at       timestamptz NOT NULL,  -- also the reminder; escalation at twice the SLA
    position     integer NOT NULL,      -- order among the workflow's open tasks
    task         jsonb NOT NULL
);
CREATE INDEX deal_tasks_assignees_idx ON deal_tasks USING gin (assignees);
CREATE INDEX deal_tasks_workflow_idx ON deal_tasks (workflow_id, position);

-- A deal's period records, one row per period, upserted when the record changes.
CREATE TABLE deal_periods (
    deal_id  text NOT NULL,
    period   integer NOT NULL,
    record   jsonb NOT NULL,
    PRIMARY KEY (deal_id, period)
);

-- A deal's history entries, append-only, numbered from 1 across runs; the view shows those
-- from `deals.history_from` on (the window the workflow keeps).
CREATE TABLE deal_history (
    deal_id  text NOT NULL,
    n        bigint NOT NULL,
    entry    jsonb NOT NULL,
    PRIMARY KEY (deal_id, n)
);

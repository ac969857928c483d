-- When the deal workflow was signalled about a stored sales report. NULL = persisted but the
-- signal has not (yet) been delivered: an identical resubmission re-sends it, and
-- `store.sales.unsignalled` lists the rows a reconciliation must re-send.
ALTER TABLE sales_reports ADD COLUMN signalled_at timestamptz;
CREATE INDEX sales_reports_unsignalled_idx ON sales_reports (submitted_at)
    WHERE signalled_at IS NULL;

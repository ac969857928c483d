-- The rights ledger: licensable properties and one grant row per licensed cell
-- (property, category, territory, channel) of a deal. No two conflicting grants can coexist:
-- the exclusion constraint below is the rule itself, so no race of concurrent deals (two
-- workers, two plan approvals at once) can grant an exclusive cell twice.
CREATE EXTENSION IF NOT EXISTS btree_gist;  -- `=` on text columns inside a GiST exclusion

CREATE TABLE properties (
    property_id  text PRIMARY KEY,
    name         text NOT NULL,
    owner        text NOT NULL REFERENCES users (user_name),  -- the licensor-side owner
    categories   text[] NOT NULL CHECK (cardinality(categories) > 0),  -- lower case
    territories  text[] NOT NULL CHECK (cardinality(territories) > 0), -- ISO alpha-2, upper
    channels     text[] NOT NULL CHECK (cardinality(channels) > 0),    -- lower case
    available    tstzrange NOT NULL CHECK (NOT isempty(available) AND NOT lower_inf(available)),
    -- [from, to): when the licensor may license it; an unbounded upper end: no end date
    created_by   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE grants (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    property_id   text NOT NULL REFERENCES properties (property_id),
    deal_id       text NOT NULL,
    partner_id    text,  -- the licensee; none while the plan is reserved before a partner
    category      text NOT NULL,
    territory     text NOT NULL,  -- one country (regions are expanded before they get here)
    channel       text NOT NULL,
    during        tstzrange NOT NULL,
    exclusive     boolean NOT NULL,
    -- An exclusive grant conflicts with every overlapping grant of its cell; non-exclusive
    -- grants coexist. One constraint says both: an exclusive row claims every value (the
    -- unbounded range), a non-exclusive one only a value of its own (its id), so two rows
    -- overlap here unless both are non-exclusive.
    exclusivity   int8range GENERATED ALWAYS AS (
        CASE WHEN exclusive THEN '(,)'::int8range ELSE int8range(id, id + 1) END
    ) STORED,
    status        text NOT NULL CHECK (status IN ('reserved', 'active', 'released')),
    plan_version  integer NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    released_at   timestamptz,
    CHECK ((status = 'released') = (released_at IS NOT NULL)),
    -- a deal holds a cell once: renewal and amendments update its row
    UNIQUE (deal_id, property_id, category, territory, channel),
    CONSTRAINT grants_no_conflict EXCLUDE USING gist (
        property_id WITH =,
        category WITH =,
        territory WITH =,
        channel WITH =,
        during WITH &&,
        exclusivity WITH &&
    ) WHERE (status <> 'released')
);
CREATE INDEX grants_property_idx ON grants (property_id, status, deal_id);

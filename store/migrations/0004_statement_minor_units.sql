-- Statement amounts keep the scale of their currency's minor unit (EUR 2, JPY 0, BHD 3
-- decimals): unconstrained numeric stores each value exactly as issued; the checks bound it.
ALTER TABLE statements
    ALTER COLUMN net_sales TYPE numeric,
    ALTER COLUMN royalty_earned TYPE numeric,
    ALTER COLUMN guaranteed_due TYPE numeric,
    ALTER COLUMN amount_due TYPE numeric,
    ADD CONSTRAINT statements_amounts_minor_units CHECK (
        scale(net_sales) <= 3 AND scale(royalty_earned) <= 3
        AND scale(guaranteed_due) <= 3 AND scale(amount_due) <= 3
    ),
    ADD CONSTRAINT statements_amounts_bounded CHECK (
        abs(net_sales) < 1e16 AND abs(royalty_earned) < 1e16
        AND abs(guaranteed_due) < 1e16 AND abs(amount_due) < 1e16
    );
